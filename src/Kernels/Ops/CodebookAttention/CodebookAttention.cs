namespace Ssm.Kernels;

// Codebook (VQ-key) attention in linear time (Lingle, "Transformer-VQ: Linear-Time Transformers via Vector Quantization",
// 2023, transformer-vq/transformer_vq src/transformer_vq/nn/attn.py and attn2.py; the attention of LongVQ, Liu et al. 2024).
// Keys are codewords, k̂_j = c_{z_j}, so Σ_{j: z_j = s} exp(q·k̂_j)·v_j = exp(q·c_s)·Σ_{j: z_j = s} v_j: softmax attention over
// any set of quantized keys equals attention over the S codes with the per-code count n_s and value sum m_s (score
// q·c_s + ln n_s, value m_s/n_s, −∞ for n_s = 0). With blocks of L positions, query i in block r sees
//   exactly   the keys of block r−1 and of block r (j ≤ i when causal; also block r+1 when not causal),
//   cached    blocks b ≤ r−2 (causal), or every block with |b − r| ≥ 2 (not causal), as per-code aggregates,
// all under one softmax normalizer (scores scaled by `scale`, default 1/√D):
//   o_i = (Σ_{j in window} e^{s_ij − m} v_j + Σ_s e^{scale·q_i·c_s + ln n_s − m} m_s/n_s) / Z_i,  lse_i = m + ln Z_i.
// This equals ordinary causal (or full) softmax attention over the quantized keys for every block length; block
// aggregates are prefix (and suffix) sums over blocks, lagged by two blocks, so memory is O(T/L·S·V), never T×T.
// Backward (P_ij = e^{s_ij − lse_i}, δ_i = dO_i·o_i):
//   window  dv_j += P_ij dO_i,  dS_ij = P_ij (dO_i·v_j − δ_i),  dq_i += scale·dS_ij k̂_j,  dk̂_j += scale·dS_ij q_i
//   cache   P_is = e^{scale·q_i·c_s − lse_i}·n_s,  dq_i += scale·P_is (dO_i·m_s/n_s − δ_i) c_s,
//           dv_j += Σ_{i sees block(j) cached} e^{scale·q_i·c_{z_j} − lse_i} dO_i   (per-block code sums G_r, then a lagged
//           suffix (and prefix) scan over blocks).
// Keys seen through the cache stand as their codeword: the codebook is an input without a gradient (it is learned by
// EMA), so dk̂ collects the window terms only — the exact gradient of this op with respect to its k̂ input, and the
// Transformer-VQ convention (its cache scores use the stop-gradient codebook).

/// <summary>Sizes and flags of one codebook-attention call (rows bh = b·H + h of T positions).</summary>
internal readonly struct AttnDims
{
    public readonly int BatchHeads, Heads, Length, Dim, ValueDim, Codes, Block, Blocks, Causal, PerHeadCodebook;
    public readonly float Scale;

    public AttnDims(int batchHeads, int heads, int length, int dim, int valueDim, int codes, int block, bool causal, bool perHeadCodebook, float scale)
    {
        BatchHeads = batchHeads; Heads = heads; Length = length; Dim = dim; ValueDim = valueDim; Codes = codes; Block = block;
        Blocks = (length + block - 1) / block; Causal = causal ? 1 : 0; PerHeadCodebook = perHeadCodebook ? 1 : 0; Scale = scale;
    }

    /// <summary>Offset of row (bh, i) in a [B, H, T] tensor (times D or V for the vector tensors).</summary>
    public int Row(int bh, int i) => bh * Length + i;

    /// <summary>Offset of codebook row [h, 0] / [0] for row bh (times D for the float offset).</summary>
    public int CodeRow(int bh) => PerHeadCodebook != 0 ? bh % Heads * Codes : 0;

    /// <summary>Offset of the per-code cache slot [bh, r, 0] in [BH, R, S] (times V for the sums).</summary>
    public int CacheSlot(int bh, int r) => (bh * Blocks + r) * Codes;

    /// <summary>First position of block r (clamped to T).</summary>
    public int BlockStart(int r) => Math.Min(Length, Math.Max(0, r) * Block);

    /// <summary>Keys query i of block r sees exactly: [start, end).</summary>
    public void QueryWindow(int r, int i, out int start, out int end)
    {
        start = BlockStart(r - 1);
        end = Causal != 0 ? i + 1 : BlockStart(r + 2);
    }

    /// <summary>Queries that see key j of block b exactly: [start, end).</summary>
    public void KeyWindow(int b, int j, out int start, out int end)
    {
        start = Causal != 0 ? j : BlockStart(b - 1);
        end = BlockStart(b + 2);
    }
}

/// <summary>The output of <see cref="CodebookAttention.Forward"/> plus what its backward needs.</summary>
/// <param name="Output">o [B, H, T, V].</param>
/// <param name="LogSumExp">lse [B, H, T]: the log of each query's softmax normalizer (in scaled-score units).</param>
public sealed record CodebookAttentionOutput(Tensor Output, Tensor LogSumExp);

