using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// This file: scaled dot-product attention with a mask policy (one node with the fused FlashAttention-2 backward from
/// <see cref="Kernels.Attention"/>), rotary position embedding, and LM-Infinite's Λ-shaped attention with its distance limit.
/// </summary>
public static partial class F
{
    /// <summary>
    /// softmax(scale·q·kᵀ + mask)·v without materializing the score matrix: q [B, Hq, Lq, D], k [B, Hkv, Lk, D],
    /// v [B, Hkv, Lk, Dv] → [B, Hq, Lq, Dv]. Grouped-query attention when Hkv divides Hq. <paramref name="scale"/>
    /// defaults to 1/√D; <paramref name="queryOffset"/> is the absolute position of query row 0 (key j is at position j),
    /// e.g. Lk − 1 when decoding one token against a KV cache. Rows that see no key give 0.
    /// </summary>
    public static Variable Attention(Variable q, Variable k, Variable v, AttentionMask mask, float? scale = null, int queryOffset = 0)
    {
        float s = scale ?? DefaultAttentionScale(q);
        var r = Kernels.Attention.Forward(q.Data, k.Data, v.Data, mask, s, queryOffset);
        return Autograd.Record(r.Output, "Attention", new[] { q, k, v }, g =>
        {
            var grads = Kernels.Attention.Backward(q.Data, k.Data, v.Data, r.Output, r.Lse, g, mask, s, queryOffset,
                q.RequiresGrad, k.RequiresGrad || v.RequiresGrad);
            return new[] { grads.Dq, Keep(grads.Dk, k.RequiresGrad), Keep(grads.Dv, v.RequiresGrad) };
        });
    }

    /// <summary>
    /// Rotary position embedding of x [B, H, L, D] at positions <paramref name="offset"/> + l (see
    /// <see cref="Kernels.Rope"/>: half-split pairs as GPT-NeoX/HF Llama unless <paramref name="interleaved"/>; the first
    /// <paramref name="rotaryDim"/> channels, default D). The backward is the inverse rotation.
    /// </summary>
    public static Variable Rope(Variable x, int offset = 0, float @base = 10000f, int? rotaryDim = null, bool interleaved = false)
    {
        var y = Kernels.Rope.Apply(x.Data, offset, @base, rotaryDim, interleaved);
        return Autograd.Record(y, "Rope", new[] { x }, g => new Tensor?[] { Kernels.Rope.Backward(g, offset, @base, rotaryDim, interleaved) });
    }

    /// <summary>Rotary position embedding at explicit <paramref name="positions"/> (L shared by the batch, or B·L); see <see cref="Rope(Variable, int, float, int?, bool)"/>.</summary>
    public static Variable Rope(Variable x, int[] positions, float @base = 10000f, int? rotaryDim = null, bool interleaved = false)
    {
        ArgumentNullException.ThrowIfNull(positions);
        positions = (int[])positions.Clone(); // the backward must see the positions of the forward
        var y = Kernels.Rope.Apply(x.Data, positions, @base, rotaryDim, interleaved);
        return Autograd.Record(y, "Rope", new[] { x }, g => new Tensor?[] { Kernels.Rope.Backward(g, positions, @base, rotaryDim, interleaved) });
    }

