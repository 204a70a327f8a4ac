namespace Ssm.Kernels;

// Tiled softmax attention with online softmax, never materializing the Lq×Lk score matrix (FlashAttention, Dao et al.
// 2022; FlashAttention-2, Dao 2023, Algorithms 1 and 2). For query row i of head h (kv head h / (Hq/Hkv), GQA) and the
// keys j visible under the mask policy:
//   s_ij = scale·q_i·k_j,  lse_i = ln Σ_j e^(s_ij),  o_i = Σ_j e^(s_ij − lse_i)·v_j
// computed over key tiles with a running max m and sum l per row: m' = max(m, max_j s_ij), l' = l·e^(m−m') + Σ e^(s−m'),
// acc' = acc·e^(m−m') + Σ e^(s−m')·v_j; at the end o = acc/l, lse = m + ln l. Rows with no visible key get o = 0 and
// lse = −∞.
// Backward (FlashAttention-2): Δ_i = Σ_d dO_id·O_id, P_ij = e^(s_ij − lse_i) recomputed tile by tile,
//   dV_j += Σ_i P_ij dO_i,  dP_ij = dO_i·v_j,  dS_ij = P_ij(dP_ij − Δ_i),  dQ_i += scale·Σ_j dS_ij k_j,
//   dK_j += scale·Σ_i dS_ij q_i; with GQA, dK/dV of a kv head sum over the query heads of its group.
// Splitting the keys into disjoint sets A ∪ B: (o, lse) = merge of the per-set results, o = (e^lse_A o_A + e^lse_B o_B)/
// (e^lse_A + e^lse_B), lse = ln(e^lse_A + e^lse_B); the backward of each set with the merged (o, lse) gives that set's
// share of the gradients (P and Δ only depend on the merged values), which is how LambdaForward/LambdaBackward score
// LM-Infinite's global branch with a separate query/key pair.

/// <summary>Result of an attention forward.</summary>
/// <param name="Output">o [B, Hq, Lq, Dv].</param>
/// <param name="Lse">lse [B, Hq, Lq]: ln Σ_j e^(scale·q_i·k_j) over the visible keys (natural log; −∞ for a row that sees no key).</param>
public sealed record AttentionOutput(Tensor Output, Tensor Lse) : IDisposable
{
    /// <summary>Disposes both tensors.</summary>
    public void Dispose()
    {
        Output.Dispose();
        Lse.Dispose();
    }
}

/// <summary>Gradients of an attention backward (null where not requested).</summary>
/// <param name="Dq">dL/dq [B, Hq, Lq, D].</param>
/// <param name="Dk">dL/dk [B, Hkv, Lk, D].</param>
/// <param name="Dv">dL/dv [B, Hkv, Lk, Dv].</param>
public sealed record AttentionGradients(Tensor? Dq, Tensor? Dk, Tensor? Dv);

/// <summary>Gradients of <see cref="Attention.LambdaBackward"/> (null where not requested).</summary>
/// <param name="DqLocal">dL/dqLocal [B, Hq, Lq, D].</param>
/// <param name="DkLocal">dL/dkLocal [B, Hkv, Lk, D].</param>
/// <param name="DqGlobal">dL/dqGlobal [B, Hq, Lq, D].</param>
/// <param name="DkGlobal">dL/dkGlobal [B, Hkv, Lk, D] (zero beyond the global tokens).</param>
/// <param name="Dv">dL/dv [B, Hkv, Lk, Dv] (both branches).</param>
public sealed record LambdaAttentionGradients(Tensor? DqLocal, Tensor? DkLocal, Tensor? DqGlobal, Tensor? DkGlobal, Tensor? Dv);

/// <summary>
/// Scaled dot-product attention with a mask policy, FlashAttention-style: tiled, online softmax, O(L) memory (no L×L
/// matrix), tiles outside the mask skipped. Grouped-query attention (Hq a multiple of Hkv; query head h uses kv head
/// h / (Hq/Hkv)). <c>queryOffset</c> is the absolute position of query row 0 relative to key 0 (decoding with a KV cache:
/// Lq = 1, queryOffset = Lk − 1; chunked prefill: the chunk's start); masks are evaluated on absolute positions.
/// CPU: blocks of 64 query rows × 64-key tiles in parallel over (batch, head, query block), register-blocked Vector256
/// FMA micro-kernels; the backward runs two race-free passes: dK/dV parallel over (batch, kv head, key block), then dQ over (batch, head, query
/// block), each recomputing P. ILGPU: one thread group per (batch, head, query tile) with K/V tiles in shared memory;
/// backward as a dK/dV kernel per (batch, kv head, key tile) and a dQ kernel per (batch, head, query tile).
/// </summary>
public static class Attention
{
    /// <summary>The usual softmax scale 1/√D for head dimension <paramref name="headDim"/>.</summary>
    public static float DefaultScale(int headDim) => 1f / MathF.Sqrt(headDim);

