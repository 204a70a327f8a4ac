namespace Ssm.Hybrid.Titans;

/// <summary>How a Titans layer combines attention and the neural memory (Behrouz et al. 2024, §4).</summary>
public enum TitansVariant
{
    /// <summary>Memory as Context: per segment, retrieve from memory, attend over [persistent ‖ retrieved ‖ segment], write the attention output, gate by the memory.</summary>
    Mac,
    /// <summary>Memory as Gate: sliding-window attention and the memory side by side, combined by a normalized sigmoid gate.</summary>
    Mag,
    /// <summary>Memory as Layer: the memory layer, then sliding-window attention over its output.</summary>
    Mal,
}

/// <summary>
/// A Titans language model: embedding, <see cref="NLayer"/> pre-norm residual blocks (a <see cref="Variant"/> mixer and a
/// SwiGLU feed-forward), final RMSNorm and a (tied) output head. <see cref="Memory"/> configures the neural memory of
/// every layer (its DModel must equal <see cref="DModel"/>); build one with <see cref="Create"/>.
/// </summary>
public sealed record TitansConfig
{
    /// <summary>The variant (MAC, MAG or MAL).</summary>
    public TitansVariant Variant { get; init; }
    /// <summary>Model width.</summary>
    public int DModel { get; init; }
    /// <summary>Number of blocks.</summary>
    public int NLayer { get; init; }
    /// <summary>Vocabulary size before padding.</summary>
    public int VocabSize { get; init; }
    /// <summary>The vocabulary is padded up to a multiple of this.</summary>
    public int PadVocabSizeMultiple { get; init; } = 8;
    /// <summary>Attention heads.</summary>
    public int AttentionHeads { get; init; } = 4;
    /// <summary>Width per attention head (even, for the rotary embedding).</summary>
    public int AttentionHeadDim { get; init; } = 32;
    /// <summary>Sliding-window length of MAG and MAL attention (each token sees itself and Window − 1 before it, plus the persistent tokens).</summary>
    public int Window { get; init; } = 128;
    /// <summary>Segment length of MAC (a multiple of the memory's chunk size).</summary>
    public int SegmentLength { get; init; } = 64;
    /// <summary>Learnable persistent-memory tokens per layer (0: none).</summary>
    public int PersistentTokens { get; init; } = 4;
    /// <summary>Hidden width of the SwiGLU feed-forward (0: none, mixer-only blocks).</summary>
    public int FfnHidden { get; init; }
    /// <summary>Base of the rotary embedding.</summary>
    public float RopeBase { get; init; } = 10000f;
    /// <summary>RMSNorm epsilon.</summary>
    public float NormEps { get; init; } = 1e-5f;
    /// <summary>Tie the output head to the embedding.</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>The neural memory of every layer.</summary>
    public NeuralMemoryConfig Memory { get; init; } = new();

    /// <summary>Vocabulary size after padding.</summary>
    public int PaddedVocabSize => PadVocabSizeMultiple <= 1 ? VocabSize
        : (VocabSize + PadVocabSizeMultiple - 1) / PadVocabSizeMultiple * PadVocabSizeMultiple;

    /// <summary>
    /// A configuration with consistent defaults: attention and memory heads of width d_model/heads (heads = 4, or fewer
    /// when d_model is small), a SwiGLU hidden width of ⌈8·d_model/3⌉ rounded up to a multiple of 8.
    /// </summary>
    public static TitansConfig Create(TitansVariant variant, int dModel, int nLayer, int vocabSize, int heads = 4)
    {
        if (dModel <= 0 || heads <= 0 || dModel % heads != 0 || dModel / heads % 2 != 0)
            throw new ArgumentException($"TitansConfig.Create: d_model {dModel} must be a positive multiple of heads {heads} with an even head width.");
        int headDim = dModel / heads;
        return new TitansConfig
        {
            Variant = variant, DModel = dModel, NLayer = nLayer, VocabSize = vocabSize,
            AttentionHeads = heads, AttentionHeadDim = headDim,
            FfnHidden = (8 * dModel / 3 + 7) / 8 * 8,
            Memory = new NeuralMemoryConfig { DModel = dModel, Heads = heads, HeadDim = headDim },
        };
    }

    /// <summary>The variant named <c>titans-mac</c>, <c>titans-mag</c> or <c>titans-mal</c> (or just <c>mac</c>, <c>mag</c>, <c>mal</c>; any case).</summary>
    public static TitansVariant ParseVariant(string name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "titans-mac" or "mac" => TitansVariant.Mac,
        "titans-mag" or "mag" => TitansVariant.Mag,
        "titans-mal" or "mal" => TitansVariant.Mal,
        _ => throw new ArgumentException($"TitansConfig.ParseVariant: unknown Titans variant '{name}', expected titans-mac, titans-mag or titans-mal.", nameof(name)),
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"TitansConfig: {what}."); }
        Need(Enum.IsDefined(Variant), $"unknown variant {Variant}");
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(NLayer > 0, $"n_layer must be positive, got {NLayer}");
        Need(VocabSize > 0, $"vocab_size must be positive, got {VocabSize}");
        Need(AttentionHeads > 0, $"attention_heads must be positive, got {AttentionHeads}");
        Need(AttentionHeadDim > 0 && AttentionHeadDim % 2 == 0, $"attention_head_dim must be positive and even, got {AttentionHeadDim}");
        Need(Window >= 1, $"window must be at least 1, got {Window}");
        Need(PersistentTokens >= 0, $"persistent_tokens must be non-negative, got {PersistentTokens}");
        Need(FfnHidden >= 0, $"ffn_hidden must be non-negative, got {FfnHidden}");
        Need(NormEps > 0, $"norm_eps must be positive, got {NormEps}");
        Need(Memory is not null && Memory.DModel == DModel, $"memory d_model {Memory?.DModel} differs from d_model {DModel}");
        Memory!.Validate();
        if (Variant == TitansVariant.Mac)
            Need(SegmentLength >= 1 && SegmentLength % Memory.ChunkSize == 0,
                $"segment_length {SegmentLength} must be a positive multiple of the memory chunk size {Memory.ChunkSize} (segments start at chunk boundaries)");
    }
}
