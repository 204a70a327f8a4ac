"""PyTorch peer of the "mamba2" compare case: a Mamba-2 layer (_mamba2_torch.Mamba2Block: in_proj, conv1d, softplus,
ssd_minimal, gated RMSNorm, out_proj) forward (no grad) and forward+backward (all parameters and the input require
gradients; backward of a fixed random output gradient), throughput in tokens/s."""
import torch

from _mamba2_torch import Mamba2Block
from common import emit, measure, parse_args, shapes

args = parse_args(__doc__)
torch.manual_seed(5)
for s in shapes("mamba2", args.small):
    b, l, d, n = s["batch"], s["length"], s["d_model"], s["d_state"]
    shape = f"B{b} L{l} d{d} N{n} P{s['headdim']} Q{s['chunk']}"
    block = Mamba2Block(d, n, headdim=s["headdim"], chunk=s["chunk"])
    u = torch.randn(b, l, d)
    grad = torch.randn(b, l, d)

    def forward():
        with torch.no_grad():
            block(u)

    uv = u.clone().requires_grad_()

    def forward_backward():
        block.zero_grad(set_to_none=True)
        uv.grad = None
        block(uv).backward(grad)

    emit(args, "mamba2", "forward", shape, measure(forward, args.reps), b * l * 1e9, "tok/s")
    emit(args, "mamba2", "forward_backward", shape, measure(forward_backward, args.reps), b * l * 1e9, "tok/s")
