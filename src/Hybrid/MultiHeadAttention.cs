using Ssm.Kernels;

namespace Ssm.Hybrid;

// Multi-head self-attention in mamba_ssm's MHA layout (mamba_ssm/modules/mha.py, Dao & Gu 2024):
//   [q | k | v] = in_proj(x)              q: num_heads·head_dim, k and v: num_heads_kv·head_dim each
//   (optional) [q | k | v] = causal depthwise conv1d_{d_conv}([q | k | v])      (no activation)
//   q, k = RoPE(q, k) at absolute positions (first rotary_emb_dim channels of each head)
//   o_h = softmax(scale·q_h·K_gᵀ + mask)·V_g      g = h / (num_heads / num_heads_kv)   (grouped-query attention)
//   out = out_proj([o_1 | … | o_H])
// The attention itself is the tiled FlashAttention-style op (Ssm.Kernels.Attention) under a mask policy.

/// <summary>
/// Multi-head self-attention with grouped-query heads, optional rotary embedding and a mask policy (causal, sliding
/// window, block, Λ-shaped, full), in mamba_ssm's MHA parameter layout: <c>in_proj.weight</c> [q+k+v, d_model] packing
/// q, k, v in that order (and <c>in_proj.bias</c>), optional <c>conv1d.weight</c>/<c>conv1d.bias</c>, <c>out_proj.weight</c>
/// [d_model, num_heads·head_dim] (and <c>out_proj.bias</c>). With <see cref="AttentionConfig.LandmarkBlockSize"/> the
/// attention is <see cref="LandmarkAttention"/>'s grouped softmax (every earlier block without a cache — the training
/// form —, the top-k retrieved blocks with one). Both forms: <see cref="Forward"/> over a sequence (with an
/// <see cref="AttentionCache"/>: chunked prefill continuing from it) and <see cref="Step"/> for one token.
/// </summary>
public sealed class MultiHeadAttention : Module
{
    /// <summary>Creates the layer; projections initialized as torch.nn.Linear (U[±1/√in]).</summary>
    public MultiHeadAttention(AttentionConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        InProj = RegisterModule("in_proj", new Linear(config.DModel, config.QkvDim, config.QkvProjBias, rng, d));
        if (config.DConv > 0)
            Conv1d = RegisterModule("conv1d", new CausalDepthwiseConv1d(config.QkvDim, config.DConv, bias: true, rng, d));
        OutProj = RegisterModule("out_proj", new Linear(config.QueryDim, config.DModel, config.OutProjBias, rng, d));
    }

    /// <summary>The configuration.</summary>
    public AttentionConfig Config { get; }
    /// <summary>Packed q/k/v projection: d_model → [q | k | v].</summary>
    public Linear InProj { get; }
    /// <summary>The optional causal depthwise convolution over [q | k | v] (null when d_conv = 0).</summary>
    public CausalDepthwiseConv1d? Conv1d { get; }
    /// <summary>Output projection: num_heads·head_dim → d_model.</summary>
    public Linear OutProj { get; }

    /// <summary>An empty KV cache for <paramref name="batch"/> sequences on this layer's device (causal caches preallocate <paramref name="maxLength"/> slots).</summary>
    public AttentionCache AllocateCache(int batch, int? maxLength = null) => new(Config, batch, InProj.Weight.Device, maxLength);

    /// <summary>
    /// Attention over x [batch, length, d_model] → [batch, length, d_model]. With <paramref name="cache"/>, the tokens
    /// continue the cached sequence (positions cache.Position + t), see the cached keys the mask allows, and are appended
    /// to the cache (chunked prefill); gradients flow into x but not into the cached keys. Landmark layers retrieve the
    /// top-k earlier blocks only when a cache is given.
    /// </summary>
    public Variable Forward(Variable x, AttentionCache? cache = null)
    {
        const string op = "MultiHeadAttention.Forward";
        var c = Config;
        Guard.Rank(op, x.Data, "x", 3, "[batch, length, d_model]");
        Guard.Shape(op, x.Data, "x", new[] { -1, -1, c.DModel }, $"[batch, length, {c.DModel}] (d_model)");
        int batch = x.Size(0), length = x.Size(1);
        if (cache is not null) CheckCache(op, cache, batch);

        var qkv = Convolve(InProj.Forward(x), cache);
        var parts = F.Split(qkv, new[] { c.QueryDim, c.KeyValueDim, c.KeyValueDim }, -1);
        var q = Heads(parts[0], c.NumHeads);
        var k = Heads(parts[1], c.KvHeads);
        var v = Heads(parts[2], c.KvHeads);
        int position = cache?.Position ?? 0;
        if (c.RotaryEmbDim > 0)
        {
            q = F.Rope(q, position, c.RotaryEmbBase, c.RotaryEmbDim, c.RotaryEmbInterleaved);
            k = F.Rope(k, position, c.RotaryEmbBase, c.RotaryEmbDim, c.RotaryEmbInterleaved);
        }

        Variable o;
        if (cache is null)
            o = c.LandmarkBlockSize > 0 ? LandmarkAttention.Forward(q, k, v, c.LandmarkBlockSize, c.Scale) : F.Attention(q, k, v, c.Mask, c.Scale);
        else
        {
            var context = cache.Context();
            cache.Append(k.Data, v.Data);
            int offset = 0;
            if (context is var (ck, cv))
            {
                offset = ck.Size(2);
                k = F.Concat(new[] { new Variable(ck), k }, 2);
                v = F.Concat(new[] { new Variable(cv), v }, 2);
            }
            o = c.LandmarkBlockSize > 0
                ? LandmarkAttention.Forward(q, k, v, c.LandmarkBlockSize, c.Scale, offset, c.LandmarkTopK)
                : F.Attention(q, k, v, c.Mask, c.Scale, offset);
        }
        return OutProj.Forward(F.Reshape(F.Transpose(o, 1, 2), batch, length, c.QueryDim));

        Variable Heads(Variable t, int heads) => F.Transpose(F.Reshape(t, batch, length, heads, c.HeadDimension), 1, 2);
    }