    /// <summary>
    /// Attention forward: q [B, Hq, Lq, D], k [B, Hkv, Lk, D], v [B, Hkv, Lk, Dv] → o [B, Hq, Lq, Dv] and the row
    /// log-sum-exp lse [B, Hq, Lq] (saved for <see cref="Backward"/>). Scores are <paramref name="scale"/>·q·k (use
    /// <see cref="DefaultScale"/> for 1/√D). Rows that see no key get o = 0 and lse = −∞.
    /// </summary>
    public static AttentionOutput Forward(Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale, int queryOffset = 0)
    {
        var s = Check("Attention.Forward", q, k, v, mask, scale, queryOffset);
        return Run(s, q, k, v);
    }

    /// <summary>
    /// Attention backward from the forward's <paramref name="o"/> and <paramref name="lse"/> and the upstream gradient
    /// <paramref name="dO"/> [B, Hq, Lq, Dv]. Computes dq when <paramref name="queryGrad"/> and dk, dv when
    /// <paramref name="keyValueGrad"/>. <paramref name="o"/> and <paramref name="lse"/> may come from a merge of several
    /// key sets (<see cref="Merge"/>): the result is then this key set's share of the gradient.
    /// </summary>
    public static AttentionGradients Backward(Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse, Tensor dO, AttentionMask mask,
        float scale, int queryOffset = 0, bool queryGrad = true, bool keyValueGrad = true)
    {
        const string op = "Attention.Backward";
        var s = Check(op, q, k, v, mask, scale, queryOffset);
        CheckSaved(op, s, q, o, lse, dO);
        using var delta = RowDot(s, o, dO);
        return RunBackward(s, q, k, v, lse, dO, delta, queryGrad, keyValueGrad);
    }

    /// <summary>
    /// Combines the attention results of two disjoint key sets for the same queries into the result over their union:
    /// lse = ln(e^lse_a + e^lse_b), o = (e^lse_a·o_a + e^lse_b·o_b)/e^lse (rows seeing no key in either stay 0, −∞).
    /// </summary>
    public static AttentionOutput Merge(AttentionOutput a, AttentionOutput b)
    {
        const string op = "Attention.Merge";
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        Guard.DType(op, a.Output, "a.Output", DType.Float32);
        Guard.Rank(op, a.Output, "a.Output", 4, "[batch, heads, length, Dv]");
        var shape = a.Output.Shape;
        Guard.Shape(op, a.Lse, "a.Lse", shape[..3], "[batch, heads, length] (a.Output without Dv)");
        Guard.SameDevice(op, a.Output, "a.Output", b.Output, "b.Output");
        Guard.Shape(op, b.Output, "b.Output", shape, "(the shape of a.Output)");
        Guard.Shape(op, b.Lse, "b.Lse", shape[..3], "(the shape of a.Lse)");
        var o = Tensor.Empty(shape, DType.Float32, a.Output.Device);
        var lse = Tensor.Empty(shape[..3], DType.Float32, a.Output.Device);
        if (o.Length > 0)
        {
            if (o.Device.IsIlgpu) AttentionGpu.Merge(a.Output, a.Lse, b.Output, b.Lse, o, lse);
            else AttentionCpu.Merge(a.Output, a.Lse, b.Output, b.Lse, o, lse);
        }
        return new AttentionOutput(o, lse);
    }

    /// <summary>
    /// LM-Infinite's Λ-shaped attention (Han et al. 2023, Glaciohound/LM-Infinite models/llama.py with
    /// models/lambda_attention.py) with its two branches scored separately: keys inside the local window
    /// (0 ≤ i − j &lt; <paramref name="localWindow"/>) with <paramref name="qLocal"/>·<paramref name="kLocal"/> (RoPE at
    /// the true positions), the leading <paramref name="globalTokens"/> keys outside it (i − j ≥ localWindow) with
    /// <paramref name="qGlobal"/>·<paramref name="kGlobal"/> (LM-Infinite: queries rotated to the fixed distance limit,
    /// keys unrotated), under one softmax over both. All query/key tensors have the shapes of q/k in
    /// <see cref="Forward"/>; v is shared. With qGlobal = qLocal and kGlobal = kLocal this equals Forward with
    /// <see cref="AttentionMask.LambdaShaped"/>.
    /// </summary>
    public static AttentionOutput LambdaForward(Tensor qLocal, Tensor kLocal, Tensor qGlobal, Tensor kGlobal, Tensor v,
        int globalTokens, int localWindow, float scale, int queryOffset = 0)
    {
        var (local, global) = CheckLambda("Attention.LambdaForward", qLocal, kLocal, qGlobal, kGlobal, v, globalTokens, localWindow, scale, queryOffset);
        using var a = Run(local, qLocal, kLocal, v);
        using var b = Run(global, qGlobal, kGlobal, v);
        return Merge(a, b);
    }

