using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: linear-time attention over vector-quantized keys.</summary>
public static partial class F
{
    /// <summary>
    /// Codebook attention (Transformer-VQ / LongVQ; <see cref="Kernels.CodebookAttention"/>): q, k̂ [B, H, T, D], v
    /// [B, H, T, V], the keys' int32 <paramref name="codes"/> [B, H, T] and the <paramref name="codebook"/> [S, D] or
    /// [H, S, D] they index (k̂ = codebook rows, e.g. from <see cref="VectorQuantize"/>). Each query sees the current and
    /// previous block of <paramref name="blockLength"/> positions exactly and earlier blocks through per-code aggregates,
    /// all under one softmax (scores scaled by <paramref name="scale"/>, default 1/√D); the result equals causal softmax
    /// attention over k̂ (full attention when not <paramref name="causal"/>). Output [B, H, T, V]. Gradients flow to q,
    /// v and k̂ (k̂ through the exact window only: cached keys are represented by the codebook, which gets no gradient).
    /// </summary>
    public static Variable CodebookAttention(Variable q, Variable kHat, Variable v, Tensor codes, Tensor codebook, int blockLength,
        bool causal = true, float? scale = null)
    {
        Tensor qd = q.Data, kd = kHat.Data, vd = v.Data;
        var forward = Kernels.CodebookAttention.Forward(qd, kd, vd, codes, codebook, blockLength, causal, scale);
        return Autograd.Record(forward.Output, "CodebookAttention", new[] { q, kHat, v }, g =>
        {
            var grads = Kernels.CodebookAttention.Backward(g, qd, kd, vd, codes, codebook, forward, blockLength, causal, scale,
                q.RequiresGrad, kHat.RequiresGrad, v.RequiresGrad);
            return new[] { grads.DQ, grads.DK, grads.DV };
        });
    }
}
