using Ssm.Kernels;

namespace Ssm;

/// <summary>y = x·Wᵀ + b over the last dimension, like <c>torch.nn.Linear</c> (parameters <c>weight</c> [out, in], <c>bias</c> [out]).</summary>
public sealed class Linear : Module, IForward
{
    /// <summary>Creates the layer with torch's default initialization (U[±1/√in] for weight and bias).</summary>
    public Linear(int inFeatures, int outFeatures, bool bias, Rng rng, Device? device = null)
    {
        Guard.Positive("Linear", nameof(inFeatures), inFeatures);
        Guard.Positive("Linear", nameof(outFeatures), outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Empty(new[] { outFeatures, inFeatures }, DType.Float32, device)));
        if (bias) Bias = RegisterParameter("bias", new Parameter(Tensor.Empty(new[] { outFeatures }, DType.Float32, device)));
        Init.LinearDefault(Weight.Data, Bias?.Data, rng);
    }

    /// <summary>Input width.</summary>
    public int InFeatures { get; }
    /// <summary>Output width.</summary>
    public int OutFeatures { get; }
    /// <summary>Weight [out, in].</summary>
    public Parameter Weight { get; }
    /// <summary>Bias [out], or null.</summary>
    public Parameter? Bias { get; }

    /// <summary>Applies the layer to x [..., in].</summary>
    public Variable Forward(Variable x)
    {
        if (x.Rank == 0 || x.Shape[^1] != InFeatures)
            throw new ArgumentException($"Linear.Forward: x has shape {Shapes.Format(x.Shape)}, expected [..., {InFeatures}] (in_features).", nameof(x));
        return F.Linear(x, Weight, Bias);
    }

    /// <inheritdoc />
    public override string ToString() => $"Linear(in={InFeatures}, out={OutFeatures}, bias={Bias is not null})";
}
