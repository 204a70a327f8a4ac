using Ssm.Inference;
using Ssm.Mamba;

namespace Ssm.Hybrid;

/// <summary>
/// Per-layer inference states of a <see cref="HybridLM"/> or <see cref="TransformerLM"/>: an <see cref="AttentionCache"/>
/// for each attention layer and a <see cref="Mamba2State"/> for each Mamba-2 layer, in layer order.
/// </summary>
public sealed class HybridCache : IInferenceCache
{
    internal HybridCache(IEnumerable<IDisposable> layers, int batch)
    {
        Layers = layers.ToList();
        Batch = batch;
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }
    /// <summary>Tokens consumed so far.</summary>
    public int Position { get; internal set; }
    /// <summary>One state per layer: <see cref="AttentionCache"/> or <see cref="Mamba2State"/>.</summary>
    public IReadOnlyList<IDisposable> Layers { get; }

    /// <summary>The KV cache of attention layer <paramref name="layer"/> (throws for a Mamba layer).</summary>
    public AttentionCache Attention(int layer) => Layers[layer] as AttentionCache
        ?? throw new ArgumentException($"HybridCache.Attention: layer {layer} is a Mamba-2 layer, not attention.", nameof(layer));

    /// <summary>The state of Mamba-2 layer <paramref name="layer"/> (throws for an attention layer).</summary>
    public Mamba2State Mamba(int layer) => Layers[layer] as Mamba2State
        ?? throw new ArgumentException($"HybridCache.Mamba: layer {layer} is an attention layer, not Mamba-2.", nameof(layer));

    /// <summary>Releases every layer's state.</summary>
    public void Dispose()
    {
        foreach (var l in Layers) l.Dispose();
    }
}