/// <summary>Gradients of <see cref="CodebookAttention"/> (null where not requested).</summary>
/// <param name="DQ">dL/dq [B, H, T, D].</param>
/// <param name="DK">dL/dk̂ [B, H, T, D] (window terms; see the op's remarks).</param>
/// <param name="DV">dL/dv [B, H, T, V].</param>
public sealed record CodebookAttentionGradients(Tensor? DQ, Tensor? DK, Tensor? DV);

/// <summary>
/// Linear-time softmax attention over vector-quantized keys (Transformer-VQ / LongVQ): exact attention to the current
/// and previous block (and the next one when not causal), per-code aggregates (count, value sum) for every other block,
/// one softmax normalizer. Inputs: q, k̂ [B, H, T, D] (k̂ the quantized keys, rows of the codebook picked by
/// <c>codes</c>, as <see cref="VectorQuantize.Nearest"/> returns them), v [B, H, T, V], codes [B, H, T] (int32) and the
/// codebook [S, D] or [H, S, D]. The result equals ordinary causal (or full) softmax attention over k̂ for every block
/// length L. Time O(T·(L + S)·(D + V)), memory O(T/L·S·V). CPU: parallel over (batch·head, block); ILGPU: a group per
/// (batch·head, block, tile of queries or keys), a thread per query (key, code) with online softmax and key/code tiles
/// in shared memory, block aggregates by atomics and a scan over blocks. Codes outside [0, S) are rejected (on ILGPU
/// devices only when <see cref="IndexValidation.CheckOnIlgpu"/>; unchecked, such a key is left out of the caches and its
/// value gradient is NaN, and no kernel reads out of bounds).
/// </summary>
public static class CodebookAttention
{
    /// <summary>
    /// Forward pass; <paramref name="scale"/> multiplies the scores q·k̂ and q·c_s (default 1/√D).
    /// </summary>
    public static CodebookAttentionOutput Forward(Tensor q, Tensor k, Tensor v, Tensor codes, Tensor codebook, int blockLength,
        bool causal = true, float? scale = null)
    {
        var d = Check("CodebookAttention.Forward", q, k, v, codes, codebook, blockLength, causal, scale);
        var o = Tensor.Empty(v.Shape, DType.Float32, q.Device);
        var lse = Tensor.Empty(codes.Shape, DType.Float32, q.Device);
        if (o.Length == 0 || lse.Length == 0)
        {
            o.Zero();
            return new CodebookAttentionOutput(o, lse);
        }
        using var scope = TensorScope.Begin();
        var (counts, sums) = Cache(codes, v, d, before: true, after: !causal);
        if (q.Device.IsIlgpu) CodebookAttentionGpu.Forward(q, k, v, codebook, counts, sums, o, lse, d);
        else CodebookAttentionCpu.Forward(q, k, v, codebook, counts, sums, o, lse, d);
        return new CodebookAttentionOutput(o, lse);
    }

