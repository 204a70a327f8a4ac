using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

/// <summary>
/// Inference state of one <see cref="NeuralMemory"/> for a batch: the memory weights, momentum and chunk-start weights
/// ([batch·heads, d_out, d_in] per MLP layer), the position inside the current chunk, and the convolution tails.
/// Owned by the caller (outside tensor scopes); <see cref="AsStream"/> and <see cref="Store"/> convert to and from the
/// layer's <see cref="NeuralMemoryStream"/>.
/// </summary>
public sealed class NeuralMemoryCache : IDisposable
{
    /// <summary>The state at the start of a sequence (every memory at the layer's learned initial weights).</summary>
    public NeuralMemoryCache(NeuralMemory memory, int batch)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Guard.Positive("NeuralMemoryCache", nameof(batch), batch);
        Batch = batch;
        using var noGrad = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        var initial = memory.InitialStream(batch).Memory;
        Tensor Own(Variable v) => v.Data.Clone().DetachFromScope();
        Weights = initial.Weights.Select(Own).ToArray();
        Momentum = initial.Momentum.Select(Own).ToArray();
        ChunkStart = initial.Weights.Select(Own).ToArray();
        int keep = memory.Config.ConvWidth - 1, inner = memory.Config.InnerDim;
        var dev = memory.OutProj.Weight.Device;
        if (keep > 0)
        {
            QueryTail = Tensor.Zeros(new[] { batch, keep, inner }, DType.Float32, dev).DetachFromScope();
            KeyValueTail = Tensor.Zeros(new[] { batch, keep, 2 * inner }, DType.Float32, dev).DetachFromScope();
        }
    }

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }
    /// <summary>Memory weights per MLP layer.</summary>
    public Tensor[] Weights { get; }
    /// <summary>Momentum (surprise) per MLP layer.</summary>
    public Tensor[] Momentum { get; }
    /// <summary>Weights at the start of the current chunk per MLP layer.</summary>
    public Tensor[] ChunkStart { get; }
    /// <summary>Tokens of the current chunk consumed.</summary>
    public int Offset { get; private set; }
    /// <summary>Last ConvWidth − 1 projected query inputs [batch, W−1, heads·head_dim] (null without convolutions).</summary>
    public Tensor? QueryTail { get; }
    /// <summary>Last ConvWidth − 1 projected key/value inputs [batch, W−1, 2·heads·head_dim] (null without convolutions).</summary>
    public Tensor? KeyValueTail { get; }

    /// <summary>The state as a (non-differentiable) stream over these tensors.</summary>
    public NeuralMemoryStream AsStream()
    {
        var w = Weights.Select(t => new Variable(t)).ToArray();
        var chunkStart = Offset == 0 ? w : ChunkStart.Select(t => new Variable(t)).ToArray();
        return new NeuralMemoryStream(new MemoryScanState(w, Momentum.Select(t => new Variable(t)).ToArray(), chunkStart, Offset),
            QueryTail is null ? null : new Variable(QueryTail), KeyValueTail is null ? null : new Variable(KeyValueTail));
    }

    /// <summary>Copies a stream (from the layer run on <see cref="AsStream"/>) into this state.</summary>
    public void Store(NeuralMemoryStream next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var m = next.Memory;
        // Chunk-start weights first: they may still be this cache's current weights.
        for (int l = 0; l < Weights.Length; l++) ChunkStart[l].CopyFrom(m.ChunkStart[l].Data);
        for (int l = 0; l < Weights.Length; l++)
        {
            Momentum[l].CopyFrom(m.Momentum[l].Data);
            Weights[l].CopyFrom(m.Weights[l].Data);
        }
        Offset = m.Offset;
        if (next.QueryTail is not null) QueryTail!.CopyFrom(next.QueryTail.Data);
        if (next.KeyValueTail is not null) KeyValueTail!.CopyFrom(next.KeyValueTail.Data);
    }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        foreach (var t in Weights.Concat(Momentum).Concat(ChunkStart)) t.Dispose();
        QueryTail?.Dispose();
        KeyValueTail?.Dispose();
    }
}
