#!/usr/bin/env python3
"""Prints the side-by-side table of compare runs (JSON lines from the .NET compare mode and the peers in peer/).

usage: report.py RESULTS.jsonl [...]

Per (case, name, shape) and implementation, the time is the median over rounds of each round's median; "best" is
the fastest round's median (on a shared, noisy machine the best round shows what each side achieves undisturbed).
ratio = PyTorch time / Ssm time (> 1: Ssm faster). Fractions of the limit use the best round of the machine limits measured by
the .NET side: GFLOP/s against the FMA peak, GB/s against the STREAM-style triad bandwidth. Rows whose results carry a
"flops" count (memory-unit cases such as the SSD scan) get a second table with their GFLOP/s against the FMA peak. A
third table compares the median process CPU time per call (cpu_ms, all threads): on a loaded machine the CPU time of a
one-thread run barely depends on the load, while wall times of both sides swing with it.
"""
import json
import statistics
import sys
from collections import OrderedDict

LIMIT_FOR_UNIT = {"GFLOP/s": "fma_peak", "GB/s": "triad"}


def main(paths):
    rows = OrderedDict()
    limits = {}
    threads = set()
    rounds = set()
    for path in paths:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                threads.add(r["threads"])
                rounds.add(r["round"])
                if r["case"] == "limits":
                    limits.setdefault(r["name"], []).append(r)
                    continue
                key = (r["case"], r["name"], r["shape"])
                row = rows.setdefault(key, {"unit": r["unit"], "work": r["work"], "flops": r.get("flops"), "ssm": [], "torch": [],
                                            "cpu": {"ssm": [], "torch": []}})
                row[r["impl"]].append(r["median_ms"])
                if r.get("cpu_ms") is not None:
                    row["cpu"][r["impl"]].append(r["cpu_ms"])

    best = {name: max(x["throughput"] for x in rs) for name, rs in limits.items()}
    units = {name: rs[0]["unit"] for name, rs in limits.items()}

    def ms(values):
        return statistics.median(values) if values else None

    def fmt(x, digits=3):
        return "–" if x is None else f"{x:.{digits}f}"

    print(f"threads: {', '.join(map(str, sorted(threads)))}; rounds: {len(rounds)}; limits (best round): " +
          ", ".join(f"{n} {best[n]:.1f} {units[n]}" for n in sorted(best)))
    print()
    print("| case | op | shape | Ssm ms | PyTorch ms | PyTorch/Ssm | Ssm thrpt | PyTorch thrpt | Ssm % of limit | "
          "PyTorch % of limit | best: Ssm ms | best: PyTorch ms | best: PyTorch/Ssm | best: Ssm % of limit |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (case, name, shape), row in rows.items():
        unit = row["unit"]
        limit = best.get(LIMIT_FOR_UNIT.get(unit, ""))

        def cols(s, t):
            ts = row["work"] / s / 1e6 if s else None
            tt = row["work"] / t / 1e6 if t else None
            ratio = t / s if s and t else None
            pct = lambda x: fmt(100 * x / limit if x and limit else None, 0) + "%"
            return s, t, ratio, ts, tt, pct(ts), pct(tt)

        s, t, ratio, ts, tt, ps, pt = cols(ms(row["ssm"]), ms(row["torch"]))
        bs, bt, bratio, _, _, bps, _ = cols(min(row["ssm"], default=None), min(row["torch"], default=None))
        print(f"| {case} | {name} | {shape} | {fmt(s)} | {fmt(t)} | {fmt(ratio, 2)} | {fmt(ts, 1)} {unit} | "
              f"{fmt(tt, 1)} {unit} | {ps} | {pt} | {fmt(bs)} | {fmt(bt)} | {fmt(bratio, 2)} | {bps} |")

    flop_rows = [(key, row) for key, row in rows.items() if row["flops"]]
    if flop_rows:
        peak = best.get("fma_peak")
        print()
        print("| case | op | shape | Ssm GFLOP/s | PyTorch GFLOP/s | Ssm % of FMA peak | PyTorch % of FMA peak |")
        print("|---|---|---|---:|---:|---:|---:|")
        for (case, name, shape), row in flop_rows:
            s, t = ms(row["ssm"]), ms(row["torch"])
            fs = row["flops"] / s / 1e6 if s else None
            ft = row["flops"] / t / 1e6 if t else None
            pct = lambda x: fmt(100 * x / peak if x and peak else None, 0) + "%"
            print(f"| {case} | {name} | {shape} | {fmt(fs, 1)} | {fmt(ft, 1)} | {pct(fs)} | {pct(ft)} |")

    cpu_rows = [(key, row) for key, row in rows.items() if row["cpu"]["ssm"] and row["cpu"]["torch"]]
    if cpu_rows:
        print()
        print("| case | op | shape | Ssm CPU ms | PyTorch CPU ms | PyTorch/Ssm (CPU time) | best: Ssm CPU ms | best: PyTorch CPU ms | best: PyTorch/Ssm (CPU time) |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        for (case, name, shape), row in cpu_rows:
            s, t = ms(row["cpu"]["ssm"]), ms(row["cpu"]["torch"])
            bs, bt = min(row["cpu"]["ssm"]), min(row["cpu"]["torch"])
            print(f"| {case} | {name} | {shape} | {fmt(s)} | {fmt(t)} | {fmt(t / s if s else None, 2)} | "
                  f"{fmt(bs)} | {fmt(bt)} | {fmt(bt / bs if bs else None, 2)} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
