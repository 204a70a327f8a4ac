"""PyTorch peer of the "attention" compare case: softmax(scale·QKᵀ + mask)·V forward, and forward + backward, on the
shapes of cases.json (q, k, v [b, h, l, d]).

causal:  explicit matmuls with a precomputed boolean mask (the L×L scores are materialized: O(L²) time and memory;
         torch 1.13 has no fused scaled_dot_product_attention). Lengths above --max-full-len are skipped (memory/time).
sliding: the banded block form: queries in blocks of w attend to their block and the previous one (2w keys) under
         the window mask, O(L·w) time and memory — a fair linear-cost peer.
Work counts the useful (visible) pairs exactly as Compare/AttentionCompare.cs.
"""
import math
import os
import sys

import torch

from common import emit, measure, parse_args, peak_memory_mb, reset_peak_memory, shapes


def visible_pairs(length, window):
    w = min(window, length)
    return w * (w + 1) / 2 + (length - w) * w


def causal_attention(q, k, v, masked):
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    scores = scores.masked_fill(masked, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


def sliding_attention(q, k, v, w, band):
    b, h, l, d = q.shape
    n = (l + w - 1) // w
    pad = n * w - l
    if pad:
        q, k, v = (torch.nn.functional.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
    qb = q.reshape(b, h, n, w, d)
    kb = k.reshape(b, h, n, w, d)
    vb = v.reshape(b, h, n, w, d)
    zero = torch.zeros(b, h, 1, w, d, dtype=q.dtype)
    k2 = torch.cat([torch.cat([zero, kb[:, :, :-1]], dim=2), kb], dim=3)  # [b, h, n, 2w, d]: previous block, own block
    v2 = torch.cat([torch.cat([zero, vb[:, :, :-1]], dim=2), vb], dim=3)
    scores = torch.matmul(qb, k2.transpose(-1, -2)) * (1.0 / math.sqrt(d))  # [b, h, n, w, 2w]
    scores = scores.masked_fill(band, float("-inf"))
    out = torch.matmul(torch.softmax(scores, dim=-1), v2).reshape(b, h, n * w, d)
    return out[:, :, :l]


def band_mask(n, w):
    """True where hidden: query r of block i sees key c of [previous block, own block] iff r < c ≤ r + w (and block 0 has no previous block)."""
    r = torch.arange(w).view(w, 1)
    c = torch.arange(2 * w).view(1, 2 * w)
    hidden = ~((c > r) & (c <= r + w))
    mask = hidden.expand(n, w, 2 * w).clone()
    mask[0, :, :w] = True
    return mask


def main():
    args = parse_args(__doc__.splitlines()[0], lambda p: p.add_argument(
        "--max-full-len", type=int, default=int(os.environ.get("SSM_ATTENTION_MAX_FULL_LEN", 8192)),
        help="skip causal (materialized L×L) cases longer than this (default 8192, or $SSM_ATTENTION_MAX_FULL_LEN)"))
    torch.manual_seed(1)
    for s in shapes("attention", args.small):
        b, h, l, d, mask = s["b"], s["h"], s["l"], s["d"], s["mask"]
        w = s.get("window", 0)
        if mask == "causal" and l > args.max_full_len:
            print(f"attention.py: skipping causal L={l} (> --max-full-len {args.max_full_len}: the L×L scores need "
                  f"{b * h * l * l * 4 / 2**30:.1f} GiB per copy)", file=sys.stderr, flush=True)
            continue
        q, k, v, do = (torch.randn(b, h, l, d) for _ in range(4))
        if mask == "causal":
            masked = torch.ones(l, l, dtype=torch.bool).triu(1)
            fn = lambda q_, k_, v_: causal_attention(q_, k_, v_, masked)
            pairs = visible_pairs(l, l)
        else:
            band = band_mask((l + w - 1) // w, w)
            fn = lambda q_, k_, v_: sliding_attention(q_, k_, v_, w, band)
            pairs = visible_pairs(l, w)
        forward = 4.0 * b * h * d * pairs
        shape = f"L={l} B={b} H={h} D={d}" + (f" w={w}" if w else "")

        def fwd():
            with torch.no_grad():
                fn(q, k, v)

        qg, kg, vg = (t.clone().requires_grad_(True) for t in (q, k, v))

        def fwd_bwd():
            for t in (qg, kg, vg):
                t.grad = None
            fn(qg, kg, vg).backward(do)

        for name, run, work in ((f"{mask}_fwd", fwd, forward), (f"{mask}_fwd_bwd", fwd_bwd, 3.5 * forward)):
            reset_peak_memory()
            median = measure(run, args.reps)
            emit(args, "attention", name, shape, median, work, "GFLOP/s", peak_rss_mb=peak_memory_mb())
        del q, k, v, do, qg, kg, vg


if __name__ == "__main__":
    main()
