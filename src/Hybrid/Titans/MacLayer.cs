using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

/// <summary>
/// Titans MAC (memory as context, §4.1), per segment S of <see cref="TitansConfig.SegmentLength"/> tokens with the memory
/// M_{s−1} left by the previous segments:
///   h = M*_{s−1}(q(S))                                   (retrieval with the segment's queries, no write)
///   y = Attn([persistent ‖ h ‖ S])                       (segment attention; outputs at the segment's tokens)
///   M_s = write y into M_{s−1};  o = out_proj(RMSNorm(y) ⊙ σ(RMSNorm(M*(y))))   (update with the attention output, as the
///                                                        paper says — not with the layer input — and gate by the memory)
/// Causality: token i attends to all persistent tokens and to h_j and S_j for j ≤ i only (h_j is computed from token j's
/// own query, so seeing h_j for j &gt; i would leak the future). The keys are laid out [persistent, h_0, S_0, h_1, S_1, …]
/// under a causal mask (h_j and S_j share rotary position np + j) and the outputs are read at the S rows. The memory's
/// write-and-read of y runs in its chunks within the segment (reads at chunk-start weights), so the whole layer is causal
/// and runs token by token in <see cref="Forward(Variable, TitansLayerCache)"/> exactly as over whole segments.
/// Parameters: those of <see cref="TitansMixer"/> plus <c>attn_norm</c>, <c>memory_norm</c>, <c>out_proj</c>.
/// </summary>
public sealed class MacLayer : GatedTitansMixer
{
    /// <summary>Creates the layer.</summary>
    public MacLayer(TitansConfig config, Rng rng, Device? device = null) : base(config, rng, device ?? Device.Default)
    {
        if (config.SegmentLength % config.Memory.ChunkSize != 0)
            throw new ArgumentException($"MacLayer: segment_length {config.SegmentLength} must be a multiple of the memory chunk size {config.Memory.ChunkSize}.");
    }

    /// <summary>
    /// The layer's running state: the memory stream, the query-convolution tail of the read over the layer input, the
    /// memory weights at the segment start, the segment's keys/values so far (persistent rows first) and its position.
    /// </summary>
    private sealed record State(NeuralMemoryStream Memory, Variable? ReadTail, IReadOnlyList<Variable> SegmentStart,
        Variable Keys, Variable Values, int InSegment);

    /// <inheritdoc />
    public override Variable Forward(Variable x)
    {
        var (batch, _) = CheckInput("MacLayer.Forward", x);
        var memory = Memory.InitialStream(batch);
        Variable keys, values;
        if (Persistent is null) keys = values = new Variable(EmptyKeys(batch));
        else (keys, values) = PrefixKeysValues(Persistent.Expand(batch));
        return Run(x, new State(memory, null, memory.Memory.Weights, keys, values, 0)).Output;
    }

    /// <inheritdoc />
    public override Variable Forward(Variable x, TitansLayerCache cache)
    {
        var (_, length) = CheckInput("MacLayer.Forward", x, cache);
        if (cache.SegmentStart is null)
            throw new ArgumentException("MacLayer.Forward: the cache was not allocated by a MacLayer (it has no segment-start memory).", nameof(cache));
        var state = new State(cache.Memory.AsStream(), cache.ReadTail is null ? null : new Variable(cache.ReadTail),
            cache.SegmentStart.Select(t => new Variable(t)).ToArray(), new Variable(cache.Keys), new Variable(cache.Values), cache.InSegment);
        var (o, next) = Run(x, state);
        cache.Memory.Store(next.Memory);
        if (next.ReadTail is not null) cache.ReadTail!.CopyFrom(next.ReadTail.Data);
        for (int l = 0; l < cache.SegmentStart.Length; l++)
            if (!ReferenceEquals(next.SegmentStart[l].Data, cache.SegmentStart[l])) cache.SegmentStart[l].CopyFrom(next.SegmentStart[l].Data);
        cache.SetKeysValues(next.Keys.Data, next.Values.Data);
        cache.InSegment = next.InSegment;
        cache.Position += length;
        return o;
    }

