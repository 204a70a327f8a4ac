"""Shared harness of the PyTorch peers: the same protocol as the .NET compare mode (Compare/CompareHarness.cs).

Warm up (at least 3 calls and 0.25 s), then time --reps calls one by one with perf_counter and report the median as
one JSON line {impl, case, name, shape, median_ms, throughput, unit, work, threads, round} (plus any extra fields, e.g.
peak_rss_mb from reset_peak_memory/peak_memory_mb). Shapes come from benchmarks/cases.json ("full", or "small" with
--small).
"""
import argparse
import json
import os
import time

import torch


def parse_args(description, add_arguments=None):
    """The shared options (and a case's own, added by add_arguments(parser))."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=int(os.environ.get("SSM_THREADS", os.cpu_count())))
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--round", type=int, default=0)
    p.add_argument("--small", action="store_true", help="tiny shapes (smoke run)")
    p.add_argument("--json", help="also append the JSON lines to this file")
    if add_arguments is not None:
        add_arguments(p)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    return args


def shapes(case, small):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cases.json")
    with open(path) as f:
        return json.load(f)[case]["small" if small else "full"]


def measure(fn, reps):
    """Median wall time (seconds) of `reps` calls after a warm-up."""
    start, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < 0.25:
        fn()
        calls += 1
    times = []
    for _ in range(max(1, reps)):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    n = len(times)
    return times[n // 2] if n % 2 == 1 else 0.5 * (times[n // 2 - 1] + times[n // 2])


def reset_peak_memory():
    """Resets the process's peak resident memory (Linux: VmHWM via /proc/self/clear_refs), like Compare/PeakMemory.cs."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_memory_mb():
    """Peak resident memory (MiB) since reset_peak_memory, or None where unsupported."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return None


def emit(args, case, name, shape, median, work, unit, **extra):
    line = json.dumps({
        "impl": "torch", "case": case, "name": name, "shape": shape, "median_ms": round(median * 1e3, 6),
        "throughput": round(work / median / 1e9, 3), "unit": unit, "work": work, "threads": torch.get_num_threads(),
        "round": args.round, **{k: v for k, v in extra.items() if v is not None},
    })
    print(line, flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(line + "\n")
