#!/usr/bin/env python3
"""Prints the side-by-side table of compare runs (JSON lines from the .NET compare mode and the peers in peer/).

usage: report.py RESULTS.jsonl [...]

Per (case, name, shape) and implementation, the time is the median over rounds of each round's median. ratio =
PyTorch time / Ssm time (> 1: Ssm faster). Fractions of the limit use the best round of the machine limits measured by
the .NET side: GFLOP/s against the FMA peak, GB/s against the STREAM-style triad bandwidth.
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
                row = rows.setdefault(key, {"unit": r["unit"], "work": r["work"], "ssm": [], "torch": []})
                row[r["impl"]].append(r["median_ms"])

    best = {name: max(x["throughput"] for x in rs) for name, rs in limits.items()}
    units = {name: rs[0]["unit"] for name, rs in limits.items()}

    def ms(values):
        return statistics.median(values) if values else None

    def fmt(x, digits=3):
        return "–" if x is None else f"{x:.{digits}f}"

    print(f"threads: {', '.join(map(str, sorted(threads)))}; rounds: {len(rounds)}; limits (best round): " +
          ", ".join(f"{n} {best[n]:.1f} {units[n]}" for n in sorted(best)))
    print()
    print("| case | op | shape | Ssm ms | PyTorch ms | PyTorch/Ssm | Ssm thrpt | PyTorch thrpt | Ssm % of limit | PyTorch % of limit |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (case, name, shape), row in rows.items():
        s, t = ms(row["ssm"]), ms(row["torch"])
        unit = row["unit"]
        ts = row["work"] / s / 1e6 if s else None
        tt = row["work"] / t / 1e6 if t else None
        limit = best.get(LIMIT_FOR_UNIT.get(unit, ""))
        ratio = t / s if s and t else None
        print(f"| {case} | {name} | {shape} | {fmt(s)} | {fmt(t)} | {fmt(ratio, 2)} | "
              f"{fmt(ts, 1)} {unit} | {fmt(tt, 1)} {unit} | "
              f"{fmt(100 * ts / limit if ts and limit else None, 0)}% | {fmt(100 * tt / limit if tt and limit else None, 0)}% |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