    /// <inheritdoc />
    public override TitansLayerCache AllocateCache(int batch)
    {
        Guard.Positive("MacLayer.AllocateCache", nameof(batch), batch);
        using var noGrad = Autograd.NoGrad();
        var memory = new NeuralMemoryCache(Memory, batch);
        var segmentStart = memory.Weights.Select(t => t.Clone()).ToArray();
        var readTail = memory.QueryTail is null ? null : Tensor.Zeros(memory.QueryTail.Shape, DType.Float32, memory.QueryTail.Device);
        if (Persistent is null) return new TitansLayerCache(memory, EmptyKeys(batch), EmptyKeys(batch), readTail, segmentStart);
        var (k, v) = PrefixKeysValues(Persistent.Expand(batch));
        return new TitansLayerCache(memory, k.Data, v.Data, readTail, segmentStart);
    }

    /// <summary>Runs x through the layer in pieces that end at segment boundaries.</summary>
    private (Variable Output, State Next) Run(Variable x, State state)
    {
        int length = x.Size(1), segment = Config.SegmentLength;
        var sizes = new List<int>();
        for (int at = 0, inSegment = state.InSegment; at < length; inSegment = 0)
        {
            int n = Math.Min(segment - inSegment, length - at);
            sizes.Add(n);
            at += n;
        }
        var pieces = sizes.Count <= 1 ? new[] { x } : F.Split(x, sizes.ToArray(), 1);
        var outputs = new List<Variable>();
        foreach (var piece in sizes.Count == 0 ? Array.Empty<Variable>() : pieces)
        {
            var (o, next) = Piece(piece, state);
            outputs.Add(o);
            state = next;
        }
        var output = outputs.Count switch
        {
            0 => new Variable(Tensor.Zeros(new[] { x.Size(0), 0, Config.DModel }, DType.Float32, x.Device)),
            1 => outputs[0],
            _ => F.Concat(outputs, 1),
        };
        return (output, state);
    }

    /// <summary>n tokens xs [B, n, d_model] of one segment, starting at position InSegment of it.</summary>
    private (Variable Output, State Next) Piece(Variable xs, State s)
    {
        int batch = xs.Size(0), n = xs.Size(1), d = Config.DModel, np = PersistentCount, i0 = s.InSegment;
        var (h, readTail) = Memory.Read(xs, s.SegmentStart, s.ReadTail);

        // Interleave [h_0, x_0, h_1, x_1, …]; h_j and x_j both at rotary position np + i0 + j.
        var z = F.Reshape(F.Concat(new[] { F.Reshape(h, batch, n, 1, d), F.Reshape(xs, batch, n, 1, d) }, 2), batch, 2 * n, d);
        var positions = new int[2 * n];
        for (int j = 0; j < 2 * n; j++) positions[j] = np + i0 + j / 2;
        var (q, k, v) = Attention.Project(z);
        q = Attention.Rotate(q, positions);
        k = Attention.Rotate(k, positions);
        int cached = s.Keys.Size(2);
        var keys = cached == 0 ? k : F.Concat(new[] { s.Keys, k }, 2);
        var values = cached == 0 ? v : F.Concat(new[] { s.Values, v }, 2);
        var attended = Attention.Attend(q, keys, values, AttentionMask.Causal, cached);
        var y = F.Reshape(F.Narrow(F.Reshape(attended, batch, n, 2, d), 2, 1, 1), batch, n, d);

        var (m, memory) = Memory.Forward(y, s.Memory);
        var output = Gate(y, m);

        int i1 = i0 + n;
        if (i1 < Config.SegmentLength)
            return (output, new State(memory, readTail, s.SegmentStart, keys, values, i1));
        // Segment complete: drop its keys (keep the persistent rows), remember the memory for the next retrieval.
        Variable Prefix(Variable t) => np == 0 ? new Variable(EmptyKeys(batch)) : F.Narrow(t, 2, 0, np);
        return (output, new State(memory, readTail, memory.Memory.Weights, Prefix(keys), Prefix(values), 0));
    }
}