    /// <summary>
    /// Λ-shaped attention with separately scored branches (one node; see <see cref="Kernels.Attention.LambdaForward"/>):
    /// keys in the local window (0 ≤ i − j &lt; <paramref name="localWindow"/>) are scored with qLocal·kLocal, the first
    /// <paramref name="globalTokens"/> keys beyond it with qGlobal·kGlobal, under one softmax.
    /// </summary>
    public static Variable LambdaAttention(Variable qLocal, Variable kLocal, Variable qGlobal, Variable kGlobal, Variable v,
        int globalTokens, int localWindow, float? scale = null, int queryOffset = 0)
    {
        float s = scale ?? DefaultAttentionScale(qLocal);
        var r = Kernels.Attention.LambdaForward(qLocal.Data, kLocal.Data, qGlobal.Data, kGlobal.Data, v.Data, globalTokens, localWindow, s, queryOffset);
        return Autograd.Record(r.Output, "LambdaAttention", new[] { qLocal, kLocal, qGlobal, kGlobal, v }, g =>
        {
            var grads = Kernels.Attention.LambdaBackward(qLocal.Data, kLocal.Data, qGlobal.Data, kGlobal.Data, v.Data, r.Output, r.Lse, g,
                globalTokens, localWindow, s, queryOffset, qLocal.RequiresGrad || qGlobal.RequiresGrad,
                kLocal.RequiresGrad || kGlobal.RequiresGrad || v.RequiresGrad);
            return new[]
            {
                Keep(grads.DqLocal, qLocal.RequiresGrad), Keep(grads.DkLocal, kLocal.RequiresGrad), Keep(grads.DqGlobal, qGlobal.RequiresGrad),
                Keep(grads.DkGlobal, kGlobal.RequiresGrad), Keep(grads.Dv, v.RequiresGrad),
            };
        });
    }

    /// <summary>
    /// LM-Infinite attention (Han et al. 2023, "LM-Infinite: Zero-Shot Extreme Length Generalization for LLMs";
    /// Glaciohound/LM-Infinite models/llama.py): RoPE, then the Λ-shaped mask (query i sees key j ≤ i when
    /// j &lt; <paramref name="globalTokens"/> or i − j &lt; <paramref name="localWindow"/>) over un-rotated q, k [B, H, L, D].
    /// Without <paramref name="distanceLimit"/> every visible key is scored at its true relative distance (RoPE at the
    /// absolute positions). With it, LM-Infinite's rule: keys of the local window keep their true distance, while the global
    /// keys beyond the window are scored as if at the fixed distance d = min(distanceLimit, Lk − 1) — the query rotated to
    /// position d and the key not rotated (position 0), exactly the repository's "stationary" query/key states. The
    /// repository's convert_llama_model uses distanceLimit = localWindow. Queries sit at positions
    /// <paramref name="queryOffset"/> + i, keys at j (a KV cache holds un-rotated keys).
    /// </summary>
    public static Variable LmInfiniteAttention(Variable q, Variable k, Variable v, int globalTokens, int localWindow, int? distanceLimit = null,
        float ropeBase = 10000f, int? rotaryDim = null, bool interleaved = false, float? scale = null, int queryOffset = 0)
    {
        const string op = "F.LmInfiniteAttention";
        if (distanceLimit is < 0)
            throw new ArgumentOutOfRangeException(nameof(distanceLimit), distanceLimit, $"{op}: distanceLimit is {distanceLimit}, expected ≥ 0.");
        var qRot = Rope(q, queryOffset, ropeBase, rotaryDim, interleaved);
        var kRot = Rope(k, 0, ropeBase, rotaryDim, interleaved);
        if (distanceLimit is not int limit)
            return Attention(qRot, kRot, v, AttentionMask.LambdaShaped(globalTokens, localWindow), scale, queryOffset);
        // (q and k are [B, H, L, D]: the Rope calls above checked them.)
        int distance = Math.Max(0, Math.Min(limit, k.Size(2) - 1));
        var qFar = Rope(q, Enumerable.Repeat(distance, q.Size(2)).ToArray(), ropeBase, rotaryDim, interleaved);
        return LambdaAttention(qRot, kRot, qFar, k, v, globalTokens, localWindow, scale, queryOffset);
    }

    private static float DefaultAttentionScale(Variable q) => Kernels.Attention.DefaultScale(q.Data.Rank == 4 ? q.Size(3) : 1);

    /// <summary>The gradient when its input needs one; otherwise disposes it and returns null.</summary>
    private static Tensor? Keep(Tensor? grad, bool needed)
    {
        if (needed) return grad;
        grad?.Dispose();
        return null;
    }
}