    /// <summary>
    /// One decoding step for xt [batch, d_model] → [batch, d_model]: appends the token's key and value to
    /// <paramref name="cache"/> and attends over the cached keys the mask allows. No autograd (inference).
    /// </summary>
    public Tensor Step(AttentionCache cache, Tensor xt)
    {
        const string op = "MultiHeadAttention.Step";
        var c = Config;
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(xt);
        CheckCache(op, cache, cache.Batch);
        Guard.Shape(op, xt, "xt", new[] { cache.Batch, c.DModel }, $"[{cache.Batch}, {c.DModel}] (batch, d_model)");
        using var noGrad = Autograd.NoGrad();
        int batch = cache.Batch;
        if (c.LandmarkBlockSize > 0) return Forward(new Variable(xt.Reshape(batch, 1, c.DModel)), cache).Data.Reshape(batch, c.DModel);
        var qkv = InProj.Forward(new Variable(xt)).Data;
        if (Conv1d is not null) qkv = Conv1d.Step(cache.ConvState!, qkv, silu: false);
        // One position: [batch, heads·D] is already laid out as [batch, heads, 1, D].
        var q = Layout.Narrow(qkv, 1, 0, c.QueryDim).Reshape(batch, c.NumHeads, 1, c.HeadDimension);
        var k = Layout.Narrow(qkv, 1, c.QueryDim, c.KeyValueDim).Reshape(batch, c.KvHeads, 1, c.HeadDimension);
        var v = Layout.Narrow(qkv, 1, c.QueryDim + c.KeyValueDim, c.KeyValueDim).Reshape(batch, c.KvHeads, 1, c.HeadDimension);
        if (c.RotaryEmbDim > 0)
        {
            q = Rope.Apply(q, cache.Position, c.RotaryEmbBase, c.RotaryEmbDim, c.RotaryEmbInterleaved);
            k = Rope.Apply(k, cache.Position, c.RotaryEmbBase, c.RotaryEmbDim, c.RotaryEmbInterleaved);
        }
        cache.Append(k, v);
        using var attended = Attention.Forward(q, cache.Keys, cache.Values, AttentionMask.Causal, c.Scale, cache.VisibleSlots - 1);
        return OutProj.Forward(new Variable(attended.Output.Reshape(batch, c.QueryDim))).Data;
    }

    private Variable Convolve(Variable qkv, AttentionCache? cache)
    {
        if (Conv1d is null) return qkv;
        if (cache is null) return Conv1d.Forward(qkv, silu: false);
        var next = Kernels.Conv1d.StateFromPrefix(qkv.Data, Config.DConv, cache.ConvState);
        var y = Conv1d.Forward(qkv, silu: false, initialState: cache.ConvState);
        cache.ConvState!.CopyFrom(next);
        return y;
    }

    private void CheckCache(string op, AttentionCache cache, int batch)
    {
        var c = Config;
        Guard.That(cache.Batch == batch, op, nameof(cache), $"cache holds {cache.Batch} sequences, expected {batch} (the batch of the input).");
        Guard.That(cache.KvHeads == c.KvHeads && cache.HeadDim == c.HeadDimension && cache.Mask == c.Mask
                   && (cache.ConvState is null) == (c.DConv == 0) && cache.Keys.Device == InProj.Weight.Device,
            op, nameof(cache), $"cache (kv heads {cache.KvHeads}, head dim {cache.HeadDim}, mask {cache.Mask}) was not allocated for this layer " +
            $"(kv heads {c.KvHeads}, head dim {c.HeadDimension}, mask {c.Mask}); use AllocateCache.");
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"MultiHeadAttention(d_model={Config.DModel}, heads={Config.NumHeads}, kv_heads={Config.KvHeads}, head_dim={Config.HeadDimension}, " +
        $"rotary={Config.RotaryEmbDim}, mask={Config.Mask})";
}
