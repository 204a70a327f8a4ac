using Ssm.Mamba;

namespace Ssm.Hybrid;

/// <summary>
/// A <see cref="HybridLM"/>'s configuration: the per-layer layout (<see cref="HybridPattern"/>: a pattern string such as
/// <c>"MMMAMMMA"</c>, Jamba's period/offset, or MASFormer's full/local attention layers), one config per mixer kind
/// (<see cref="Mamba"/>, <see cref="Attention"/>; an attention layer may override the mask) and the block settings shared
/// by every layer (norm, optional MLP as mamba_ssm's d_intermediate, dropout).
/// </summary>
public sealed record HybridConfig
{
    /// <summary>Model width.</summary>
    public int DModel { get; init; }
    /// <summary>Vocabulary size before padding.</summary>
    public int VocabSize { get; init; }
    /// <summary>The vocabulary is padded up to a multiple of this (mamba_ssm's pad_vocab_size_multiple).</summary>
    public int PadVocabSizeMultiple { get; init; } = 8;
    /// <summary>Tie the output projection to the embedding.</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>The layers, in order (see <see cref="HybridPattern"/>).</summary>
    public IReadOnlyList<HybridLayerSpec> Layers { get; init; } = Array.Empty<HybridLayerSpec>();
    /// <summary>The Mamba-2 mixer of every 'M' layer (its DModel equals <see cref="DModel"/>).</summary>
    public Mamba2Config Mamba { get; init; } = new();
    /// <summary>The attention of every 'A' layer (its DModel equals <see cref="DModel"/>; a layer's mask may override <see cref="AttentionConfig.Mask"/>).</summary>
    public AttentionConfig Attention { get; init; } = new();
    /// <summary>Norm, MLP and dropout of every block.</summary>
    public BlockConfig Block { get; init; } = new();

    /// <summary>Number of layers.</summary>
    public int NLayer => Layers.Count;
    /// <summary>The layout as a pattern string ('M'/'A').</summary>
    public string Pattern => HybridPattern.Format(Layers);
    /// <summary>Vocabulary size after padding.</summary>
    public int PaddedVocabSize => PadVocabSizeMultiple <= 1 ? VocabSize
        : (VocabSize + PadVocabSizeMultiple - 1) / PadVocabSizeMultiple * PadVocabSizeMultiple;

    /// <summary>The attention config of layer <paramref name="layer"/> (with its mask override).</summary>
    public AttentionConfig LayerAttention(int layer)
    {
        var spec = Layers[layer];
        if (spec.Kind != HybridLayerKind.Attention)
            throw new ArgumentException($"HybridConfig.LayerAttention: layer {layer} is a Mamba-2 layer.", nameof(layer));
        return spec.Mask is { } m ? Attention with { Mask = m } : Attention;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        if (DModel <= 0) throw new ArgumentException($"HybridConfig: d_model must be positive, got {DModel}.");
        if (VocabSize <= 0) throw new ArgumentException($"HybridConfig: vocab_size must be positive, got {VocabSize}.");
        if (Layers is null || Layers.Count == 0)
            throw new ArgumentException("HybridConfig: no layers; set Layers from HybridPattern.Parse(\"MMMA…\"), HybridPattern.Jamba or HybridPattern.MasFormer.");
        ArgumentNullException.ThrowIfNull(Mamba);
        ArgumentNullException.ThrowIfNull(Attention);
        ArgumentNullException.ThrowIfNull(Block);
        Block.Validate();
        if (Layers.Any(l => l.Kind == HybridLayerKind.Mamba))
        {
            if (Mamba.DModel != DModel) throw new ArgumentException($"HybridConfig: Mamba d_model {Mamba.DModel} differs from d_model {DModel}.");
            Mamba.Validate();
        }
        if (Layers.Any(l => l.Kind == HybridLayerKind.Attention))
        {
            if (Attention.DModel != DModel) throw new ArgumentException($"HybridConfig: attention d_model {Attention.DModel} differs from d_model {DModel}.");
            Attention.Validate();
        }
        for (int i = 0; i < Layers.Count; i++)
        {
            var l = Layers[i];
            if (l.Kind == HybridLayerKind.Mamba && l.Mask is not null)
                throw new ArgumentException($"HybridConfig: layer {i} is a Mamba-2 layer but has an attention mask ({l.Mask}).");
            if (l.Kind == HybridLayerKind.Attention && !AttentionCache.SupportsMask(LayerAttention(i).Mask))
                throw new ArgumentException($"HybridConfig: attention layer {i} has mask {LayerAttention(i).Mask}, which lets a token see later tokens; " +
                    "a causal language model needs Causal, SlidingWindow, Block(causal: true) or LambdaShaped.");
        }
    }
}
