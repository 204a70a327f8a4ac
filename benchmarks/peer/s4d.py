"""PyTorch peer of the "s4d" compare case: the S4D layer of state-spaces/s4 models/s4/s4d.py (S4D-Lin, ZOH, (B, H, L)).

Kernel: dtA = Δ·A, K = 2·Re einsum(C·(exp(dtA) − 1)/A, exp(dtA[..., None] · arange(L))) (the H×N/2×L Vandermonde
tensor, as s4d.py forms it); y = irfft(rfft(u, 2L)·rfft(K, 2L))[..., :L] + D·u; GELU; Conv1d(H, 2H, 1); GLU over the
channels. Forward under no_grad; forward+backward with the seed gradient dy (the gradient of loss = Σ y·dy) into x and
every parameter. Throughput in K tokens/s (B·L per call; work = tokens × 1e6, as in Compare/S4DCompare.cs).
"""
import math

import torch
import torch.nn as nn

from common import emit, measure, parse_args, shapes


class S4DKernel(nn.Module):
    def __init__(self, h, n, dt_min=0.001, dt_max=0.1):
        super().__init__()
        self.log_dt = nn.Parameter(torch.rand(h) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.C = nn.Parameter(torch.view_as_real(torch.randn(h, n // 2, dtype=torch.cfloat)))
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(h, n // 2)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(n // 2).float().expand(h, -1).clone())

    def forward(self, length):
        dt = torch.exp(self.log_dt)
        c = torch.view_as_complex(self.C)
        a = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dta = a * dt.unsqueeze(-1)
        powers = dta.unsqueeze(-1) * torch.arange(length)
        c = c * (torch.exp(dta) - 1.0) / a
        return 2 * torch.einsum("hn,hnl->hl", c, torch.exp(powers)).real


class S4D(nn.Module):
    def __init__(self, h, n):
        super().__init__()
        self.D = nn.Parameter(torch.randn(h))
        self.kernel = S4DKernel(h, n)
        self.activation = nn.GELU()
        self.output_linear = nn.Sequential(nn.Conv1d(h, 2 * h, kernel_size=1), nn.GLU(dim=-2))

    def forward(self, u):
        length = u.size(-1)
        k = self.kernel(length)
        k_f = torch.fft.rfft(k, n=2 * length)
        u_f = torch.fft.rfft(u, n=2 * length)
        y = torch.fft.irfft(u_f * k_f, n=2 * length)[..., :length]
        y = y + u * self.D.unsqueeze(-1)
        return self.output_linear(self.activation(y))


args = parse_args(__doc__)
torch.manual_seed(1)
for s in shapes("s4d", args.small):
    b, h, n, l = s["b"], s["h"], s["n"], s["l"]
    shape = f"B={b} H={h} N={n} L={l}"
    layer = S4D(h, n)
    x = torch.randn(b, h, l, requires_grad=True)
    dy = torch.randn(b, h, l)

    def forward():
        with torch.no_grad():
            layer(x)

    def forward_backward():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).backward(dy)

    work = b * l * 1e6
    emit(args, "s4d", "forward", shape, measure(forward, args.reps), work, "Ktok/s")
    emit(args, "s4d", "forward_backward", shape, measure(forward_backward, args.reps), work, "Ktok/s")
    del layer, x, dy
