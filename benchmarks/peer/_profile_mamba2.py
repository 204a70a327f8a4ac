"""Per-phase timing of the PyTorch peer's Mamba-2 layer forward (the counterpart of `Ssm.Benchmarks profile layer`):
in_proj, conv1d+SiLU, softplus, ssd_minimal (+ D·x), gated RMSNorm, out_proj; median over --reps rounds, in ms.

usage: python3 benchmarks/peer/_profile_mamba2.py [--threads 1] [--batch 1] [--length 4096] [--d-model 768] [--d-state 128]
(set OPENBLAS_CORETYPE / OPENBLAS_NUM_THREADS like compare.sh does)
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from _mamba2_torch import Mamba2Block, gated_rmsnorm, ssd_scan

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--batch", type=int, default=1)
ap.add_argument("--length", type=int, default=4096)
ap.add_argument("--d-model", type=int, default=768)
ap.add_argument("--d-state", type=int, default=128)
ap.add_argument("--chunk", type=int, default=64)
ap.add_argument("--reps", type=int, default=5)
args = ap.parse_args()
torch.set_num_threads(args.threads)
b, l, n = args.batch, args.length, args.d_state
blk = Mamba2Block(args.d_model, n, chunk=args.chunk)
u = torch.randn(b, l, args.d_model)


def one_round():
    t = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        r = fn()
        t[name] = t.get(name, 0.0) + (time.perf_counter() - t0) * 1e3
        return r

    with torch.no_grad():
        zxbcdt = timed("in_proj", lambda: blk.in_proj(u))
        z, xBC, dt = torch.split(zxbcdt, [blk.d_inner, blk.conv_dim, blk.nheads], dim=-1)
        xBC = timed("conv1d+SiLU", lambda: F.silu(blk.conv1d(xBC.transpose(1, 2))[..., :l].transpose(1, 2)))
        x, B, C = torch.split(xBC, [blk.d_inner, n, n], dim=-1)
        dt = timed("softplus(dt + bias), a", lambda: F.softplus(dt + blk.dt_bias))
        A = -torch.exp(blk.A_log)
        x = x.reshape(b, l, blk.nheads, blk.headdim)
        y, _ = timed("ssd_minimal + D·x", lambda: ssd_scan(x, dt, A, B, C, blk.D, blk.chunk))
        normed = timed("gated RMSNorm", lambda: gated_rmsnorm(y.reshape(b, l, -1), z, blk.norm_weight))
        timed("out_proj", lambda: blk.out_proj(normed))
    return t


one_round()
rounds = [one_round() for _ in range(args.reps)]
print(f"PyTorch layer forward B{b} L{l} d{args.d_model} N{n}, threads {args.threads}, median of {args.reps}")
print("| phase | median ms |")
print("|---|---:|")
for name in rounds[0]:
    print(f"| {name} | {statistics.median(r[name] for r in rounds):.3f} |")
print(f"| sum | {statistics.median(sum(r.values()) for r in rounds):.3f} |")
