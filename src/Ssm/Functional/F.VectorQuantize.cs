using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: vector quantization with the straight-through estimator, and the commitment loss.</summary>
public static partial class F
{
    /// <summary>
    /// The straight-through estimator (Bengio et al. 2013; van den Oord et al. 2017): the value of
    /// <paramref name="value"/> with the gradient of the identity, passed unchanged to <paramref name="input"/>
    /// (like <c>x + (value − x).detach()</c> in PyTorch). Both have the same shape.
    /// </summary>
    public static Variable StraightThrough(Variable input, Tensor value)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(value);
        Guard.SameDevice("F.StraightThrough", input.Data, "input", value, "value");
        Guard.Shape("F.StraightThrough", value, "value", input.Shape, "(the input's shape)");
        return Autograd.Record(value, "StraightThrough", new[] { input }, g => new Tensor?[] { g });
    }

    /// <summary>
    /// Quantizes keys [..., D] to their nearest codewords of <paramref name="codebook"/> [S, D] (or keys [B, H, T, D]
    /// with a per-head codebook [H, S, D]; see <see cref="Kernels.VectorQuantize.Nearest"/>): returns k̂ = c_z with the
    /// straight-through gradient (dk = dk̂; the codebook gets none — learn it by EMA) and the int32 codes z.
    /// </summary>
    public static (Variable Quantized, Tensor Codes) VectorQuantize(Variable keys, Tensor codebook)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var (codes, quantized) = Kernels.VectorQuantize.Nearest(keys.Data, codebook);
        return (StraightThrough(keys, quantized), codes);
    }

    /// <summary>
    /// The VQ commitment loss β·mean over key rows of ‖k − sg(k̂)‖² (van den Oord et al. 2017): pulls the keys
    /// [..., D] toward their (constant) quantized values <paramref name="quantized"/>; a scalar.
    /// </summary>
    public static Variable CommitmentLoss(Variable keys, Tensor quantized, float beta = 1e-4f)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Guard.That(keys.Rank >= 1, "F.CommitmentLoss", nameof(keys), "keys is a scalar; expected [..., D].");
        Guard.Shape("F.CommitmentLoss", quantized, "quantized", keys.Shape, "(the keys' shape)");
        int rows = keys.Data.Length / Math.Max(keys.Size(-1), 1);
        return Scale(Sum(Square(Sub(keys, new Variable(quantized)))), rows == 0 ? 0f : beta / rows);
    }
}
