"""PyTorch peer of the "mamba2_step" compare case: recurrent decoding with _mamba2_torch.Mamba2Block.step (mamba_ssm's
Mamba2.step on its plain-PyTorch path), `steps` tokens per timed call, no grad; throughput in tokens/s."""
import torch

from _mamba2_torch import Mamba2Block
from common import emit, measure, parse_args, shapes

args = parse_args(__doc__)
torch.manual_seed(6)
for s in shapes("mamba2_step", args.small):
    b, d, n, steps = s["batch"], s["d_model"], s["d_state"], s["steps"]
    block = Mamba2Block(d, n, headdim=s["headdim"])
    conv_state, ssm_state = block.allocate_state(b)
    xs = torch.randn(steps, b, d)

    def decode():
        with torch.no_grad():
            for t in range(steps):
                block.step(xs[t], conv_state, ssm_state)

    emit(args, "mamba2_step", "step", f"B{b} d{d} N{n} P{s['headdim']}", measure(decode, args.reps),
         b * steps * 1e9, "tok/s")
