using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Attention"/> (math at the top of Attention.cs). The forward and the dQ pass
/// run blocks of <see cref="QueryBlock"/> query rows in parallel over (batch, head, query block); each block walks the
/// <see cref="KeyTile"/>-key tiles its mask range covers, and each row of the block computes scores only over the hull of
/// its own visible keys in the tile (Vector256 FMA dot products, four keys at a time). The dK/dV pass runs in parallel
/// over (batch, kv head, key block), each block owning its dK/dV rows (no races, no partial buffers): per query tile it
/// stores Pᵀ and dSᵀ (key-major) in stack scratch and adds Σ_i P_ij dO_i and Σ_i dS_ij q_i into its rows.
/// No heap allocation beyond the outputs; scratch is stack memory (at most 2·64·64 floats).
/// </summary>
internal static class AttentionCpu
{
    private const int QueryBlock = 64;
    private const int KeyTile = 64;

    // ---- forward -------------------------------------------------------------------------------------------------

    public static void Forward(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
    {
        int blocks = (s.QueryLength + QueryBlock - 1) / QueryBlock;
        float[] qa = q.Data, ka = k.Data, va = v.Data, oa = o.Data, la = lse.Data;
        int qOff = q.Offset, kOff = k.Offset, vOff = v.Offset, oOff = o.Offset, lOff = lse.Offset;
        CpuParallel.For(s.Batch * s.QueryHeads * blocks, 1, (i0, i1) =>
        {
            Span<float> m = stackalloc float[QueryBlock], l = stackalloc float[QueryBlock], p = stackalloc float[KeyTile];
            for (int item = i0; item < i1; item++)
            {
                int bh = item / blocks, r0 = item % blocks * QueryBlock, r1 = Math.Min(r0 + QueryBlock, s.QueryLength);
                int b = bh / s.QueryHeads, kvh = b * s.KvHeads + bh % s.QueryHeads / s.Group;
                int qBase = qOff + bh * s.QueryLength * s.D, oBase = oOff + bh * s.QueryLength * s.Dv;
                int kBase = kOff + kvh * s.KeyLength * s.D, vBase = vOff + kvh * s.KeyLength * s.Dv;
                m.Fill(float.NegativeInfinity);
                l.Clear();
                new Span<float>(oa, oBase + r0 * s.Dv, (r1 - r0) * s.Dv).Clear();
                var ranges = s.KeysFor(r0, r1);
                for (int part = 0; part < 2; part++)
                {
                    var range = part == 0 ? ranges.First : ranges.Second;
                    for (int c0 = range.Start; c0 < range.End; c0 += KeyTile)
                    {
                        int c1 = Math.Min(c0 + KeyTile, range.End);
                        for (int r = r0; r < r1; r++)
                        {
                            var row = KeysOfRow(s, r, c0, c1);
                            if (row.Count <= 0) continue;
                            var pr = p[..row.Count];
                            Scores(s, row, qa, qBase + r * s.D, ka, kBase, pr);
                            int ri = r - r0;
                            float mNew = Math.Max(m[ri], TensorPrimitives.Max(pr));
                            float alpha = MathF.Exp(m[ri] - mNew);
                            m[ri] = mNew;
                            TensorPrimitives.Subtract(pr, mNew, pr);
                            TensorPrimitives.Exp(pr, pr);
                            l[ri] = l[ri] * alpha + TensorPrimitives.Sum(pr);
                            var orow = new Span<float>(oa, oBase + r * s.Dv, s.Dv);
                            if (alpha != 1f) TensorPrimitives.Multiply(orow, alpha, orow);
                            AddWeighted(oa, oBase + r * s.Dv, va, vBase + row.Lo * s.Dv, s.Dv, pr);
                        }
                    }
                }
                for (int r = r0; r < r1; r++)
                {
                    int ri = r - r0;
                    bool any = l[ri] > 0f;
                    if (any) TensorPrimitives.Multiply(new Span<float>(oa, oBase + r * s.Dv, s.Dv), 1f / l[ri], new Span<float>(oa, oBase + r * s.Dv, s.Dv));
                    la[lOff + bh * s.QueryLength + r] = any ? m[ri] + MathF.Log(l[ri]) : float.NegativeInfinity;
                }
            }
        });
    }

    /// <summary>
    /// The keys of the tile [c0, c1) visible to query row r: the interval [Lo, Hi) (empty when Lo ≥ Hi) minus the
    /// masked gap [GapLo, GapHi) between the two key ranges of the Λ mask (empty for every other mask: a single query
    /// row's key range is exact, see <see cref="AttentionMask.KeyRange"/>).
    /// </summary>
    private readonly record struct RowKeys(int Lo, int Hi, int GapLo, int GapHi)
    {
        public int Count => Hi - Lo;
    }

    private static RowKeys KeysOfRow(in AttentionSpec s, int r, int c0, int c1)
    {
        var keys = s.KeysFor(r, r + 1);
        int a0 = Math.Max(keys.First.Start, c0), e0 = Math.Min(keys.First.End, c1);
        int a1 = Math.Max(keys.Second.Start, c0), e1 = Math.Min(keys.Second.End, c1);
        if (a1 >= e1) return new RowKeys(a0, e0, 0, 0);
        if (a0 >= e0) return new RowKeys(a1, e1, 0, 0);
        return new RowKeys(a0, e1, e0, a1);
    }

    /// <summary>Scores of row r for keys [row.Lo, row.Hi): scale·q·k, −∞ in the masked gap.</summary>
    private static void Scores(in AttentionSpec s, RowKeys row, float[] qa, int qRow, float[] ka, int kBase, Span<float> scores)
    {
        Dots(qa, qRow, ka, kBase + row.Lo * s.D, s.D, scores);
        TensorPrimitives.Multiply(scores, s.Scale, scores);
        if (row.GapHi > row.GapLo) scores[(row.GapLo - row.Lo)..(row.GapHi - row.Lo)].Fill(float.NegativeInfinity);
    }

    // ---- backward ------------------------------------------------------------------------------------------------

    public static void RowDot(Tensor o, Tensor dO, Tensor delta, int dv)
    {
        float[] oa = o.Data, ga = dO.Data, da = delta.Data;
        int oOff = o.Offset, gOff = dO.Offset, dOff = delta.Offset;
        CpuParallel.For(delta.Length, Math.Max(1, 16384 / dv), (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                da[dOff + r] = TensorPrimitives.Dot(new ReadOnlySpan<float>(oa, oOff + r * dv, dv), new ReadOnlySpan<float>(ga, gOff + r * dv, dv));
        });
    }

    public static void Backward(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor lse, Tensor dO, Tensor delta,
        Tensor? dq, Tensor? dk, Tensor? dv)
    {
        if (dk is not null) KeyValueGrads(s, q, k, v, lse, dO, delta, dk, dv!);
        if (dq is not null) QueryGrads(s, q, k, v, lse, dO, delta, dq);
    }

    /// <summary>
    /// For row r and its keys [row.Lo, row.Hi) (p and ds of that length): P = e^(scale·q·k − lse) (0 where masked), and into ds
    /// dS·scale = P ⊙ (dO·v − Δ)·scale. Returns false when the row sees no key (lse = −∞).
    /// </summary>
    private static bool ProbabilitiesAndGrads(in AttentionSpec s, int r, RowKeys row, float[] qa, int qBase, float[] ka, int kBase,
        float[] va, int vBase, float[] ga, int gBase, float lseRow, float deltaRow, Span<float> p, Span<float> ds)
    {
        if (float.IsNegativeInfinity(lseRow)) return false;
        Scores(s, row, qa, qBase + r * s.D, ka, kBase, p);
        TensorPrimitives.Subtract(p, lseRow, p);
        TensorPrimitives.Exp(p, p);
        Dots(ga, gBase + r * s.Dv, va, vBase + row.Lo * s.Dv, s.Dv, ds);
        TensorPrimitives.Subtract(ds, deltaRow, ds);
        TensorPrimitives.Multiply(ds, p, ds);
        TensorPrimitives.Multiply(ds, s.Scale, ds);
        return true;
    }

    private static void QueryGrads(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor lse, Tensor dO, Tensor delta, Tensor dq)
    {
        int blocks = (s.QueryLength + QueryBlock - 1) / QueryBlock;
        float[] qa = q.Data, ka = k.Data, va = v.Data, ga = dO.Data, la = lse.Data, da = delta.Data, dqa = dq.Data;
        int qOff = q.Offset, kOff = k.Offset, vOff = v.Offset, gOff = dO.Offset, lOff = lse.Offset, dOff = delta.Offset, dqOff = dq.Offset;
        CpuParallel.For(s.Batch * s.QueryHeads * blocks, 1, (i0, i1) =>
        {
            Span<float> p = stackalloc float[KeyTile], ds = stackalloc float[KeyTile];
            for (int item = i0; item < i1; item++)
            {
                int bh = item / blocks, r0 = item % blocks * QueryBlock, r1 = Math.Min(r0 + QueryBlock, s.QueryLength);
                int b = bh / s.QueryHeads, kvh = b * s.KvHeads + bh % s.QueryHeads / s.Group;
                int qBase = qOff + bh * s.QueryLength * s.D, gBase = gOff + bh * s.QueryLength * s.Dv;
                int kBase = kOff + kvh * s.KeyLength * s.D, vBase = vOff + kvh * s.KeyLength * s.Dv;
                int dqBase = dqOff + bh * s.QueryLength * s.D, row0 = bh * s.QueryLength;
                new Span<float>(dqa, dqBase + r0 * s.D, (r1 - r0) * s.D).Clear();
                var ranges = s.KeysFor(r0, r1);
                for (int part = 0; part < 2; part++)
                {
                    var range = part == 0 ? ranges.First : ranges.Second;
                    for (int c0 = range.Start; c0 < range.End; c0 += KeyTile)
                    {
                        int c1 = Math.Min(c0 + KeyTile, range.End);
                        for (int r = r0; r < r1; r++)
                        {
                            var row = KeysOfRow(s, r, c0, c1);
                            if (row.Count <= 0) continue;
                            var pr = p[..row.Count];
                            var dsr = ds[..row.Count];
                            if (!ProbabilitiesAndGrads(s, r, row, qa, qBase, ka, kBase, va, vBase, ga, gBase,
                                    la[lOff + row0 + r], da[dOff + row0 + r], pr, dsr)) continue;
                            AddWeighted(dqa, dqBase + r * s.D, ka, kBase + row.Lo * s.D, s.D, dsr);
                        }
                    }
                }
            }
        });
    }

    private static void KeyValueGrads(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor lse, Tensor dO, Tensor delta, Tensor dk, Tensor dv)
    {
        int blocks = (s.KeyLength + KeyTile - 1) / KeyTile;
        float[] qa = q.Data, ka = k.Data, va = v.Data, ga = dO.Data, la = lse.Data, da = delta.Data, dka = dk.Data, dva = dv.Data;
        int qOff = q.Offset, kOff = k.Offset, vOff = v.Offset, gOff = dO.Offset, lOff = lse.Offset, dOff = delta.Offset;
        int dkOff = dk.Offset, dvOff = dv.Offset;
        CpuParallel.For(s.Batch * s.KvHeads * blocks, 1, (i0, i1) =>
        {
            // Key-major tiles: pt[c·QueryBlock + i] = P_ij and dst[c·QueryBlock + i] = scale·dS_ij for key c of the block.
            Span<float> pt = stackalloc float[KeyTile * QueryBlock], dst = stackalloc float[KeyTile * QueryBlock];
            Span<float> p = stackalloc float[KeyTile], ds = stackalloc float[KeyTile];
            for (int item = i0; item < i1; item++)
            {
                int kvh = item / blocks, c0 = item % blocks * KeyTile, c1 = Math.Min(c0 + KeyTile, s.KeyLength), cols = c1 - c0;
                int b = kvh / s.KvHeads;
                int kBase = kOff + kvh * s.KeyLength * s.D, vBase = vOff + kvh * s.KeyLength * s.Dv;
                int dkBase = dkOff + kvh * s.KeyLength * s.D, dvBase = dvOff + kvh * s.KeyLength * s.Dv;
                new Span<float>(dka, dkBase + c0 * s.D, cols * s.D).Clear();
                new Span<float>(dva, dvBase + c0 * s.Dv, cols * s.Dv).Clear();
                var queries = s.QueriesFor(c0, c1);
                for (int g = 0; g < s.Group; g++)
                {
                    int bh = b * s.QueryHeads + kvh % s.KvHeads * s.Group + g, row0 = bh * s.QueryLength;
                    int qBase = qOff + row0 * s.D, gBase = gOff + row0 * s.Dv;
                    for (int t0 = queries.Start; t0 < queries.End; t0 += QueryBlock)
                    {
                        int t1 = Math.Min(t0 + QueryBlock, queries.End), rows = t1 - t0;
                        pt[..(cols * QueryBlock)].Clear();
                        dst[..(cols * QueryBlock)].Clear();
                        bool any = false;
                        for (int r = t0; r < t1; r++)
                        {
                            var row = KeysOfRow(s, r, c0, c1);
                            if (row.Count <= 0) continue;
                            var pr = p[..row.Count];
                            var dsr = ds[..row.Count];
                            if (!ProbabilitiesAndGrads(s, r, row, qa, qBase, ka, kBase, va, vBase, ga, gBase,
                                    la[lOff + row0 + r], da[dOff + row0 + r], pr, dsr)) continue;
                            for (int c = 0; c < pr.Length; c++)
                            {
                                pt[(row.Lo - c0 + c) * QueryBlock + r - t0] = pr[c];
                                dst[(row.Lo - c0 + c) * QueryBlock + r - t0] = dsr[c];
                            }
                            any = true;
                        }
                        if (!any) continue;
                        for (int c = 0; c < cols; c++)
                        {
                            AddWeighted(dva, dvBase + (c0 + c) * s.Dv, ga, gBase + t0 * s.Dv, s.Dv, pt.Slice(c * QueryBlock, rows));
                            AddWeighted(dka, dkBase + (c0 + c) * s.D, qa, qBase + t0 * s.D, s.D, dst.Slice(c * QueryBlock, rows));
                        }
                    }
                }
            }
        });
    }

    // ---- merge ---------------------------------------------------------------------------------------------------

    public static void Merge(Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
    {
        int dv = o.Size(3);
        float[] aa = oA.Data, ba = oB.Data, la = lseA.Data, lb = lseB.Data, oa = o.Data, lo = lse.Data;
        int aOff = oA.Offset, bOff = oB.Offset, laOff = lseA.Offset, lbOff = lseB.Offset, oOff = o.Offset, loOff = lse.Offset;
        CpuParallel.For(lse.Length, Math.Max(1, 16384 / dv), (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                float x = la[laOff + r], y = lb[lbOff + r], m = Math.Max(x, y);
                var dst = new Span<float>(oa, oOff + r * dv, dv);
                if (float.IsNegativeInfinity(m))
                {
                    dst.Clear();
                    lo[loOff + r] = float.NegativeInfinity;
                    continue;
                }
                float wa = MathF.Exp(x - m), wb = MathF.Exp(y - m), total = wa + wb;
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(aa, aOff + r * dv, dv), wa / total, dst);
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(ba, bOff + r * dv, dv), wb / total, dst, dst);
                lo[loOff + r] = m + MathF.Log(total);
            }
        });
    }

    // ---- SIMD micro-kernels --------------------------------------------------------------------------------------

    /// <summary>dst[c] = x·rows[c] for the dst.Length rows of length n starting at rows[ro] (stride n), four rows at a time.</summary>
    private static void Dots(float[] x, int xo, float[] rows, int ro, int n, Span<float> dst)
    {
        ref float xr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x), xo);
        ref float rr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(rows), ro);
        int count = dst.Length, c = 0;
        for (; c + 4 <= count; c += 4)
        {
            ref float r0 = ref Unsafe.Add(ref rr, c * n);
            ref float r1 = ref Unsafe.Add(ref r0, n);
            ref float r2 = ref Unsafe.Add(ref r1, n);
            ref float r3 = ref Unsafe.Add(ref r2, n);
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                var xv = Vector256.LoadUnsafe(ref xr, (nuint)i);
                a0 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref r0, (nuint)i), a0);
                a1 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref r1, (nuint)i), a1);
                a2 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref r2, (nuint)i), a2);
                a3 = Vector256.FusedMultiplyAdd(xv, Vector256.LoadUnsafe(ref r3, (nuint)i), a3);
            }
            float s0 = Vector256.Sum(a0), s1 = Vector256.Sum(a1), s2 = Vector256.Sum(a2), s3 = Vector256.Sum(a3);
            for (; i < n; i++)
            {
                float xi = Unsafe.Add(ref xr, i);
                s0 += xi * Unsafe.Add(ref r0, i);
                s1 += xi * Unsafe.Add(ref r1, i);
                s2 += xi * Unsafe.Add(ref r2, i);
                s3 += xi * Unsafe.Add(ref r3, i);
            }
            dst[c] = s0;
            dst[c + 1] = s1;
            dst[c + 2] = s2;
            dst[c + 3] = s3;
        }
        for (; c < count; c++)
            dst[c] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x, xo, n), new ReadOnlySpan<float>(rows, ro + c * n, n));
    }

    /// <summary>acc[ao .. ao+n) += Σ_c w[c]·rows[c] for the w.Length rows of length n starting at rows[ro], four rows at a time.</summary>
    private static void AddWeighted(float[] acc, int ao, float[] rows, int ro, int n, ReadOnlySpan<float> w)
    {
        ref float ar = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(acc), ao);
        ref float rr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(rows), ro);
        int count = w.Length, c = 0;
        for (; c + 4 <= count; c += 4)
        {
            float w0 = w[c], w1 = w[c + 1], w2 = w[c + 2], w3 = w[c + 3];
            if (w0 == 0f && w1 == 0f && w2 == 0f && w3 == 0f) continue;
            ref float r0 = ref Unsafe.Add(ref rr, c * n);
            ref float r1 = ref Unsafe.Add(ref r0, n);
            ref float r2 = ref Unsafe.Add(ref r1, n);
            ref float r3 = ref Unsafe.Add(ref r2, n);
            Vector256<float> v0 = Vector256.Create(w0), v1 = Vector256.Create(w1), v2 = Vector256.Create(w2), v3 = Vector256.Create(w3);
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                var a = Vector256.LoadUnsafe(ref ar, (nuint)i);
                a = Vector256.FusedMultiplyAdd(v0, Vector256.LoadUnsafe(ref r0, (nuint)i), a);
                a = Vector256.FusedMultiplyAdd(v1, Vector256.LoadUnsafe(ref r1, (nuint)i), a);
                a = Vector256.FusedMultiplyAdd(v2, Vector256.LoadUnsafe(ref r2, (nuint)i), a);
                a = Vector256.FusedMultiplyAdd(v3, Vector256.LoadUnsafe(ref r3, (nuint)i), a);
                a.StoreUnsafe(ref ar, (nuint)i);
            }
            for (; i < n; i++)
                Unsafe.Add(ref ar, i) += w0 * Unsafe.Add(ref r0, i) + w1 * Unsafe.Add(ref r1, i) + w2 * Unsafe.Add(ref r2, i) + w3 * Unsafe.Add(ref r3, i);
        }
        for (; c < count; c++)
            if (w[c] != 0f)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(rows, ro + c * n, n), w[c], new ReadOnlySpan<float>(acc, ao, n), new Span<float>(acc, ao, n));
    }
}
