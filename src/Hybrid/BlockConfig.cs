namespace Ssm.Hybrid;

/// <summary>Normalization of a residual block.</summary>
public enum NormKind
{
    /// <summary>RMSNorm (mamba_ssm's rms_norm = true, Llama).</summary>
    RmsNorm,
    /// <summary>LayerNorm with bias (GPT-2).</summary>
    LayerNorm,
}

/// <summary>The feed-forward network of a residual block.</summary>
public enum MlpKind
{
    /// <summary>fc2(GELU(fc1(x))) (GPT-2, flash_attn's Mlp).</summary>
    Gelu,
    /// <summary>fc2(a ⊙ SiLU(g)) with [a | g] = fc1(x) (SwiGLU; mamba_ssm's GatedMLP, Llama).</summary>
    SwiGlu,
}

/// <summary>
/// The parts of a pre-norm residual block around its mixer (mamba_ssm's Block): the norm, the optional MLP after the
/// mixer (mamba_ssm's d_intermediate; 0 = none, as in pure Mamba models) and residual dropout.
/// </summary>
public sealed record BlockConfig
{
    /// <summary>RMSNorm or LayerNorm for <c>norm</c>, <c>norm2</c> and the final <c>norm_f</c>.</summary>
    public NormKind Norm { get; init; } = NormKind.RmsNorm;
    /// <summary>Norm epsilon (mamba_ssm's norm_epsilon).</summary>
    public double NormEps { get; init; } = 1e-5;
    /// <summary>Hidden width of the MLP after the mixer; 0: no MLP (mamba_ssm's d_intermediate; it rounds GatedMLP's width up to a multiple of 128, here it is used as given).</summary>
    public int DIntermediate { get; init; }
    /// <summary>GELU MLP or SwiGLU (gated) MLP.</summary>
    public MlpKind Mlp { get; init; } = MlpKind.SwiGlu;
    /// <summary>Biases in the MLP's fc1/fc2 (mamba_ssm's GatedMLP has none).</summary>
    public bool MlpBias { get; init; }
    /// <summary>Dropout probability on the mixer and MLP outputs before each residual add (training mode only).</summary>
    public float Dropout { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        if (!(NormEps > 0)) throw new ArgumentException($"BlockConfig: norm_epsilon must be positive, got {NormEps}.");
        if (DIntermediate < 0) throw new ArgumentException($"BlockConfig: d_intermediate must be ≥ 0, got {DIntermediate}.");
        if (!(Dropout >= 0f && Dropout < 1f)) throw new ArgumentException($"BlockConfig: dropout must be in [0, 1), got {Dropout}.");
    }
}
