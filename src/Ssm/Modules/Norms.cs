using Ssm.Kernels;

namespace Ssm;

/// <summary>LayerNorm over the last dimension with affine weight and bias (like <c>torch.nn.LayerNorm</c>).</summary>
public sealed class LayerNorm : Module, IForward
{
    /// <summary>Creates the norm with weight 1 and bias 0.</summary>
    public LayerNorm(int dim, float eps = 1e-5f, bool bias = true, Device? device = null)
    {
        Guard.Positive("LayerNorm", nameof(dim), dim);
        Dim = dim;
        Eps = eps;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(new[] { dim }, device)));
        if (bias) Bias = RegisterParameter("bias", new Parameter(Tensor.Zeros(new[] { dim }, DType.Float32, device)));
    }

    /// <summary>Normalized width.</summary>
    public int Dim { get; }
    /// <summary>Variance epsilon.</summary>
    public float Eps { get; }
    /// <summary>Scale [dim].</summary>
    public Parameter Weight { get; }
    /// <summary>Shift [dim], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Normalizes x [..., dim].</summary>
    public Variable Forward(Variable x) => F.LayerNorm(x, Weight, Bias, Eps);

    /// <inheritdoc />
    public override string ToString() => $"LayerNorm({Dim}, eps={Eps})";
}

/// <summary>RMSNorm over the last dimension, y = x·rsqrt(mean(x²) + eps)·w (mamba_ssm / Llama; parameter <c>weight</c>).</summary>
public sealed class RmsNorm : Module, IForward
{
    /// <summary>Creates the norm with weight 1.</summary>
    public RmsNorm(int dim, float eps = 1e-5f, Device? device = null)
    {
        Guard.Positive("RmsNorm", nameof(dim), dim);
        Dim = dim;
        Eps = eps;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(new[] { dim }, device)));
    }

    /// <summary>Normalized width.</summary>
    public int Dim { get; }
    /// <summary>Epsilon inside the square root.</summary>
    public float Eps { get; }
    /// <summary>Scale [dim].</summary>
    public Parameter Weight { get; }

    /// <summary>Normalizes x [..., dim].</summary>
    public Variable Forward(Variable x) => F.RmsNorm(x, Weight, Eps);

    /// <inheritdoc />
    public override string ToString() => $"RmsNorm({Dim}, eps={Eps})";
}

/// <summary>
/// mamba_ssm's RMSNormGated (norm_before_gate = False): y = RMSNorm_group(x ⊙ SiLU(z))·w, the RMS taken over groups of
/// <see cref="GroupSize"/> channels (parameter <c>weight</c>).
/// </summary>
public sealed class GatedRmsNorm : Module
{
    /// <summary>Creates the norm with weight 1.</summary>
    public GatedRmsNorm(int dim, int groupSize, float eps = 1e-5f, Device? device = null)
    {
        Guard.Positive("GatedRmsNorm", nameof(dim), dim);
        Guard.That(groupSize > 0 && dim % groupSize == 0, "GatedRmsNorm", nameof(groupSize), $"group size {groupSize} must divide dim {dim}.");
        Dim = dim;
        GroupSize = groupSize;
        Eps = eps;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Ones(new[] { dim }, device)));
    }

    /// <summary>Normalized width.</summary>
    public int Dim { get; }
    /// <summary>Channels per RMS group.</summary>
    public int GroupSize { get; }
    /// <summary>Epsilon inside the square root.</summary>
    public float Eps { get; }
    /// <summary>Scale [dim].</summary>
    public Parameter Weight { get; }

    /// <summary>Normalizes x ⊙ SiLU(z), both [..., dim].</summary>
    public Variable Forward(Variable x, Variable z) => F.GatedRmsNorm(x, z, Weight, GroupSize, Eps);
}
