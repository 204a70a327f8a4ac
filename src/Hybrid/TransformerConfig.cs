namespace Ssm.Hybrid;

/// <summary>A <see cref="TransformerLM"/>'s (or <see cref="TransformerClassifier"/>'s) configuration: width, depth, vocabulary, attention and block settings.</summary>
public sealed record TransformerConfig
{
    /// <summary>Model width.</summary>
    public int DModel { get; init; }
    /// <summary>Number of blocks.</summary>
    public int NLayer { get; init; }
    /// <summary>Vocabulary size before padding.</summary>
    public int VocabSize { get; init; }
    /// <summary>The vocabulary is padded up to a multiple of this (as mamba_ssm's pad_vocab_size_multiple).</summary>
    public int PadVocabSizeMultiple { get; init; } = 8;
    /// <summary>Tie the output projection to the embedding.</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>Every block's attention (its DModel equals <see cref="DModel"/>).</summary>
    public AttentionConfig Attention { get; init; } = new();
    /// <summary>Norm, MLP and dropout of every block.</summary>
    public BlockConfig Block { get; init; } = new();

    /// <summary>Vocabulary size after padding.</summary>
    public int PaddedVocabSize => PadVocabSizeMultiple <= 1 ? VocabSize
        : (VocabSize + PadVocabSizeMultiple - 1) / PadVocabSizeMultiple * PadVocabSizeMultiple;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        if (DModel <= 0) throw new ArgumentException($"TransformerConfig: d_model must be positive, got {DModel}.");
        if (NLayer <= 0) throw new ArgumentException($"TransformerConfig: n_layer must be positive, got {NLayer}.");
        if (VocabSize <= 0) throw new ArgumentException($"TransformerConfig: vocab_size must be positive, got {VocabSize}.");
        ArgumentNullException.ThrowIfNull(Attention);
        ArgumentNullException.ThrowIfNull(Block);
        if (Attention.DModel != DModel) throw new ArgumentException($"TransformerConfig: attention d_model {Attention.DModel} differs from d_model {DModel}.");
        Attention.Validate();
        Block.Validate();
    }
}
