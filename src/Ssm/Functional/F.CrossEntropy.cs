using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: the fused softmax cross-entropy loss.</summary>
public static partial class F
{
    /// <summary>
    /// Cross-entropy between <paramref name="logits"/> [..., classes] and integer <paramref name="targets"/> [...]
    /// (int32 or int64), like <c>torch.nn.functional.cross_entropy</c> with the classes in the last dimension. Rows whose
    /// target equals <paramref name="ignoreIndex"/> are skipped. <paramref name="reduction"/>: "mean" (over the
    /// non-ignored rows; 0 with zero gradient when all are ignored) or "sum" give a scalar (shape []), "none" one loss per
    /// row. <paramref name="labelSmoothing"/> ε mixes the one-hot target with the uniform distribution. The backward is
    /// one fused kernel (softmax − target)·g.
    /// </summary>
    public static Variable CrossEntropy(Variable logits, Tensor targets, int ignoreIndex = -100, string reduction = "mean", float labelSmoothing = 0f)
    {
        var mode = Kernels.CrossEntropy.ParseReduction(reduction);
        var xd = logits.Data;
        var result = Kernels.CrossEntropy.Forward(xd, targets, ignoreIndex, mode, labelSmoothing);
        var loss = Autograd.Record(result.Loss, "CrossEntropy", new[] { logits },
            g => new Tensor?[] { Kernels.CrossEntropy.Backward(xd, targets, result, g) });
        if (!loss.RequiresGrad)
        {
            result.LogSumExp.Dispose();
            result.ValidCount.Dispose();
        }
        return loss;
    }
}
