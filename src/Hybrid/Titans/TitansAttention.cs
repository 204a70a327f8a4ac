using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

/// <summary>
/// Multi-head softmax attention of the Titans variants: q, k, v from one projection (<c>qkv_proj</c>), rotary position
/// embedding, <see cref="F.Attention"/> under a mask policy (sliding window with persistent tokens as global keys, or
/// causal within a segment), heads merged and projected back (<c>out_proj</c>). Projection, rotation and attention are
/// separate steps so that the variants can place keys (persistent tokens, retrieved memory, cached windows) as they need.
/// </summary>
public sealed class TitansAttention : Module
{
    /// <summary>Creates the attention with torch's default Linear initialization.</summary>
    public TitansAttention(int dModel, int heads, int headDim, float ropeBase, Rng rng, Device? device = null)
    {
        Guard.Positive("TitansAttention", nameof(heads), heads);
        Guard.Positive("TitansAttention", nameof(headDim), headDim);
        Guard.That(headDim % 2 == 0, "TitansAttention", nameof(headDim), $"head_dim {headDim} must be even (rotary embedding).");
        Heads = heads;
        HeadDim = headDim;
        RopeBase = ropeBase;
        QkvProj = RegisterModule("qkv_proj", new Linear(dModel, 3 * heads * headDim, bias: false, rng, device));
        OutProj = RegisterModule("out_proj", new Linear(heads * headDim, dModel, bias: false, rng, device));
    }

    /// <summary>Attention heads.</summary>
    public int Heads { get; }
    /// <summary>Width per head.</summary>
    public int HeadDim { get; }
    /// <summary>Base of the rotary embedding.</summary>
    public float RopeBase { get; }
    /// <summary>d_model → [q, k, v] (3·heads·head_dim).</summary>
    public Linear QkvProj { get; }
    /// <summary>heads·head_dim → d_model.</summary>
    public Linear OutProj { get; }

    /// <summary>Unrotated q, k, v [B, heads, L, head_dim] of x [B, L, d_model].</summary>
    public (Variable Q, Variable K, Variable V) Project(Variable x)
    {
        int b = x.Size(0), l = x.Size(1), width = Heads * HeadDim;
        var parts = F.Split(QkvProj.Forward(x), new[] { width, width, width }, -1);
        Variable Heads4(Variable t) => F.Permute(F.Reshape(t, b, l, Heads, HeadDim), 0, 2, 1, 3);
        return (Heads4(parts[0]), Heads4(parts[1]), Heads4(parts[2]));
    }

    /// <summary>x [B, heads, L, head_dim] rotated at positions offset + l.</summary>
    public Variable Rotate(Variable x, int offset) => F.Rope(x, offset, RopeBase);

    /// <summary>x [B, heads, L, head_dim] rotated at explicit positions (L entries).</summary>
    public Variable Rotate(Variable x, int[] positions) => F.Rope(x, positions, RopeBase);

    /// <summary>
    /// out_proj(merge heads(attention(q, k, v))) → [B, Lq, d_model]; query row i sits at key position
    /// <paramref name="queryOffset"/> + i under <paramref name="mask"/>.
    /// </summary>
    public Variable Attend(Variable q, Variable k, Variable v, AttentionMask mask, int queryOffset)
    {
        var o = F.Attention(q, k, v, mask, queryOffset: queryOffset);
        int b = o.Size(0), l = o.Size(2);
        return OutProj.Forward(F.Reshape(F.Permute(o, 0, 2, 1, 3), b, l, Heads * HeadDim));
    }
}

/// <summary>Learnable persistent-memory tokens [count, d_model] (parameter <c>tokens</c>), prepended to a sequence.</summary>
public sealed class PersistentMemory : Module
{
    /// <summary>Creates <paramref name="count"/> tokens initialized N(0, 0.02²).</summary>
    public PersistentMemory(int count, int dModel, Rng rng, Device? device = null)
    {
        Guard.Positive("PersistentMemory", nameof(count), count);
        Tokens = RegisterParameter("tokens", new Parameter(Init.Normal(Tensor.Empty(new[] { count, dModel }, DType.Float32, device), rng, 0, 0.02)));
    }

    /// <summary>The tokens [count, d_model].</summary>
    public Parameter Tokens { get; }

    /// <summary>Number of tokens.</summary>
    public int Count => Tokens.Size(0);

    /// <summary>The tokens repeated over a batch: [batch, count, d_model].</summary>
    public Variable Expand(int batch)
    {
        var zeros = new Variable(Tensor.Zeros(new[] { batch, 1, 1 }, DType.Float32, Tokens.Device));
        return F.Add(zeros, F.Reshape(Tokens, 1, Count, Tokens.Size(1)));
    }

    /// <summary>[tokens ‖ x] along the sequence for x [batch, length, d_model].</summary>
    public Variable Prepend(Variable x) => F.Concat(new[] { Expand(x.Size(0)), x }, 1);
}
