#!/usr/bin/env python3
"""Prints the side-by-side table of compare runs (JSON lines from the .NET compare mode and the peers in peer/).

usage: report.py RESULTS.jsonl [...]

Per (case, name, shape) and implementation, the time is the median over rounds of each round's median; "best" is
the fastest round's median (on a shared, noisy machine the best round shows what each side achieves undisturbed).
ratio = PyTorch time / Ssm time (> 1: Ssm faster). Fractions of the limit use the best round of the machine limits measured by
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


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
