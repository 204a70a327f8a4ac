using Ssm.Inference;
using Ssm.Mamba;

namespace Ssm.Hybrid;

/// <summary>
/// Per-layer inference states of a <see cref="HybridLM"/> or <see cref="TransformerLM"/>: an <see cref="AttentionCache"/>
/// for each attention layer, a <see cref="Mamba2State"/> for each Mamba-2 layer and an <see cref="Ssm.S4.S4DState"/> for
/// each S4D layer, in layer order.
/// </summary>
public sealed class HybridCache : LayerCache<IDisposable>
{
    internal HybridCache(IEnumerable<IDisposable> layers, int batch) : base(layers, batch)
    {
    }

    /// <summary>The KV cache of attention layer <paramref name="layer"/> (throws for a Mamba layer).</summary>
    public AttentionCache Attention(int layer) => Layers[layer] as AttentionCache
        ?? throw new ArgumentException($"HybridCache.Attention: layer {layer} is not an attention layer.", nameof(layer));

    /// <summary>The state of Mamba-2 layer <paramref name="layer"/> (throws for an attention layer).</summary>
    public Mamba2State Mamba(int layer) => Layers[layer] as Mamba2State
        ?? throw new ArgumentException($"HybridCache.Mamba: layer {layer} is not a Mamba-2 layer.", nameof(layer));
}