    /// <summary>
    /// Backward of <see cref="LambdaForward"/> from its <paramref name="o"/>, <paramref name="lse"/> and the upstream
    /// gradient <paramref name="dO"/>: the query/key gradients of each branch (when <paramref name="queryGrad"/> /
    /// <paramref name="keyValueGrad"/>) and dv of both branches together (when keyValueGrad).
    /// </summary>
    public static LambdaAttentionGradients LambdaBackward(Tensor qLocal, Tensor kLocal, Tensor qGlobal, Tensor kGlobal, Tensor v,
        Tensor o, Tensor lse, Tensor dO, int globalTokens, int localWindow, float scale, int queryOffset = 0,
        bool queryGrad = true, bool keyValueGrad = true)
    {
        const string op = "Attention.LambdaBackward";
        var (local, global) = CheckLambda(op, qLocal, kLocal, qGlobal, kGlobal, v, globalTokens, localWindow, scale, queryOffset);
        CheckSaved(op, local, qLocal, o, lse, dO);
        using var delta = RowDot(local, o, dO);
        var a = RunBackward(local, qLocal, kLocal, v, lse, dO, delta, queryGrad, keyValueGrad);
        var b = RunBackward(global, qGlobal, kGlobal, v, lse, dO, delta, queryGrad, keyValueGrad);
        if (a.Dv is not null)
        {
            Elementwise.Axpy(1f, b.Dv!, a.Dv);
            b.Dv!.Dispose();
        }
        return new LambdaAttentionGradients(a.Dq, a.Dk, b.Dq, b.Dk, a.Dv);
    }

    // ---- running ---------------------------------------------------------------------------------------------------

    private static AttentionOutput Run(AttentionSpec s, Tensor q, Tensor k, Tensor v)
    {
        var dev = q.Device;
        var o = Tensor.Empty(new[] { s.Batch, s.QueryHeads, s.QueryLength, s.Dv }, DType.Float32, dev);
        var lse = Tensor.Empty(new[] { s.Batch, s.QueryHeads, s.QueryLength }, DType.Float32, dev);
        if (lse.Length > 0)
        {
            if (dev.IsIlgpu) AttentionGpu.Forward(s, q, k, v, o, lse);
            else AttentionCpu.Forward(s, q, k, v, o, lse);
        }
        return new AttentionOutput(o, lse);
    }

    /// <summary>Δ_i = Σ_d dO_id·O_id per query row, [B, Hq, Lq].</summary>
    private static Tensor RowDot(AttentionSpec s, Tensor o, Tensor dO)
    {
        var delta = Tensor.Empty(new[] { s.Batch, s.QueryHeads, s.QueryLength }, DType.Float32, o.Device);
        if (delta.Length > 0)
        {
            if (o.Device.IsIlgpu) AttentionGpu.RowDot(o, dO, delta, s.Dv);
            else AttentionCpu.RowDot(o, dO, delta, s.Dv);
        }
        return delta;
    }

    private static AttentionGradients RunBackward(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor lse, Tensor dO, Tensor delta,
        bool queryGrad, bool keyValueGrad)
    {
        var dev = q.Device;
        var dq = queryGrad ? Tensor.Empty(q.Shape, DType.Float32, dev) : null;
        var dk = keyValueGrad ? Tensor.Empty(k.Shape, DType.Float32, dev) : null;
        var dv = keyValueGrad ? Tensor.Empty(new[] { s.Batch, s.KvHeads, s.KeyLength, s.Dv }, DType.Float32, dev) : null;
        if (dev.IsIlgpu) AttentionGpu.Backward(s, q, k, v, lse, dO, delta, dq, dk, dv);
        else AttentionCpu.Backward(s, q, k, v, lse, dO, delta, dq, dk, dv);
        return new AttentionGradients(dq, dk, dv);
    }

    // ---- checks ----------------------------------------------------------------------------------------------------

