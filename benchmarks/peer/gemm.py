"""PyTorch peer of the "gemm" compare case: torch.matmul(a, op(b), out=c) on the shapes of cases.json."""
import torch

from common import emit, measure, parse_args, shapes

args = parse_args(__doc__)
torch.manual_seed(1)
for s in shapes("gemm", args.small):
    m, n, k, trans_b = s["m"], s["n"], s["k"], s["trans_b"]
    a = torch.randn(m, k)
    b = torch.randn(n, k) if trans_b else torch.randn(k, n)
    bop = b.t() if trans_b else b
    c = torch.empty(m, n)
    median = measure(lambda: torch.matmul(a, bop, out=c), args.reps)
    emit(args, "gemm", "matmul_bt" if trans_b else "matmul", f"{m}x{n}x{k}", median, 2.0 * m * n * k, "GFLOP/s")
