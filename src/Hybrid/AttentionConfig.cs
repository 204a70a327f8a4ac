using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>
/// Hyper-parameters of one <see cref="MultiHeadAttention"/> layer, named after mamba_ssm's MHA (mamba_ssm/modules/mha.py,
/// the <c>attn_cfg</c> of its config.json): num_heads, num_heads_kv (grouped-query attention), head_dim, qkv_proj_bias,
/// out_proj_bias, softmax_scale, rotary_emb_dim / rotary_emb_base / rotary_emb_interleaved, d_conv. The mask policy
/// replaces mamba_ssm's <c>causal</c> flag (causal, sliding window, block, Λ-shaped or full).
/// </summary>
public sealed record AttentionConfig
{
    /// <summary>Model width (mamba_ssm's embed_dim).</summary>
    public int DModel { get; init; }
    /// <summary>Query heads.</summary>
    public int NumHeads { get; init; } = 1;
    /// <summary>Key/value heads (grouped-query attention when fewer than <see cref="NumHeads"/>); null: as many as query heads.</summary>
    public int? NumHeadsKv { get; init; }
    /// <summary>Head dimension; null: d_model / num_heads.</summary>
    public int? HeadDim { get; init; }
    /// <summary>Bias of the packed q/k/v projection <c>in_proj</c> (mamba_ssm's default true).</summary>
    public bool QkvProjBias { get; init; } = true;
    /// <summary>Bias of <c>out_proj</c> (mamba_ssm's default true).</summary>
    public bool OutProjBias { get; init; } = true;
    /// <summary>Score scale; null: 1/√head_dim.</summary>
    public float? SoftmaxScale { get; init; }
    /// <summary>Channels of each q/k head rotated by RoPE (even, ≤ head_dim); 0: no rotary embedding.</summary>
    public int RotaryEmbDim { get; init; }
    /// <summary>RoPE base.</summary>
    public float RotaryEmbBase { get; init; } = 10000f;
    /// <summary>RoPE pairs (2k, 2k+1) (GPT-J) instead of the half split (k, k + R/2) (GPT-NeoX, flash_attn's default).</summary>
    public bool RotaryEmbInterleaved { get; init; }
    /// <summary>Width of mamba_ssm's optional causal depthwise convolution over the packed q/k/v (no activation); 0: none.</summary>
    public int DConv { get; init; }
    /// <summary>The mask policy (default causal). Decoding with a KV cache needs a causal policy (see <see cref="AttentionCache"/>).</summary>
    public AttentionMask Mask { get; init; } = AttentionMask.Causal;
    /// <summary>
    /// Landmark attention (<see cref="LandmarkAttention"/>) with blocks of this many positions, the last one a landmark
    /// token; 0: ordinary attention. Needs the causal mask.
    /// </summary>
    public int LandmarkBlockSize { get; init; }
    /// <summary>With landmarks: the earlier blocks retrieved per query when running with a cache (prefill and decoding); null: all of them.</summary>
    public int? LandmarkTopK { get; init; }

    /// <summary>Key/value heads after defaulting.</summary>
    public int KvHeads => NumHeadsKv ?? NumHeads;
    /// <summary>Head dimension after defaulting.</summary>
    public int HeadDimension => HeadDim ?? (NumHeads > 0 ? DModel / NumHeads : 0);
    /// <summary>Width of the query part of in_proj: num_heads · head_dim.</summary>
    public int QueryDim => NumHeads * HeadDimension;
    /// <summary>Width of the key (and of the value) part of in_proj: num_heads_kv · head_dim.</summary>
    public int KeyValueDim => KvHeads * HeadDimension;
    /// <summary>Width of in_proj's output [q | k | v].</summary>
    public int QkvDim => QueryDim + 2 * KeyValueDim;
    /// <summary>The score scale after defaulting.</summary>
    public float Scale => SoftmaxScale ?? Attention.DefaultScale(HeadDimension);

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"AttentionConfig: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(NumHeads > 0, $"num_heads must be positive, got {NumHeads}");
        Need(KvHeads > 0 && NumHeads % KvHeads == 0, $"num_heads {NumHeads} must be a positive multiple of num_heads_kv {KvHeads}");
        Need(HeadDim is > 0 || (HeadDim is null && DModel % NumHeads == 0),
            HeadDim is null ? $"d_model {DModel} must be divisible by num_heads {NumHeads} when head_dim is not given" : $"head_dim must be positive, got {HeadDim}");
        Need(RotaryEmbDim >= 0 && RotaryEmbDim % 2 == 0 && RotaryEmbDim <= HeadDimension,
            $"rotary_emb_dim must be 0 or an even number ≤ head_dim {HeadDimension}, got {RotaryEmbDim}");
        Need(RotaryEmbDim == 0 || (RotaryEmbBase > 1f && float.IsFinite(RotaryEmbBase)), $"rotary_emb_base must be a finite number > 1, got {RotaryEmbBase}");
        Need(DConv >= 0, $"d_conv must be ≥ 0, got {DConv}");
        Need(SoftmaxScale is null || float.IsFinite(SoftmaxScale.Value), $"softmax_scale must be finite, got {SoftmaxScale}");
        Need(LandmarkBlockSize == 0 || (LandmarkBlockSize >= 2 && Mask == AttentionMask.Causal),
            $"landmark_block_size must be 0 or ≥ 2 with the causal mask, got {LandmarkBlockSize} with {Mask}");
        Need(LandmarkTopK is null || (LandmarkTopK >= 1 && LandmarkBlockSize > 0),
            $"landmark_top_k must be ≥ 1 and needs landmark_block_size > 0, got {LandmarkTopK} with block size {LandmarkBlockSize}");
        Need(Mask.Kind != AttentionMaskKind.LambdaGlobalBranch,
            "mask LambdaGlobalBranch is one branch of the Λ shape, not a layer's mask; use AttentionMask.LambdaShaped");
    }
}
