"""PyTorch peer of the "ssd_scan" compare case: the SSD scan alone, forward (_mamba2_torch.ssd_scan = ssd_minimal on
Δ·x and Δ·a, plus D·x), no grad. Bytes counted once each: x, Δ, B, C read, y and the final state written (the least
any implementation must move); flops those of the chunked algorithm (see Compare/Mamba2Compare.cs)."""
import torch

from _mamba2_torch import ssd_scan
from common import emit, measure, parse_args, shapes

args = parse_args(__doc__)
torch.manual_seed(7)
for s in shapes("ssd_scan", args.small):
    b, l, h, p, n, q = s["batch"], s["length"], s["heads"], s["headdim"], s["d_state"], s["chunk"]
    x = torch.randn(b, l, h, p)
    dt = torch.nn.functional.softplus(torch.randn(b, l, h) - 4)
    a = -torch.exp(torch.rand(h))
    B, C = torch.randn(b, l, n), torch.randn(b, l, n)
    D = torch.randn(h)

    def forward():
        with torch.no_grad():
            ssd_scan(x, dt, a, B, C, D, q)

    bytes_moved = 4.0 * (2 * b * l * h * p + b * l * h + 2 * b * l * n + b * h * p * n)
    # Chunked SSD multiply-adds per (token, head): Q/2·P (diagonal block) + 2·P·N (chunk state, state→output), plus
    # Q/2·N per (token, group) for C·Bᵀ.
    flops = 2.0 * b * l * (h * (q / 2 * p + 2 * p * n) + q / 2 * n)
    emit(args, "ssd_scan", "forward", f"B{b} L{l} H{h} P{p} N{n} Q{q}", measure(forward, args.reps), bytes_moved, "GB/s",
         flops=flops)
