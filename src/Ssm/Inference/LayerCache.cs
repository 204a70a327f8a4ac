namespace Ssm.Inference;

/// <summary>
/// The inference cache of a stack of layers: one state per layer, the batch and the tokens consumed so far. The
/// language models' caches (S4D, Mamba, hybrid, LongVQ, Titans) derive from it with their own layer-state type.
/// </summary>
/// <typeparam name="TLayer">The state of one layer.</typeparam>
public abstract class LayerCache<TLayer> : IInferenceCache where TLayer : IDisposable
{
    private protected LayerCache(IEnumerable<TLayer> layers, int batch)
    {
        Layers = layers.ToList();
        Batch = batch;
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }
    /// <summary>One state per layer, in layer order.</summary>
    public IReadOnlyList<TLayer> Layers { get; }
    /// <summary>Tokens consumed so far.</summary>
    public int Position { get; internal set; }

    /// <summary>Releases every layer's state.</summary>
    public void Dispose()
    {
        foreach (var l in Layers) l.Dispose();
    }
}