    /// <summary>
    /// Backward pass from the upstream gradient <paramref name="dOut"/> [B, H, T, V] and the forward's output; the other
    /// arguments as given to <see cref="Forward"/>. Computes dq, dk̂, dv where asked for (dk̂ holds the window terms: the
    /// op reads k̂ only there; cached keys enter through the codebook, which gets no gradient).
    /// </summary>
    public static CodebookAttentionGradients Backward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor codes, Tensor codebook,
        CodebookAttentionOutput forward, int blockLength, bool causal = true, float? scale = null,
        bool needQ = true, bool needK = true, bool needV = true)
    {
        const string op = "CodebookAttention.Backward";
        ArgumentNullException.ThrowIfNull(forward);
        var d = Check(op, q, k, v, codes, codebook, blockLength, causal, scale);
        foreach (var (t, name, shape) in new[] { (dOut, "dOut", v.Shape.ToArray()), (forward.Output, "forward.Output", v.Shape.ToArray()), (forward.LogSumExp, "forward.LogSumExp", codes.Shape.ToArray()) })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, q, "q", t, name);
            Guard.Shape(op, t, name, shape, name == "forward.LogSumExp" ? "[batch, heads, length]" : "(v's shape [batch, heads, length, V])");
        }
        var dq = needQ ? Tensor.Zeros(q.Shape, DType.Float32, q.Device) : null;
        var dk = needK ? Tensor.Zeros(k.Shape, DType.Float32, q.Device) : null;
        var dv = needV ? Tensor.Zeros(v.Shape, DType.Float32, q.Device) : null;
        if (q.Length == 0 || v.Length == 0 || !(needQ || needK || needV)) return new CodebookAttentionGradients(dq, dk, dv);
        using var scope = TensorScope.Begin();
        var (counts, sums) = Cache(codes, v, d, before: true, after: !causal);
        var ctx = new AttnBackward(dOut, q, k, v, codes, codebook, forward.Output, forward.LogSumExp, counts, sums, dq, dk, dv);
        if (q.Device.IsIlgpu) CodebookAttentionGpu.Backward(ctx, d);
        else CodebookAttentionCpu.Backward(ctx, d);
        return new CodebookAttentionGradients(dq, dk, dv);
    }

    /// <summary>
    /// Per-code counts [BH, R, S] and value sums [BH, R, S, V] that each query block sees through the cache: blocks
    /// b ≤ r−2 (<paramref name="before"/>) and b ≥ r+2 (<paramref name="after"/>).
    /// </summary>
    private static (Tensor Counts, Tensor Sums) Cache(Tensor codes, Tensor v, in AttnDims d, bool before, bool after)
    {
        var (counts, sums) = VectorQuantize.AggregateByCode(codes.Reshape(d.BatchHeads, d.Length),
            v.Reshape(d.BatchHeads, d.Length, d.ValueDim), d.Codes, d.Block);
        return (LaggedBlockSums(counts, d.BatchHeads, d.Blocks, d.Codes, before, after),
                LaggedBlockSums(sums, d.BatchHeads, d.Blocks, d.Codes * d.ValueDim, before, after));
    }

    /// <summary>
    /// out[g, r] = (before ? Σ_{b ≤ r−2} x[g, b] : 0) + (after ? Σ_{b ≥ r+2} x[g, b] : 0) for x [G, R, W] (any trailing
    /// shape of W elements per block): the blocks a query block sees through the cache (or, with before/after swapped,
    /// the query blocks that see a key block through it).
    /// </summary>
    internal static Tensor LaggedBlockSums(Tensor x, int groups, int blocks, int width, bool before, bool after)
    {
        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        if (y.Length == 0) return y;
        if (x.Device.IsIlgpu) CodebookAttentionGpu.LaggedBlockSums(x, y, groups, blocks, width, before, after);
        else CodebookAttentionCpu.LaggedBlockSums(x, y, groups, blocks, width, before, after);
        return y;
    }

    private static AttnDims Check(string op, Tensor q, Tensor k, Tensor v, Tensor codes, Tensor codebook, int blockLength, bool causal, float? scale)
    {
        foreach (var (x, name) in new[] { (q, "q"), (k, "k"), (v, "v"), (codebook, "codebook") })
        {
            Guard.DType(op, x, name, DType.Float32);
            Guard.SameDevice(op, q, "q", x, name);
        }
        Guard.DType(op, codes, "codes", DType.Int32);
        Guard.SameDevice(op, q, "q", codes, "codes");
        Guard.Rank(op, q, "q", 4, "[batch, heads, length, D]");
        int b = q.Size(0), h = q.Size(1), t = q.Size(2), dim = q.Size(3);
        Guard.Shape(op, k, "k", q.Shape, $"(q's shape [batch, heads, length, D] = {Shapes.Format(q.Shape)})");
        Guard.Shape(op, v, "v", new[] { b, h, t, -1 }, $"[{b}, {h}, {t}, V] (batch, heads, length of q)");
        Guard.Shape(op, codes, "codes", new[] { b, h, t }, $"[{b}, {h}, {t}] (batch, heads, length of q)");
        if (codebook.Rank == 2) Guard.Shape(op, codebook, "codebook", new[] { -1, dim }, $"[S, {dim}] (D of q)");
        else if (codebook.Rank == 3) Guard.Shape(op, codebook, "codebook", new[] { h, -1, dim }, $"[{h}, S, {dim}] (heads and D of q)");
        else throw new ArgumentException($"{op}: codebook has shape {Shapes.Format(codebook.Shape)}, expected [S, {dim}] or [{h}, S, {dim}].", nameof(codebook));
        Guard.Positive(op, "D (q.Size(3))", dim);
        Guard.Positive(op, "V (v.Size(3))", v.Size(3));
        Guard.Positive(op, "codebook size S", codebook.Size(-2));
        Guard.Positive(op, nameof(blockLength), blockLength);
        float s = scale ?? 1f / MathF.Sqrt(dim);
        if (!float.IsFinite(s)) throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{op}: scale must be finite, got {s}.");
        IndexValidation.CheckRange(op, codes, "codes", codebook.Size(-2), null, $"codebook size S of codebook {Shapes.Format(codebook.Shape)}");
        return new AttnDims(b * h, h, t, dim, v.Size(3), codebook.Size(-2), blockLength, causal, codebook.Rank == 3, s);
    }
}

/// <summary>The tensors of one backward call (outputs null where not requested).</summary>
internal sealed record AttnBackward(Tensor DOut, Tensor Q, Tensor K, Tensor V, Tensor Codes, Tensor Codebook, Tensor Output,
    Tensor LogSumExp, Tensor CacheCounts, Tensor CacheSums, Tensor? DQ, Tensor? DK, Tensor? DV);
