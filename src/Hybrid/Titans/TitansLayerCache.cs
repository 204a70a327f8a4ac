using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

/// <summary>
/// Inference state of one Titans mixer layer for a batch: its neural memory (<see cref="Memory"/>), the attention keys and
/// values it still needs (<see cref="Keys"/>, <see cref="Values"/> [batch, heads, rows, head_dim], rotated: first the
/// persistent tokens' rows, then cached tokens in order — the last Window tokens for MAG/MAL, the current segment for
/// MAC), and for MAC the query-convolution tail of its memory read and the memory weights at the segment start.
/// </summary>
public sealed class TitansLayerCache : IDisposable
{
    internal TitansLayerCache(NeuralMemoryCache memory, Tensor keys, Tensor values, Tensor? readTail = null, Tensor[]? segmentStart = null)
    {
        Memory = memory;
        Keys = keys.DetachFromScope();
        Values = values.DetachFromScope();
        PrefixRows = keys.Size(2);
        ReadTail = readTail?.DetachFromScope();
        SegmentStart = segmentStart?.Select(t => t.DetachFromScope()).ToArray();
    }

    /// <summary>The layer's neural memory state.</summary>
    public NeuralMemoryCache Memory { get; }
    /// <summary>Cached attention keys [batch, heads, rows, head_dim] (persistent rows first).</summary>
    public Tensor Keys { get; private set; }
    /// <summary>Cached attention values, like <see cref="Keys"/>.</summary>
    public Tensor Values { get; private set; }
    /// <summary>Rows of <see cref="Keys"/> that belong to the persistent tokens (always kept).</summary>
    public int PrefixRows { get; }
    /// <summary>Tokens this layer has consumed (persistent tokens not counted).</summary>
    public int Position { get; internal set; }
    /// <summary>MAC: the query-convolution tail of the memory read over the layer input (null otherwise or without convolutions).</summary>
    public Tensor? ReadTail { get; }
    /// <summary>MAC: the memory weights at the start of the current segment (null otherwise).</summary>
    public Tensor[]? SegmentStart { get; }
    /// <summary>MAC: tokens of the current segment consumed.</summary>
    public int InSegment { get; internal set; }

    /// <summary>Replaces the cached keys and values with copies of the given tensors.</summary>
    internal void SetKeysValues(Tensor keys, Tensor values)
    {
        var k = keys.Clone().DetachFromScope();
        var v = values.Clone().DetachFromScope();
        Keys.Dispose();
        Values.Dispose();
        Keys = k;
        Values = v;
    }

    /// <summary>Releases the tensors.</summary>
    public void Dispose()
    {
        Memory.Dispose();
        Keys.Dispose();
        Values.Dispose();
        ReadTail?.Dispose();
        if (SegmentStart is not null) foreach (var t in SegmentStart) t.Dispose();
    }
}
