#!/usr/bin/env python3
"""Markdown tables of a GPU run: the parity checks (max relative error per op family) and the kernel timings of Ssm
(ssm-gpu.json from `Ssm.Benchmarks gpu`) next to the PyTorch-CUDA peer (torch-cuda.json from peer_cuda.py, optional).

usage: report_gpu.py ssm-gpu.json [torch-cuda.json]
"""
import json
import os
import sys


def main(ssm_path, torch_path=None):
    with open(ssm_path) as f:
        ssm = json.load(f)
    torch = {}
    if torch_path and os.path.exists(torch_path):
        with open(torch_path) as f:
            torch = {t["kernel"]: t for t in json.load(f).get("timings", [])}
    dev = ssm["device"]
    limits = ssm.get("nominal_limits") or {}
    print(f"device: {dev['name']} ({dev['ssm_device']}), {dev['multiprocessors']} SMs, {dev['memory_bytes'] / 2**30:.0f} GiB; "
          f"nominal HBM {limits.get('hbm_gb_s', '?')} GB/s, FP32 {limits.get('fp32_gflop_s', '?')} GFLOP/s; "
          f"measured copy {ssm.get('measured_copy_gb_s', '?')} GB/s; date {ssm['date']}{' (tiny sizes)' if ssm.get('tiny') else ''}")
    print()
    print(f"Parity vs the CPU backend: {len(ssm['parity']) - ssm['parity_failed']}/{len(ssm['parity'])} families pass")
    print()
    print("| family | ops | shape | max abs err | max rel err (of max abs value) | tolerance | pass |")
    print("|---|---|---|---:|---:|---:|---|")
    for p in ssm["parity"]:
        err = p.get("error")
        print(f"| {p['family']} | {p['op']} | {p['shape']} | {p.get('max_abs', float('nan')):.2e} | {p['max_rel']:.2e} | "
              f"{p['rtol']:.0e} | {'yes' if p['pass'] else 'NO' + (': ' + err if err else '')} |")
    if "timings" not in ssm:
        return
    print()
    print("| kernel | shape | Ssm ms | Ssm throughput | % of HBM / FP32 peak | % of measured copy | PyTorch ms | PyTorch/Ssm |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for t in ssm["timings"]:
        shape = " ".join(f"{k}={v}" for k, v in t["params"].items())
        frac = t.get("fraction_of_hbm", t.get("fraction_of_fp32_peak"))
        peer = torch.get(t["kernel"])
        ratio = peer["median_ms"] / t["median_ms"] if peer and t["median_ms"] else None
        extra = " (%.0f GFLOP/s)" % t["gflop_s"] if "gflop_s" in t else ""
        frac_s = "–" if frac is None else "%.1f%%" % (100 * frac)
        copy_s = "%.0f%%" % (100 * t["fraction_of_copy"]) if "fraction_of_copy" in t else "–"
        peer_s = "%.3f" % peer["median_ms"] if peer else "–"
        ratio_s = "%.2f" % ratio if ratio is not None else "–"
        print(f"| {t['kernel']} | {shape} | {t['median_ms']:.3f} | {t['throughput']:.1f} {t['unit']}{extra} | "
              f"{frac_s} | {copy_s} | {peer_s} | {ratio_s} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:3])
