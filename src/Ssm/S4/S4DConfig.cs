using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>Initialization of the diagonal state matrix A of S4D (Gu et al., "On the Parameterization and Initialization of Diagonal State Space Models", section 4).</summary>
public enum S4DInit
{
    /// <summary>S4D-Lin: A_n = −½ + iπn.</summary>
    Lin,
    /// <summary>S4D-Inv: A_n = −½ + i(N/π)(N/(2n+1) − 1).</summary>
    Inv,
    /// <summary>S4D-Real: A_n = −(n+1).</summary>
    Real,
    /// <summary>S4D-LegS: A = the diagonal part Λ of the DPLR form of HiPPO-LegS, B = B̃ (folded into C; see <see cref="S4DKernel"/>).</summary>
    LegS,
}

/// <summary>How Δ is obtained from its parameter.</summary>
public enum DtTransform
{
    /// <summary>Δ = exp(log Δ) (s4d.py; parameter <c>log_dt</c> in S4D, <c>inv_dt</c> in S4).</summary>
    Exp,
    /// <summary>Δ = softplus(inv_dt) (s4.py's <c>dt_transform='softplus'</c>; parameter <c>inv_dt</c>).</summary>
    Softplus,
}

/// <summary>Hyper-parameters of an <see cref="S4D"/> layer, with s4d.py's defaults (d_state 64, Δ ~ exp(U[ln 0.001, ln 0.1]), S4D-Lin, ZOH, (B, H, L) layout).</summary>
public sealed record S4DConfig
{
    /// <summary>Model width H (channels).</summary>
    public int DModel { get; init; }
    /// <summary>State size N (N/2 complex modes per channel); must be even.</summary>
    public int DState { get; init; } = 64;
    /// <summary>Smallest initial Δ.</summary>
    public double DtMin { get; init; } = 0.001;
    /// <summary>Largest initial Δ.</summary>
    public double DtMax { get; init; } = 0.1;
    /// <summary>Initialization of A.</summary>
    public S4DInit Init { get; init; } = S4DInit.Lin;
    /// <summary>ZOH (s4d.py) or bilinear.</summary>
    public Discretization Discretization { get; init; } = Discretization.Zoh;
    /// <summary>Δ = exp(log_dt) (s4d.py) or softplus(inv_dt).</summary>
    public DtTransform DtTransform { get; init; } = DtTransform.Exp;
    /// <summary>Dropout after the activation, one mask per (batch, channel) tied over the sequence (s4d.py's DropoutNd).</summary>
    public float Dropout { get; init; }
    /// <summary>True: inputs and outputs are (B, H, L) (channel-first, s4d.py's default); false: (B, L, H).</summary>
    public bool Transposed { get; init; } = true;
    /// <summary>Two kernels (C has a leading dimension 2): one causal, one anti-causal over the flipped sequence (no step mode).</summary>
    public bool Bidirectional { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"S4DConfig: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(DState > 0 && DState % 2 == 0, $"d_state N must be a positive even number (N/2 conjugate pairs), got {DState}");
        Need(DtMin > 0 && DtMax >= DtMin, $"dt range must satisfy 0 < dt_min ≤ dt_max, got ({DtMin}, {DtMax})");
        Need(Dropout >= 0 && Dropout < 1, $"dropout must be in [0, 1), got {Dropout}");
    }
}
