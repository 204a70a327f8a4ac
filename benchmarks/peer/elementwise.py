"""PyTorch peer of the "elementwise" compare case: torch.add(a, b, out=c) (bytes: two reads and one write)."""
import torch

from common import emit, measure, parse_args, shapes

args = parse_args(__doc__)
torch.manual_seed(2)
ops = {"add": torch.add, "mul": torch.mul}
for s in shapes("elementwise", args.small):
    op, n = s["op"], s["n"]
    a, b, c = torch.randn(n), torch.randn(n), torch.empty(n)
    median = measure(lambda: ops[op](a, b, out=c), args.reps)
    emit(args, "elementwise", op, str(n), median, 3.0 * 4 * n, "GB/s")
