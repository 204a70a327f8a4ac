namespace Ssm.Hybrid.LongVQ;

/// <summary>
/// Hyper-parameters of one LongVQ block (a MEGA-style gated block whose attention uses vector-quantized keys).
/// Defaults follow MEGA where it has them (EMA dimension 16, value width 2·d_model) and Transformer-VQ for the
/// quantizer (EMA decay 0.99, commitment weight 1e-4).
/// </summary>
public sealed record LongVQBlockConfig
{
    /// <summary>Model width D.</summary>
    public int DModel { get; init; }
    /// <summary>Shared query/key representation width z (all heads together; MEGA's zdim).</summary>
    public int ZDim { get; init; } = 64;
    /// <summary>Value / attention output width (all heads together; MEGA's hdim); 0 means 2·DModel.</summary>
    public int HDim { get; init; }
    /// <summary>Attention heads; ZDim and the value width split evenly between them (each head has its own codebook).</summary>
    public int NHeads { get; init; } = 1;
    /// <summary>EMA dimensions N per channel of the damped-EMA branch.</summary>
    public int EmaDim { get; init; } = 16;
    /// <summary>Codes S per codebook.</summary>
    public int CodebookSize { get; init; } = 64;
    /// <summary>Attention block length L (exact attention to the current and previous block, per-code caches beyond).</summary>
    public int BlockLength { get; init; } = 64;
    /// <summary>β of the commitment loss.</summary>
    public float CommitmentWeight { get; init; } = 1e-4f;
    /// <summary>EMA decay γ of the codebook.</summary>
    public float CodebookDecay { get; init; } = 0.99f;
    /// <summary>Laplace smoothing ε of the codebook counts.</summary>
    public float CodebookEpsilon { get; init; } = 1e-5f;
    /// <summary>Training updates between dead-code checks (0 disables re-seeding).</summary>
    public int DeadCodeInterval { get; init; } = 100;
    /// <summary>Keys a code must receive between checks to stay alive.</summary>
    public float DeadCodeMinCount { get; init; } = 1f;
    /// <summary>Std of the initial codebook (codes unused by the first training batch are re-seeded from its keys).</summary>
    public double CodebookInitStd { get; init; } = 1.0;
    /// <summary>LayerNorm epsilon.</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary>The value width (HDim, or 2·DModel when 0).</summary>
    public int ValueDim => HDim > 0 ? HDim : 2 * DModel;
    /// <summary>Query/key width per head.</summary>
    public int HeadDim => ZDim / NHeads;
    /// <summary>Value width per head.</summary>
    public int ValueHeadDim => ValueDim / NHeads;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"LongVQBlockConfig: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(ZDim > 0, $"z_dim must be positive, got {ZDim}");
        Need(HDim >= 0, $"h_dim must be ≥ 0 (0 means 2·d_model), got {HDim}");
        Need(NHeads > 0, $"n_heads must be positive, got {NHeads}");
        Need(ZDim % NHeads == 0, $"z_dim {ZDim} must be divisible by n_heads {NHeads}");
        Need(ValueDim % NHeads == 0, $"the value width {ValueDim} must be divisible by n_heads {NHeads}");
        Need(EmaDim > 0, $"ema_dim must be positive, got {EmaDim}");
        Need(CodebookSize > 0, $"codebook_size must be positive, got {CodebookSize}");
        Need(BlockLength > 0, $"block_length must be positive, got {BlockLength}");
        Need(CommitmentWeight >= 0, $"commitment_weight must be ≥ 0, got {CommitmentWeight}");
        Need(CodebookDecay >= 0 && CodebookDecay <= 1, $"codebook_decay must be in [0, 1], got {CodebookDecay}");
        Need(CodebookEpsilon >= 0, $"codebook_epsilon must be ≥ 0, got {CodebookEpsilon}");
        Need(DeadCodeInterval >= 0, $"dead_code_interval must be ≥ 0, got {DeadCodeInterval}");
        Need(CodebookInitStd > 0, $"codebook_init_std must be positive, got {CodebookInitStd}");
    }
}

/// <summary>
/// A LongVQ model: token embedding, <see cref="NLayer"/> layers of (LongVQ block, feed-forward), a final LayerNorm and
/// a head (the tied embedding for the language model, a linear classifier over the mean-pooled sequence for
/// <see cref="LongVQClassifier"/>). <see cref="Block"/>'s DModel must equal <see cref="DModel"/> (or be 0, then it is set).
/// </summary>
public sealed record LongVQConfig
{
    /// <summary>Model width.</summary>
    public int DModel { get; init; }
    /// <summary>Number of layers.</summary>
    public int NLayer { get; init; } = 2;
    /// <summary>Vocabulary size before padding.</summary>
    public int VocabSize { get; init; }
    /// <summary>The language model pads the vocabulary up to a multiple of this.</summary>
    public int PadVocabSizeMultiple { get; init; } = 8;
    /// <summary>Hidden width of each layer's feed-forward network as a multiple of DModel (0: no feed-forward).</summary>
    public int FfnExpand { get; init; } = 2;
    /// <summary>Tie the language model's output projection to the embedding.</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>LayerNorm epsilon of the feed-forward and final norms.</summary>
    public double NormEps { get; init; } = 1e-5;
    /// <summary>The block configuration.</summary>
    public LongVQBlockConfig Block { get; init; } = new();

    /// <summary>Vocabulary size after padding to <see cref="PadVocabSizeMultiple"/>.</summary>
    public int PaddedVocabSize => PadVocabSizeMultiple <= 1 ? VocabSize
        : (VocabSize + PadVocabSizeMultiple - 1) / PadVocabSizeMultiple * PadVocabSizeMultiple;

    /// <summary>The block configuration with DModel filled in.</summary>
    public LongVQBlockConfig BlockConfig => Block.DModel == 0 ? Block with { DModel = DModel } : Block;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"LongVQConfig: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(NLayer > 0, $"n_layer must be positive, got {NLayer}");
        Need(VocabSize > 0, $"vocab_size must be positive, got {VocabSize}");
        Need(FfnExpand >= 0, $"ffn_expand must be ≥ 0, got {FfnExpand}");
        Need(Block is not null, "block configuration is missing");
        Need(Block!.DModel == 0 || Block.DModel == DModel, $"block d_model {Block.DModel} differs from d_model {DModel}");
        BlockConfig.Validate();
    }
}
