"""Shared harness of the PyTorch peers: the same protocol as the .NET compare mode (Compare/CompareHarness.cs).

Warm up (one call, then until 3 calls and 1 s, or 3 s in all), then time --reps calls one by one with perf_counter
and report the median as one JSON line {impl, case, name, shape, median_ms, cpu_ms, throughput, unit, work, threads,
round} (cpu_ms: the median process CPU time, all threads). Shapes come from benchmarks/cases.json ("full", or "small"
with --small); --max-tokens skips shapes whose batch × length exceeds it; --where key=value,... keeps the shapes whose
listed keys have those values. Extra fields (e.g. peak_rss_mb from reset_peak_memory/peak_memory_mb) are passed to emit.
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
    p.add_argument("--max-tokens", type=int, default=None, help="skip shapes with batch × length above this")
    p.add_argument("--where", default=None, help="keep shapes whose listed keys have these values: key=value,...")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    global _max_tokens, _where
    _max_tokens = args.max_tokens
    _where = dict(kv.split("=", 1) for kv in args.where.split(",") if kv) if args.where else None
    return args


_max_tokens = None
_where = None


def _matches(s):
    # Token count as the .NET side counts it (CompareHarness.ShapeList): batch or b, times length or l.
    tokens = s.get("batch", s.get("b", 1)) * s.get("length", s.get("l", 1))
    if _max_tokens is not None and tokens > _max_tokens:
        return False
    return _where is None or all(k not in s or json.dumps(s[k]).strip('"') == v for k, v in _where.items())


def shapes(case, small):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cases.json")
    with open(path) as f:
        listed = json.load(f)[case]["small" if small else "full"]
    return [s for s in listed if _matches(s)]


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 == 1 else 0.5 * (values[n // 2 - 1] + values[n // 2])


_last_cpu = None


def measure(fn, reps):
    """Median wall time (seconds) of `reps` calls after a warm-up; the median process CPU time (all threads) of the
    same calls is kept for the next emit() (on a loaded machine a one-thread run's CPU time barely depends on load)."""
    global _last_cpu
    start, calls = time.perf_counter(), 0
    while calls < 1 or ((calls < 3 or time.perf_counter() - start < 1.0) and time.perf_counter() - start < 3.0):
        fn()
        calls += 1
    times, cpu = [], []
    for _ in range(max(1, reps)):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    _last_cpu = _median(cpu)
    return _median(times)


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


def emit(args, case, name, shape, median, work, unit, flops=None, **extra):
    """One result line; work is in unit × 1e9 per second (flops for GFLOP/s, bytes for GB/s, tokens × 1e9 for tok/s).
    flops (optional): floating-point operations of one call; extra: further fields such as peak_rss_mb."""
    record = {
        "impl": "torch", "case": case, "name": name, "shape": shape, "median_ms": round(median * 1e3, 6),
        "cpu_ms": round(_last_cpu * 1e3, 6) if _last_cpu is not None else None,
        "throughput": round(work / median / 1e9, 3), "unit": unit, "work": work, "threads": torch.get_num_threads(),
        "round": args.round, **{k: v for k, v in extra.items() if v is not None},
    }
    if flops is not None:
        record["flops"] = flops
    line = json.dumps(record)
    print(line, flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(line + "\n")
