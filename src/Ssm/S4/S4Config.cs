namespace Ssm.S4;

/// <summary>
/// Hyper-parameters of an <see cref="S4Block"/> (the DPLR S4 layer), with the defaults of s4.py's standalone
/// <c>SSMKernelDPLR</c>/<c>S4Block</c>: d_state 64, HiPPO-LegS initialization (Im B̃ clipped to ±2), Δ ~ exp(U[ln 0.001,
/// ln 0.1]) with the exp transform, rank 1, one (A, B, P, Δ) per channel (n_ssm = H), (B, H, L) layout.
/// </summary>
public sealed record S4Config
{
    /// <summary>Model width H (channels).</summary>
    public int DModel { get; init; }
    /// <summary>State size N (N/2 complex modes per channel); must be even.</summary>
    public int DState { get; init; } = 64;
    /// <summary>Smallest initial Δ.</summary>
    public double DtMin { get; init; } = 0.001;
    /// <summary>Largest initial Δ.</summary>
    public double DtMax { get; init; } = 0.1;
    /// <summary>Δ = exp(inv_dt) (s4.py's standalone default) or softplus(inv_dt) (its configs' default).</summary>
    public DtTransform DtTransform { get; init; } = DtTransform.Exp;
    /// <summary>Clamp of Im B̃ at initialization (null: the exact HiPPO B̃).</summary>
    public double? BClip { get; init; } = 2.0;
    /// <summary>Kernel length the layer is set up for at its first forward pass (s4.py's <c>l_max</c>); null: the first input's length.</summary>
    public int? LMax { get; init; }
    /// <summary>Dropout after the activation (elementwise).</summary>
    public float Dropout { get; init; }
    /// <summary>True: inputs and outputs are (B, H, L) (channel-first, s4.py's default); false: (B, L, H).</summary>
    public bool Transposed { get; init; } = true;
    /// <summary>Two kernels (C [2, H, N/2, 2]): one causal, one anti-causal over the flipped sequence (no step mode).</summary>
    public bool Bidirectional { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"S4Config: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(DState > 0 && DState % 2 == 0, $"d_state N must be a positive even number (N/2 conjugate pairs), got {DState}");
        Need(DtMin > 0 && DtMax >= DtMin, $"dt range must satisfy 0 < dt_min ≤ dt_max, got ({DtMin}, {DtMax})");
        Need(BClip is null || BClip >= 0, $"B_clip must be non-negative, got {BClip}");
        Need(LMax is null || LMax > 0, $"l_max must be positive, got {LMax}");
        Need(Dropout >= 0 && Dropout < 1, $"dropout must be in [0, 1), got {Dropout}");
    }
}
