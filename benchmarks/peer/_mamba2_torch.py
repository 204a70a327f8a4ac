"""Plain-PyTorch Mamba-2 on the CPU, the peer of Ssm's Mamba2 / SsdScan (not a compare case itself: imported by the
mamba2, mamba2_step and ssd_scan peers).

- ssd_minimal: the SSD chunked algorithm of "Transformers are SSMs" (Dao & Gu 2024, Listing 1; mamba_ssm's
  modules/ssd_minimal.py): intra-chunk diagonal blocks through exp(segment sums), chunk states, the inter-chunk state
  recurrence, and the state-to-output term, with segment sums formed as masked cumulative sums. One group (B and C
  shared by all heads, mamba_ssm's default ngroups=1).
- Mamba2Block: mamba_ssm's Mamba2 mixer around it (in_proj → z, xBC, dt; causal depthwise conv1d + SiLU; softplus(dt +
  dt_bias); A = −exp(A_log); y = SSD + D·x; gated RMSNorm RMSNorm(y ⊙ SiLU(z))·w; out_proj), same initialization.
- Mamba2Block.step: the recurrent decoding step of mamba_ssm's Mamba2.step on its plain-PyTorch path (no
  causal_conv1d_update / selective_state_update kernels): roll the conv state, einsum state update and readout.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def segsum(a):
    """out[..., i, j] = Σ_{j<k≤i} a[..., k] for j ≤ i, −inf above the diagonal (masked cumulative sums, stable)."""
    T = a.size(-1)
    rows = a[..., None].expand(*a.shape, T)  # rows[..., k, j] = a_k
    rows = rows.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool), diagonal=-1), 0)
    sums = torch.cumsum(rows, dim=-2)
    return sums.masked_fill(~torch.tril(torch.ones(T, T, dtype=torch.bool)), -torch.inf)


def ssd_minimal(X, A, B, C, chunk, initial_states=None):
    """X [b, l, h, p] (already Δ·x), A [b, l, h] (already Δ·a), B and C [b, l, n]; l a multiple of chunk.
    Returns Y [b, l, h, p] and the final state [b, h, p, n]."""
    b, l, h, p = X.shape
    n = B.shape[-1]
    assert l % chunk == 0, "ssd_minimal: length must be a multiple of the chunk"
    c = l // chunk
    X = X.reshape(b, c, chunk, h, p)
    B = B.reshape(b, c, chunk, n)
    C = C.reshape(b, c, chunk, n)
    A = A.reshape(b, c, chunk, h).permute(0, 3, 1, 2)  # b h c l
    A_cum = torch.cumsum(A, dim=-1)

    # 1. outputs of the diagonal (intra-chunk) blocks
    decay = torch.exp(segsum(A))  # b h c l s
    Y_diag = torch.einsum("bcln,bcsn,bhcls,bcshp->bclhp", C, B, decay, X)
    # 2. each chunk's own state
    decay_states = torch.exp(A_cum[..., -1:] - A_cum)  # b h c l
    states = torch.einsum("bcln,bhcl,bclhp->bchpn", B, decay_states, X)
    # 3. state recurrence across chunks
    if initial_states is None:
        initial_states = torch.zeros_like(states[:, :1])
    states = torch.cat([initial_states, states], dim=1)
    decay_chunk = torch.exp(segsum(F.pad(A_cum[..., -1], (1, 0))))  # b h (c+1) (c+1)
    new_states = torch.einsum("bhzc,bchpn->bzhpn", decay_chunk, states)
    states, final_state = new_states[:, :-1], new_states[:, -1]
    # 4. state → output of each chunk
    Y_off = torch.einsum("bcln,bchpn,bhcl->bclhp", C, states, torch.exp(A_cum))
    return (Y_diag + Y_off).reshape(b, l, h, p), final_state


def ssd_scan(x, dt, a, B, C, D, chunk):
    """The scan as Ssm's SsdScan.Forward takes it: x [b, l, h, p], Δ [b, l, h], a [h], B, C [b, l, n], D [h]."""
    y, final = ssd_minimal(x * dt[..., None], a * dt, B, C, chunk)
    return y + x * D[:, None], final


def gated_rmsnorm(y, z, weight, eps=1e-5):
    """RMSNorm(y ⊙ SiLU(z))·w over the last dimension (one group; mamba_ssm's RMSNormGated, norm_before_gate=False)."""
    y = y * F.silu(z)
    return y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + eps) * weight


class Mamba2Block(nn.Module):
    def __init__(self, d_model, d_state, headdim=64, expand=2, d_conv=4, chunk=64, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.d_inner = expand * d_model
        self.nheads = self.d_inner // headdim
        self.headdim, self.d_state, self.d_conv, self.chunk = headdim, d_state, d_conv, chunk
        self.conv_dim = self.d_inner + 2 * d_state
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner + 2 * d_state + self.nheads, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, padding=d_conv - 1)
        dt = torch.exp(torch.rand(self.nheads, generator=g) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        dt = dt.clamp(min=1e-4)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.empty(self.nheads).uniform_(1, 16, generator=g)))
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm_weight = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, u):
        b, l, _ = u.shape
        z, xBC, dt = torch.split(self.in_proj(u), [self.d_inner, self.conv_dim, self.nheads], dim=-1)
        xBC = F.silu(self.conv1d(xBC.transpose(1, 2))[..., :l].transpose(1, 2))
        x, B, C = torch.split(xBC, [self.d_inner, self.d_state, self.d_state], dim=-1)
        dt = F.softplus(dt + self.dt_bias)
        A = -torch.exp(self.A_log)
        x = x.reshape(b, l, self.nheads, self.headdim)
        y, _ = ssd_scan(x, dt, A, B, C, self.D, self.chunk)
        return self.out_proj(gated_rmsnorm(y.reshape(b, l, self.d_inner), z, self.norm_weight))

    def allocate_state(self, batch):
        return (torch.zeros(batch, self.conv_dim, self.d_conv),
                torch.zeros(batch, self.nheads, self.headdim, self.d_state))

    def step(self, u, conv_state, ssm_state):
        """u [b, d_model] → [b, d_model]; conv_state and ssm_state are updated in place."""
        b = u.shape[0]
        z, xBC, dt = torch.split(self.in_proj(u), [self.d_inner, self.conv_dim, self.nheads], dim=-1)
        conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
        conv_state[:, :, -1] = xBC
        xBC = F.silu(torch.sum(conv_state * self.conv1d.weight[:, 0, :], dim=-1) + self.conv1d.bias)
        x, B, C = torch.split(xBC, [self.d_inner, self.d_state, self.d_state], dim=-1)
        A = -torch.exp(self.A_log)
        dt = F.softplus(dt + self.dt_bias)
        dA = torch.exp(dt * A)
        x = x.reshape(b, self.nheads, self.headdim)
        dBx = torch.einsum("bh,bn,bhp->bhpn", dt, B, x)
        ssm_state.copy_(ssm_state * dA[:, :, None, None] + dBx)
        y = torch.einsum("bhpn,bn->bhp", ssm_state, C) + self.D[:, None] * x
        return self.out_proj(gated_rmsnorm(y.reshape(b, self.d_inner), z, self.norm_weight))
