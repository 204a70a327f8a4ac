using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="CodebookAttention"/> (the math is in CodebookAttention.cs). Forward and the
/// dq pass run parallel over (batch·head, query block), one query at a time: window scores and cache scores go into one
/// buffer, softmaxed with TensorPrimitives. The dk̂/dv pass runs over (batch·head, key block), one key at a time over the
/// queries that see it exactly, then adds the cache term from the lagged scan of the per-block code sums G_r.
/// </summary>
internal static class CodebookAttentionCpu
{
    public static void LaggedBlockSums(Tensor x, Tensor y, int groups, int blocks, int width, bool before, bool after)
        => LaggedBlockSums(x.Data, x.Offset, y.Data, y.Offset, groups, blocks, width, before, after);

    private static void LaggedBlockSums(float[] xa, int xo, float[] ya, int yo, int groups, int blocks, int width, bool before, bool after)
    {
        CpuParallel.For(groups, 1, (start, end) =>
        {
            var run = new float[width];
            for (int g = start; g < end; g++)
            {
                int baseOffset = g * blocks * width;
                Array.Clear(run);
                for (int r = 0; r < blocks; r++)
                {
                    if (before && r >= 2) TensorPrimitives.Add(run, new ReadOnlySpan<float>(xa, xo + baseOffset + (r - 2) * width, width), run);
                    run.CopyTo(new Span<float>(ya, yo + baseOffset + r * width, width));
                }
                if (!after) continue;
                Array.Clear(run);
                for (int r = blocks - 1; r >= 0; r--)
                {
                    if (r + 2 < blocks) TensorPrimitives.Add(run, new ReadOnlySpan<float>(xa, xo + baseOffset + (r + 2) * width, width), run);
                    var dst = new Span<float>(ya, yo + baseOffset + r * width, width);
                    TensorPrimitives.Add(dst, run, dst);
                }
            }
        });
    }

    /// <summary>Per-block cache values: means m_s/n_s (0 for empty codes) and score biases ln n_s (−∞ for empty codes).</summary>
    private static void CacheValues(float[] na, int no, float[] sa, int so, int slot, int codes, int width, float[] means, float[] bias)
    {
        for (int s = 0; s < codes; s++)
        {
            float n = na[no + slot + s];
            var mean = new Span<float>(means, s * width, width);
            if (n > 0f)
            {
                bias[s] = MathF.Log(n);
                TensorPrimitives.Divide(new ReadOnlySpan<float>(sa, so + (slot + s) * width, width), n, mean);
            }
            else
            {
                bias[s] = float.NegativeInfinity;
                mean.Clear();
            }
        }
    }