    private static AttentionSpec Check(string op, Tensor q, Tensor k, Tensor v, AttentionMask mask, float scale, int queryOffset)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        foreach (var (t, name, layout) in new[] { (q, "q", "[batch, query heads, query length, D]"),
                     (k, "k", "[batch, kv heads, key length, D]"), (v, "v", "[batch, kv heads, key length, Dv]") })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.Rank(op, t, name, 4, layout);
        }
        Guard.SameDevice(op, q, "q", k, "k");
        Guard.SameDevice(op, q, "q", v, "v");
        int b = q.Size(0), hq = q.Size(1), d = q.Size(3), hkv = k.Size(1), lk = k.Size(2);
        Guard.Shape(op, k, "k", new[] { b, -1, -1, d }, $"[batch, kv heads, key length, D] (batch {b} and D {d} from q)");
        Guard.Shape(op, v, "v", new[] { b, hkv, lk, -1 }, $"[batch, kv heads, key length, Dv] (batch {b}, kv heads {hkv} and key length {lk} from k)");
        Guard.That(d >= 1 && v.Size(3) >= 1, op, nameof(q), $"q has D = {d} and v has Dv = {v.Size(3)}; both must be ≥ 1.");
        Guard.That(hkv >= 1 && hq % hkv == 0, op, nameof(k),
            $"q has {hq} heads and k has {hkv}; the query heads must be a positive multiple of the kv heads (grouped-query attention).");
        if (!float.IsFinite(scale))
            throw new ArgumentOutOfRangeException(nameof(scale), scale, $"{op}: scale is {scale}, expected a finite number.");
        if (queryOffset < 0)
            throw new ArgumentOutOfRangeException(nameof(queryOffset), queryOffset,
                $"{op}: queryOffset is {queryOffset}, expected ≥ 0 (the absolute position of query row 0; key j is at position j).");
        return new AttentionSpec
        {
            Batch = b, QueryHeads = hq, KvHeads = hkv, Group = hq / hkv, QueryLength = q.Size(2), KeyLength = lk,
            D = d, Dv = v.Size(3), QueryOffset = queryOffset, Scale = scale, Mask = mask,
        };
    }

    private static void CheckSaved(string op, AttentionSpec s, Tensor q, Tensor o, Tensor lse, Tensor dO)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(lse);
        ArgumentNullException.ThrowIfNull(dO);
        var outShape = new[] { s.Batch, s.QueryHeads, s.QueryLength, s.Dv };
        foreach (var (t, name) in new[] { (o, "o"), (dO, "dO") })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, q, "q", t, name);
            Guard.Shape(op, t, name, outShape, "[batch, query heads, query length, Dv] (the forward's output)");
        }
        Guard.DType(op, lse, "lse", DType.Float32);
        Guard.SameDevice(op, q, "q", lse, "lse");
        Guard.Shape(op, lse, "lse", outShape.AsSpan(0, 3), "[batch, query heads, query length] (from the forward)");
    }

    private static (AttentionSpec local, AttentionSpec global) CheckLambda(string op, Tensor qLocal, Tensor kLocal, Tensor qGlobal, Tensor kGlobal,
        Tensor v, int globalTokens, int localWindow, float scale, int queryOffset)
    {
        var local = Check(op, qLocal, kLocal, v, AttentionMask.SlidingWindow(localWindow), scale, queryOffset);
        var global = Check(op, qGlobal, kGlobal, v, AttentionMask.LambdaGlobalBranch(globalTokens, localWindow), scale, queryOffset);
        Guard.Shape(op, qGlobal, "qGlobal", qLocal.Shape, "(the shape of qLocal)");
        Guard.Shape(op, kGlobal, "kGlobal", kLocal.Shape, "(the shape of kLocal)");
        return (local, global);
    }
}

/// <summary>Sizes, scale and mask of one attention call (also the ILGPU kernel parameter).</summary>
internal struct AttentionSpec
{
    /// <summary>Batch size B.</summary>
    public int Batch;
    /// <summary>Query heads Hq.</summary>
    public int QueryHeads;
    /// <summary>Key/value heads Hkv.</summary>
    public int KvHeads;
    /// <summary>Hq / Hkv: query heads per kv head.</summary>
    public int Group;
    /// <summary>Query rows Lq.</summary>
    public int QueryLength;
    /// <summary>Key rows Lk.</summary>
    public int KeyLength;
    /// <summary>Query/key head dimension.</summary>
    public int D;
    /// <summary>Value head dimension.</summary>
    public int Dv;
    /// <summary>Absolute position of query row 0.</summary>
    public int QueryOffset;
    /// <summary>Score scale.</summary>
    public float Scale;
    /// <summary>Mask policy.</summary>
    public AttentionMask Mask;
    /// <summary>Rows (queries or keys) per tile (ILGPU kernels).</summary>
    public int Tile;

    /// <summary>Key rows visible to query rows [r0, r1) (row indices, clipped to the key length).</summary>
    public readonly KeyRanges KeysFor(int r0, int r1) => Mask.KeyRange(QueryOffset + r0, QueryOffset + r1, KeyLength);

    /// <summary>Query rows (indices in [0, Lq)) that see at least one key of [c0, c1).</summary>
    public readonly PositionRange QueriesFor(int c0, int c1)
    {
        var r = Mask.QueryRange(c0, c1);
        int start = Math.Max(r.Start - QueryOffset, 0);
        int end = (int)Math.Min((long)r.End - QueryOffset, QueryLength);
        return start < end ? new PositionRange(start, end) : new PositionRange(0, 0);
    }
}
