#!/usr/bin/env python3
"""PyTorch-CUDA peer of the GPU timings: runs every kernel of ssm-gpu.json (written by `Ssm.Benchmarks gpu`) with the
same parameters on torch's CUDA device in plain PyTorch (no Triton / mamba_ssm kernels: ssd_minimal for SSD, the
mamba_ssm einsum recurrence for steps, selective_scan_ref's sequential loop for the Mamba-1 scan), median of --reps
synchronized calls after a warm-up, float32, TF32 off. Writes {"device", "torch", "timings": [{kernel, params, median_ms}]}.

usage: peer_cuda.py --shapes ssm-gpu.json --out torch-cuda.json [--reps 10] [--device cpu (to check the script without a GPU)]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peer"))
from _mamba2_torch import Mamba2Block, ssd_scan  # noqa: E402

dev = torch.device("cuda")


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def median_time(fn, reps):
    fn()
    sync()
    times = []
    for _ in range(max(1, reps)):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    n = len(times)
    return times[n // 2] if n % 2 == 1 else 0.5 * (times[n // 2 - 1] + times[n // 2])


def randn(*shape):
    return torch.randn(*shape, device=dev)


def ssd_inputs(p):
    b, l, h, hp, n = p["batch"], p["length"], p["heads"], p["headdim"], p["d_state"]
    return (randn(b, l, h, hp), F.softplus(randn(b, l, h) - 4), -torch.exp(torch.rand(h, device=dev)),
            randn(b, l, n), randn(b, l, n), randn(h))


def kernel(name, p):
    """A no-argument callable running one call of kernel `name` with parameters p."""
    if name == "matmul":
        a, b, c = randn(p["m"], p["k"]), randn(p["k"], p["n"]), torch.empty(p["m"], p["n"], device=dev)
        return lambda: torch.matmul(a, b, out=c)
    if name == "add":
        a, b, c = randn(p["n"]), randn(p["n"]), torch.empty(p["n"], device=dev)
        return lambda: torch.add(a, b, out=c)
    if name == "softmax":
        x = randn(p["rows"], p["n"])
        return lambda: torch.softmax(x, -1)
    if name == "gated_rmsnorm":
        x, z, w = randn(p["rows"], p["dim"]), randn(p["rows"], p["dim"]), randn(p["dim"])

        def run():
            g = x * F.silu(z)
            return g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + 1e-5) * w
        return run
    if name == "conv1d":
        b, l, c, width = p["batch"], p["length"], p["channels"], p["width"]
        x, w, bias = randn(b, c, l), randn(c, 1, width), randn(c)  # channels-first, the layout conv1d wants
        return lambda: F.silu(F.conv1d(x, w, bias, padding=width - 1, groups=c)[..., :l])
    if name in ("ssd_forward", "ssd_backward"):
        x, dt, a, B, C, D = ssd_inputs(p)
        if name == "ssd_forward":
            def fwd():
                with torch.no_grad():
                    return ssd_scan(x, dt, a, B, C, D, p["chunk"])
            return fwd
        leaves = [t.requires_grad_() for t in (x, dt, a, B, C, D)]
        dy = randn(*x.shape)

        def fwd_bwd():
            for t in leaves:
                t.grad = None
            y, _ = ssd_scan(*leaves, p["chunk"])
            y.backward(dy)
        return fwd_bwd
    if name == "ssd_step":
        b, h, hp, n = p["batch"], p["heads"], p["headdim"], p["d_state"]
        state, x, dt, a, B, C, D = randn(b, h, hp, n), randn(b, h, hp), F.softplus(randn(b, h) - 4), -torch.rand(h, device=dev), \
            randn(b, n), randn(b, n), randn(h)

        def step():
            state.copy_(state * torch.exp(dt * a)[:, :, None, None] + torch.einsum("bh,bn,bhp->bhpn", dt, B, x))
            return torch.einsum("bhpn,bn->bhp", state, C) + D[:, None] * x
        return step
    if name == "selective_scan_forward":
        b, l, c, n = p["batch"], p["length"], p["channels"], p["d_state"]
        u, delta, A = randn(b, l, c), torch.rand(b, l, c, device=dev) * 0.1, -torch.rand(c, n, device=dev) * 7 - 1
        B, C = randn(b, l, n), randn(b, l, n)

        def scan():  # mamba_ssm's selective_scan_ref: a sequential loop over time
            dA = torch.exp(delta[..., None] * A)  # b l c n
            dBu = delta[..., None] * B[:, :, None, :] * u[..., None]
            s = torch.zeros(b, c, n, device=dev)
            ys = []
            for t in range(l):
                s = dA[:, t] * s + dBu[:, t]
                ys.append(torch.einsum("bcn,bn->bc", s, C[:, t]))
            return torch.stack(ys, 1)
        return scan
    if name == "attention_causal_forward":
        b, h, l, d = p["batch"], p["heads"], p["length"], p["headdim"]
        q, k, v = randn(b, h, l, d), randn(b, h, l, d), randn(b, h, l, d)
        if hasattr(F, "scaled_dot_product_attention"):
            return lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
        mask = torch.ones(l, l, device=dev, dtype=torch.bool).tril()
        return lambda: torch.softmax((q @ k.transpose(-1, -2) / d ** 0.5).masked_fill(~mask, float("-inf")), -1) @ v
    if name == "fft_conv":
        b, c, l = p["batch"], p["channels"], p["length"]
        u, k = randn(b, c, l), randn(c, l) * 0.05
        return lambda: torch.fft.irfft(torch.fft.rfft(u, n=2 * l) * torch.fft.rfft(k, n=2 * l), n=2 * l)[..., :l]
    if name in ("mamba2_forward", "mamba2_forward_backward"):
        block = Mamba2Block(p["d_model"], p["d_state"], headdim=p["headdim"], chunk=p["chunk"]).to(dev)
        u = randn(p["batch"], p["length"], p["d_model"])
        if name == "mamba2_forward":
            def fwd():
                with torch.no_grad():
                    return block(u)
            return fwd
        uv, grad = u.clone().requires_grad_(), randn(*u.shape)

        def fwd_bwd():
            block.zero_grad(set_to_none=True)
            uv.grad = None
            block(uv).backward(grad)
        return fwd_bwd
    if name == "mamba2_step":
        block = Mamba2Block(p["d_model"], p["d_state"], headdim=p["headdim"]).to(dev)
        conv_state, ssm_state = (s.to(dev) for s in block.allocate_state(p["batch"]))
        xs = randn(p["steps"], p["batch"], p["d_model"])

        def decode():
            with torch.no_grad():
                for t in range(p["steps"]):
                    block.step(xs[t], conv_state, ssm_state)
        return decode
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shapes", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    global dev
    dev = torch.device(args.device)
    with open(args.shapes) as f:
        ssm = json.load(f)
    torch.manual_seed(0)
    results = []
    for t in ssm.get("timings", []):
        fn = kernel(t["kernel"], t["params"])
        if fn is None:
            continue
        median = median_time(fn, args.reps)
        results.append({"kernel": t["kernel"], "params": t["params"], "median_ms": round(median * 1e3, 4)})
        print(f"torch {t['kernel']:<26} {median * 1e3:10.3f} ms", file=sys.stderr)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    name = torch.cuda.get_device_name(0) if dev.type == "cuda" else str(dev)
    with open(args.out, "w") as f:
        json.dump({"device": name, "torch": torch.__version__, "timings": results}, f, indent=2)


if __name__ == "__main__":
    main()