    public static void Forward(Tensor q, Tensor k, Tensor v, Tensor codebook, Tensor counts, Tensor sums, Tensor o, Tensor lse, AttnDims d)
    {
        float[] qa = q.Data, ka = k.Data, va = v.Data, ca = codebook.Data, na = counts.Data, sa = sums.Data, oa = o.Data, la = lse.Data;
        int qo = q.Offset, ko = k.Offset, vo = v.Offset, co = codebook.Offset, no = counts.Offset, so = sums.Offset, oo = o.Offset, lo = lse.Offset;
        int D = d.Dim, V = d.ValueDim, S = d.Codes;
        CpuParallel.For(d.BatchHeads * d.Blocks, 1, (start, end) =>
        {
            var scores = new float[3 * d.Block + S];
            var means = new float[S * V];
            var bias = new float[S];
            for (int item = start; item < end; item++)
            {
                int bh = item / d.Blocks, r = item % d.Blocks, code0 = d.CodeRow(bh);
                CacheValues(na, no, sa, so, d.CacheSlot(bh, r), S, V, means, bias);
                for (int i = d.BlockStart(r); i < d.BlockStart(r + 1); i++)
                {
                    var qi = new ReadOnlySpan<float>(qa, qo + d.Row(bh, i) * D, D);
                    d.QueryWindow(r, i, out int ws, out int we);
                    int nw = we - ws;
                    for (int j = ws; j < we; j++)
                        scores[j - ws] = d.Scale * TensorPrimitives.Dot(qi, new ReadOnlySpan<float>(ka, ko + d.Row(bh, j) * D, D));
                    for (int s = 0; s < S; s++)
                        scores[nw + s] = float.IsNegativeInfinity(bias[s]) ? float.NegativeInfinity
                            : d.Scale * TensorPrimitives.Dot(qi, new ReadOnlySpan<float>(ca, co + (code0 + s) * D, D)) + bias[s];
                    var p = new Span<float>(scores, 0, nw + S);
                    float m = TensorPrimitives.Max(p);
                    TensorPrimitives.Subtract(p, m, p);
                    TensorPrimitives.Exp(p, p);
                    float z = TensorPrimitives.Sum(p);
                    var oi = new Span<float>(oa, oo + d.Row(bh, i) * V, V);
                    oi.Clear();
                    for (int j = ws; j < we; j++)
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(va, vo + d.Row(bh, j) * V, V), p[j - ws], oi, oi);
                    for (int s = 0; s < S; s++)
                        if (p[nw + s] != 0f) TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(means, s * V, V), p[nw + s], oi, oi);
                    TensorPrimitives.Multiply(oi, 1f / z, oi);
                    la[lo + d.Row(bh, i)] = m + MathF.Log(z);
                }
            }
        });
    }

    public static void Backward(AttnBackward c, AttnDims d)
    {
        int D = d.Dim, V = d.ValueDim, S = d.Codes;
        float[] qa = c.Q.Data, ka = c.K.Data, va = c.V.Data, ca = c.Codebook.Data, na = c.CacheCounts.Data, sa = c.CacheSums.Data,
            ga = c.DOut.Data, oa = c.Output.Data, la = c.LogSumExp.Data;
        int qo = c.Q.Offset, ko = c.K.Offset, vo = c.V.Offset, co = c.Codebook.Offset, no = c.CacheCounts.Offset, so = c.CacheSums.Offset,
            go = c.DOut.Offset, oo = c.Output.Offset, lo = c.LogSumExp.Offset;
        int rows = d.BatchHeads * d.Length;

        // δ_i = dO_i·o_i.
        var delta = new float[rows];
        CpuParallel.For(rows, Math.Max(1, 4096 / V), (start, end) =>
        {
            for (int n = start; n < end; n++)
                delta[n] = TensorPrimitives.Dot(new ReadOnlySpan<float>(ga, go + n * V, V), new ReadOnlySpan<float>(oa, oo + n * V, V));
        });

        // Query-major pass: dq, and the per-block code sums G_r[s] = Σ_{i in r} e^{scale·q_i·c_s − lse_i} dO_i for dv.
        bool needKv = c.DK is not null || c.DV is not null;
        var blockGrads = c.DV is not null ? new float[d.BatchHeads * d.Blocks * S * V] : null;
        if (c.DQ is not null || blockGrads is not null)
        {
            float[]? dqa = c.DQ?.Data;
            int dqo = c.DQ?.Offset ?? 0;
            CpuParallel.For(d.BatchHeads * d.Blocks, 1, (start, end) =>
            {
                var means = new float[S * V];
                var bias = new float[S];
                for (int item = start; item < end; item++)
                {
                    int bh = item / d.Blocks, r = item % d.Blocks, code0 = d.CodeRow(bh), slot = d.CacheSlot(bh, r);
                    CacheValues(na, no, sa, so, slot, S, V, means, bias);
                    for (int i = d.BlockStart(r); i < d.BlockStart(r + 1); i++)
                    {
                        int row = d.Row(bh, i);
                        var qi = new ReadOnlySpan<float>(qa, qo + row * D, D);
                        var gi = new ReadOnlySpan<float>(ga, go + row * V, V);
                        var dqi = dqa is null ? Span<float>.Empty : new Span<float>(dqa, dqo + row * D, D);
                        float lseI = la[lo + row], deltaI = delta[row];
                        d.QueryWindow(r, i, out int ws, out int we);
                        if (dqa is not null)
                            for (int j = ws; j < we; j++)
                            {
                                var kj = new ReadOnlySpan<float>(ka, ko + d.Row(bh, j) * D, D);
                                float p = MathF.Exp(d.Scale * TensorPrimitives.Dot(qi, kj) - lseI);
                                float ds = p * (TensorPrimitives.Dot(gi, new ReadOnlySpan<float>(va, vo + d.Row(bh, j) * V, V)) - deltaI);
                                TensorPrimitives.MultiplyAdd(kj, d.Scale * ds, dqi, dqi);
                            }
                        for (int s = 0; s < S; s++)
                        {
                            if (float.IsNegativeInfinity(bias[s])) continue;
                            var cs = new ReadOnlySpan<float>(ca, co + (code0 + s) * D, D);
                            float e = MathF.Exp(d.Scale * TensorPrimitives.Dot(qi, cs) - lseI);
                            if (dqa is not null)
                            {
                                float p = e * na[no + slot + s];
                                float ds = p * (TensorPrimitives.Dot(gi, new ReadOnlySpan<float>(means, s * V, V)) - deltaI);
                                TensorPrimitives.MultiplyAdd(cs, d.Scale * ds, dqi, dqi);
                            }
                            if (blockGrads is not null)
                            {
                                var gs = new Span<float>(blockGrads, (slot + s) * V, V);
                                TensorPrimitives.MultiplyAdd(gi, e, gs, gs);
                            }
                        }
                    }
                }
            });
        }
        if (!needKv) return;

        // dv through the cache: key block b collects G_r of every query block r that sees it cached.
        float[]? cacheGrads = null;
        if (blockGrads is not null)
        {
            cacheGrads = new float[blockGrads.Length];
            LaggedBlockSums(blockGrads, 0, cacheGrads, 0, d.BatchHeads, d.Blocks, S * V, before: d.Causal == 0, after: true);
        }

        // Key-major pass: dk̂ and dv from the queries that see each key exactly, plus the cache term of dv.
        int[] za = c.Codes.CpuArray<int>();
        int zo = c.Codes.Offset;
        float[]? dka = c.DK?.Data, dva = c.DV?.Data;
        int dko = c.DK?.Offset ?? 0, dvo = c.DV?.Offset ?? 0;
        CpuParallel.For(d.BatchHeads * d.Blocks, 1, (start, end) =>
        {
            var dkj = new float[D];
            var dvj = new float[V];
            for (int item = start; item < end; item++)
            {
                int bh = item / d.Blocks, b = item % d.Blocks;
                for (int j = d.BlockStart(b); j < d.BlockStart(b + 1); j++)
                {
                    int rowJ = d.Row(bh, j);
                    var kj = new ReadOnlySpan<float>(ka, ko + rowJ * D, D);
                    var vj = new ReadOnlySpan<float>(va, vo + rowJ * V, V);
                    Array.Clear(dkj);
                    Array.Clear(dvj);
                    d.KeyWindow(b, j, out int qs, out int qe);
                    for (int i = qs; i < qe; i++)
                    {
                        int row = d.Row(bh, i);
                        var qi = new ReadOnlySpan<float>(qa, qo + row * D, D);
                        var gi = new ReadOnlySpan<float>(ga, go + row * V, V);
                        float p = MathF.Exp(d.Scale * TensorPrimitives.Dot(qi, kj) - la[lo + row]);
                        TensorPrimitives.MultiplyAdd(gi, p, dvj, dvj);
                        float ds = p * (TensorPrimitives.Dot(gi, vj) - delta[row]);
                        TensorPrimitives.MultiplyAdd(qi, d.Scale * ds, dkj, dkj);
                    }
                    if (dka is not null) dkj.CopyTo(new Span<float>(dka, dko + rowJ * D, D));
                    if (dva is not null)
                    {
                        var dst = new Span<float>(dva, dvo + rowJ * V, V);
                        dvj.CopyTo(dst);
                        if (cacheGrads is not null)
                            TensorPrimitives.Add(dst, new ReadOnlySpan<float>(cacheGrads, (d.CacheSlot(bh, b) + za[zo + rowJ]) * V, V), dst);
                    }
                }
            }
        });
    }
}
