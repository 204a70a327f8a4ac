using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Attention"/> (math at the top of Attention.cs). Work is cut into tiles of
/// <see cref="Tile"/> query rows × <see cref="Tile"/> keys. The forward and the dQ pass run in parallel over (batch,
/// head, query block) and walk the key tiles of the block's mask ranges; the dK/dV pass runs in parallel over (batch, kv
/// head, key block), each block owning its dK/dV rows (no races, no partial buffers), and walks the query tiles of its
/// mask's query range for every query head of its group. Inside a tile, query rows go in register blocks of four:
/// scores come from the key tile transposed to [D, Tile] (4 rows × 16 keys of Vector256 FMA accumulators, no horizontal
/// sums) over the aligned hull of the four rows' visible keys; products P·V, dS·K, Pᵀ·dO and dSᵀ·Q use 4 rows × 16
/// columns of accumulators. Masked entries inside a hull are set to −∞ before the exponential. Scratch (transposed
/// tiles, the score/probability tiles, row statistics) is rented once per worker chunk from the shared array pool.
/// </summary>
internal static class AttentionCpu
{
    private const int Tile = 64;
    private const int RowBlock = 4;

    /// <summary>The keys of a tile visible to one query row, relative to the tile start: [Lo, Hi) minus the masked gap [GapLo, GapHi).</summary>
    private readonly record struct RowKeys(int Lo, int Hi, int GapLo, int GapHi)
    {
        public bool IsEmpty => Hi <= Lo;
    }

    /// <summary>Per-worker scratch: K and V tiles transposed ([D or Dv, Tile]), two Tile×Tile tiles, row max and sum.</summary>
    private sealed class Scratch : IDisposable
    {
        public readonly float[] Kt, Vt, S, Ds, M, L;

        public Scratch(in AttentionSpec s)
        {
            var pool = ArrayPool<float>.Shared;
            (Kt, Vt, S, Ds, M, L) = (pool.Rent(s.D * Tile), pool.Rent(s.Dv * Tile), pool.Rent(Tile * Tile), pool.Rent(Tile * Tile),
                pool.Rent(Tile), pool.Rent(Tile));
        }

        public void Dispose()
        {
            foreach (var a in new[] { Kt, Vt, S, Ds, M, L }) ArrayPool<float>.Shared.Return(a);
        }
    }

    // ---- forward -------------------------------------------------------------------------------------------------

    public static void Forward(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
    {
        int blocks = (s.QueryLength + Tile - 1) / Tile;
        float[] qa = q.Data, ka = k.Data, va = v.Data, oa = o.Data, la = lse.Data;
        int qOff = q.Offset, kOff = k.Offset, vOff = v.Offset, oOff = o.Offset, lOff = lse.Offset;
        CpuParallel.For(s.Batch * s.QueryHeads * blocks, 1, (i0, i1) =>
        {
            using var w = new Scratch(s);
            Span<RowKeys> rowKeys = stackalloc RowKeys[RowBlock];
            for (int item = i0; item < i1; item++)
            {
                int bh = item / blocks, r0 = item % blocks * Tile, r1 = Math.Min(r0 + Tile, s.QueryLength);
                int b = bh / s.QueryHeads, kvh = b * s.KvHeads + bh % s.QueryHeads / s.Group;
                int qBase = qOff + bh * s.QueryLength * s.D, oBase = oOff + bh * s.QueryLength * s.Dv;
                int kBase = kOff + kvh * s.KeyLength * s.D, vBase = vOff + kvh * s.KeyLength * s.Dv;
                Array.Fill(w.M, float.NegativeInfinity, 0, Tile);
                Array.Clear(w.L, 0, Tile);
                new Span<float>(oa, oBase + r0 * s.Dv, (r1 - r0) * s.Dv).Clear();
                var ranges = s.KeysFor(r0, r1);
                for (int part = 0; part < 2; part++)
                {
                    var range = part == 0 ? ranges.First : ranges.Second;
                    for (int c0 = range.Start; c0 < range.End; c0 += Tile)
                    {
                        int c1 = Math.Min(c0 + Tile, range.End);
                        Transpose(ka, kBase + c0 * s.D, s.D, c1 - c0, w.Kt);
                        for (int ra = r0; ra < r1; ra += RowBlock)
                        {
                            int nr = Math.Min(RowBlock, r1 - ra);
                            var (lo, hi, lo8, hi8) = GroupScores(s, ra, nr, c0, c1, qa, qBase + ra * s.D, w.Kt, w.S, 0, rowKeys);
                            if (lo >= hi) continue;
                            for (int i = 0; i < nr; i++)
                            {
                                var p = new Span<float>(w.S, i * Tile + lo8, hi8 - lo8);
                                if (rowKeys[i].IsEmpty)
                                {
                                    p.Clear();
                                    continue;
                                }
                                int ri = ra + i - r0;
                                float mOld = w.M[ri], mNew = Math.Max(mOld, TensorPrimitives.Max(p)), alpha = MathF.Exp(mOld - mNew);
                                w.M[ri] = mNew;
                                TensorPrimitives.Subtract(p, mNew, p);
                                TensorPrimitives.Exp(p, p);
                                w.L[ri] = w.L[ri] * alpha + TensorPrimitives.Sum(p);
                                var orow = new Span<float>(oa, oBase + (ra + i) * s.Dv, s.Dv);
                                if (alpha != 1f) TensorPrimitives.Multiply(orow, alpha, orow);
                            }
                            AddProducts(w.S, 0, Tile, 1, nr, lo, hi, va, vBase + c0 * s.Dv, s.Dv, oa, oBase + ra * s.Dv, s.Dv, s.Dv);
                        }
                    }
                }
                for (int r = r0; r < r1; r++)
                {
                    float l = w.L[r - r0];
                    var orow = new Span<float>(oa, oBase + r * s.Dv, s.Dv);
                    if (l > 0f) TensorPrimitives.Multiply(orow, 1f / l, orow);
                    la[lOff + bh * s.QueryLength + r] = l > 0f ? w.M[r - r0] + MathF.Log(l) : float.NegativeInfinity;
                }
            }
        });
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
        var t = new BackwardTensors(q.Data, q.Offset, k.Data, k.Offset, v.Data, v.Offset, dO.Data, dO.Offset, lse.Data, lse.Offset,
            delta.Data, delta.Offset);
        if (dk is not null) KeyValueGrads(s, t, dk, dv!);
        if (dq is not null) QueryGrads(s, t, dq);
    }

    /// <summary>The backward's inputs as arrays and element offsets.</summary>
    private readonly record struct BackwardTensors(float[] Q, int QOff, float[] K, int KOff, float[] V, int VOff, float[] G, int GOff,
        float[] Lse, int LseOff, float[] Delta, int DeltaOff);

    /// <summary>
    /// For query rows [ra, ra + nr) of head row base <paramref name="row0"/> (= bh·Lq) against key tile [c0, c1) (w.Kt and
    /// w.Vt hold it transposed): P into w.S and scale·dS into w.Ds, rows at <paramref name="sRow"/> + i·Tile, over the
    /// aligned hull [lo8, hi8) returned with the exact hull [lo, hi) (empty when no row sees a key). Entries outside the
    /// hull are left untouched.
    /// </summary>
    private static (int lo, int hi) GroupGrads(in AttentionSpec s, in BackwardTensors t, Scratch w, int row0, int ra, int nr, int c0, int c1,
        int sRow, Span<RowKeys> rowKeys)
    {
        var (lo, hi, lo8, hi8) = GroupScores(s, ra, nr, c0, c1, t.Q, t.QOff + (row0 + ra) * s.D, w.Kt, w.S, sRow, rowKeys);
        if (lo >= hi) return (lo, hi);
        ScoreRows(t.G, t.GOff + (row0 + ra) * s.Dv, s.Dv, nr, s.Dv, w.Vt, lo8, hi8, w.Ds, sRow);
        for (int i = 0; i < nr; i++)
        {
            var p = new Span<float>(w.S, sRow + i * Tile + lo8, hi8 - lo8);
            var ds = new Span<float>(w.Ds, sRow + i * Tile + lo8, hi8 - lo8);
            float rowLse = t.Lse[t.LseOff + row0 + ra + i];
            if (rowKeys[i].IsEmpty || float.IsNegativeInfinity(rowLse))
            {
                p.Clear();
                ds.Clear();
                continue;
            }
            TensorPrimitives.Subtract(p, rowLse, p);
            TensorPrimitives.Exp(p, p);
            TensorPrimitives.Subtract(ds, t.Delta[t.DeltaOff + row0 + ra + i], ds);
            TensorPrimitives.Multiply(ds, p, ds);
            TensorPrimitives.Multiply(ds, s.Scale, ds);
        }
        return (lo, hi);
    }

    private static void QueryGrads(AttentionSpec s, BackwardTensors t, Tensor dq)
    {
        int blocks = (s.QueryLength + Tile - 1) / Tile;
        float[] dqa = dq.Data;
        int dqOff = dq.Offset;
        CpuParallel.For(s.Batch * s.QueryHeads * blocks, 1, (i0, i1) =>
        {
            using var w = new Scratch(s);
            Span<RowKeys> rowKeys = stackalloc RowKeys[RowBlock];
            for (int item = i0; item < i1; item++)
            {
                int bh = item / blocks, r0 = item % blocks * Tile, r1 = Math.Min(r0 + Tile, s.QueryLength);
                int b = bh / s.QueryHeads, kvh = b * s.KvHeads + bh % s.QueryHeads / s.Group, row0 = bh * s.QueryLength;
                int kBase = t.KOff + kvh * s.KeyLength * s.D, vBase = t.VOff + kvh * s.KeyLength * s.Dv;
                new Span<float>(dqa, dqOff + (row0 + r0) * s.D, (r1 - r0) * s.D).Clear();
                var ranges = s.KeysFor(r0, r1);
                for (int part = 0; part < 2; part++)
                {
                    var range = part == 0 ? ranges.First : ranges.Second;
                    for (int c0 = range.Start; c0 < range.End; c0 += Tile)
                    {
                        int c1 = Math.Min(c0 + Tile, range.End);
                        Transpose(t.K, kBase + c0 * s.D, s.D, c1 - c0, w.Kt);
                        Transpose(t.V, vBase + c0 * s.Dv, s.Dv, c1 - c0, w.Vt);
                        for (int ra = r0; ra < r1; ra += RowBlock)
                        {
                            int nr = Math.Min(RowBlock, r1 - ra);
                            var (lo, hi) = GroupGrads(s, t, w, row0, ra, nr, c0, c1, 0, rowKeys);
                            if (lo < hi)
                                AddProducts(w.Ds, 0, Tile, 1, nr, lo, hi, t.K, kBase + c0 * s.D, s.D, dqa, dqOff + (row0 + ra) * s.D, s.D, s.D);
                        }
                    }
                }
            }
        });
    }

    private static void KeyValueGrads(AttentionSpec s, BackwardTensors t, Tensor dk, Tensor dv)
    {
        int blocks = (s.KeyLength + Tile - 1) / Tile;
        float[] dka = dk.Data, dva = dv.Data;
        int dkOff = dk.Offset, dvOff = dv.Offset;
        CpuParallel.For(s.Batch * s.KvHeads * blocks, 1, (i0, i1) =>
        {
            using var w = new Scratch(s);
            Span<RowKeys> rowKeys = stackalloc RowKeys[RowBlock];
            for (int item = i0; item < i1; item++)
            {
                int kvh = item / blocks, c0 = item % blocks * Tile, c1 = Math.Min(c0 + Tile, s.KeyLength), cols = c1 - c0;
                int b = kvh / s.KvHeads, padded = (cols + 7) & ~7;
                int kBase = t.KOff + kvh * s.KeyLength * s.D, vBase = t.VOff + kvh * s.KeyLength * s.Dv;
                int dkBase = dkOff + kvh * s.KeyLength * s.D, dvBase = dvOff + kvh * s.KeyLength * s.Dv;
                new Span<float>(dka, dkBase + c0 * s.D, cols * s.D).Clear();
                new Span<float>(dva, dvBase + c0 * s.Dv, cols * s.Dv).Clear();
                Transpose(t.K, kBase + c0 * s.D, s.D, cols, w.Kt);
                Transpose(t.V, vBase + c0 * s.Dv, s.Dv, cols, w.Vt);
                var queries = s.QueriesFor(c0, c1);
                for (int g = 0; g < s.Group; g++)
                {
                    int bh = b * s.QueryHeads + kvh % s.KvHeads * s.Group + g, row0 = bh * s.QueryLength;
                    for (int t0 = queries.Start; t0 < queries.End; t0 += Tile)
                    {
                        int t1 = Math.Min(t0 + Tile, queries.End), rows = t1 - t0;
                        // P and scale·dS of the whole query tile × key block, rows (query − t0)·Tile; zero where no row computed.
                        for (int i = 0; i < rows; i++)
                        {
                            Array.Clear(w.S, i * Tile, padded);
                            Array.Clear(w.Ds, i * Tile, padded);
                        }
                        bool any = false;
                        for (int ra = t0; ra < t1; ra += RowBlock)
                        {
                            var (lo, hi) = GroupGrads(s, t, w, row0, ra, Math.Min(RowBlock, t1 - ra), c0, c1, (ra - t0) * Tile, rowKeys);
                            any |= lo < hi;
                        }
                        if (!any) continue;
                        for (int kk = 0; kk < cols; kk += RowBlock)
                        {
                            int nk = Math.Min(RowBlock, cols - kk);
                            AddProducts(w.S, kk, 1, Tile, nk, 0, rows, t.G, t.GOff + (row0 + t0) * s.Dv, s.Dv, dva, dvBase + (c0 + kk) * s.Dv, s.Dv, s.Dv);
                            AddProducts(w.Ds, kk, 1, Tile, nk, 0, rows, t.Q, t.QOff + (row0 + t0) * s.D, s.D, dka, dkBase + (c0 + kk) * s.D, s.D, s.D);
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

    // ---- tiles -----------------------------------------------------------------------------------------------------

    private static RowKeys KeysOfRow(in AttentionSpec s, int r, int c0, int c1)
    {
        var keys = s.KeysFor(r, r + 1);
        int a0 = Math.Max(keys.First.Start, c0) - c0, e0 = Math.Min(keys.First.End, c1) - c0;
        int a1 = Math.Max(keys.Second.Start, c0) - c0, e1 = Math.Min(keys.Second.End, c1) - c0;
        if (a1 >= e1) return new RowKeys(a0, e0, 0, 0);
        if (a0 >= e0) return new RowKeys(a1, e1, 0, 0);
        return new RowKeys(a0, e1, e0, a1);
    }

    /// <summary>
    /// Scores of query rows [ra, ra + nr) (x rows from <paramref name="xRow"/>, stride D) against key tile [c0, c1)
    /// (transposed in kt) into sc[sRow + i·Tile + c], c relative to c0: scale·q·k where visible, −∞ where masked, over the
    /// hull [lo8, hi8) of the rows' visible keys rounded out to multiples of 8. Returns the exact hull [lo, hi) too (lo ≥ hi
    /// when no row sees a key of the tile); rowKeys receives each row's keys.
    /// </summary>
    private static (int lo, int hi, int lo8, int hi8) GroupScores(in AttentionSpec s, int ra, int nr, int c0, int c1, float[] x, int xRow,
        float[] kt, float[] sc, int sRow, Span<RowKeys> rowKeys)
    {
        int lo = Tile, hi = 0;
        for (int i = 0; i < nr; i++)
        {
            var rk = rowKeys[i] = KeysOfRow(s, ra + i, c0, c1);
            if (rk.IsEmpty) continue;
            lo = Math.Min(lo, rk.Lo);
            hi = Math.Max(hi, rk.Hi);
        }
        if (lo >= hi) return (lo, hi, 0, 0);
        int lo8 = lo & ~7, hi8 = (hi + 7) & ~7;
        ScoreRows(x, xRow, s.D, nr, s.D, kt, lo8, hi8, sc, sRow);
        for (int i = 0; i < nr; i++)
        {
            var row = new Span<float>(sc, sRow + i * Tile + lo8, hi8 - lo8);
            var rk = rowKeys[i];
            if (rk.IsEmpty)
            {
                row.Fill(float.NegativeInfinity);
                continue;
            }
            TensorPrimitives.Multiply(row, s.Scale, row);
            row[..(rk.Lo - lo8)].Fill(float.NegativeInfinity);
            row[(rk.Hi - lo8)..].Fill(float.NegativeInfinity);
            if (rk.GapHi > rk.GapLo) row[(rk.GapLo - lo8)..(rk.GapHi - lo8)].Fill(float.NegativeInfinity);
        }
        return (lo, hi, lo8, hi8);
    }

    /// <summary>dst[d·Tile + c] = src[so + c·n + d] for c &lt; cols, d &lt; n; columns up to the next multiple of 8 are zeroed.</summary>
    private static void Transpose(float[] src, int so, int n, int cols, float[] dst)
    {
        int padded = (cols + 7) & ~7;
        for (int c = 0; c < cols; c++)
            for (int d = 0; d < n; d++)
                dst[d * Tile + c] = src[so + c * n + d];
        for (int d = 0; d < n; d++)
            Array.Clear(dst, d * Tile + cols, padded - cols);
    }

    // ---- SIMD micro-kernels --------------------------------------------------------------------------------------

    /// <summary>
    /// sc[so + i·Tile + c] = Σ_d x[xo + i·xs + d]·yt[d·Tile + c] for rows i &lt; nr (≤ 4) and c ∈ [cLo, cHi) (multiples
    /// of 8): 4 rows × 16 columns of Vector256 accumulators, then 4 × 8.
    /// </summary>
    private static void ScoreRows(float[] x, int xo, int xs, int nr, int n, float[] yt, int cLo, int cHi, float[] sc, int so)
    {
        ref float xr = ref MemoryMarshal.GetArrayDataReference(x);
        ref float yr = ref MemoryMarshal.GetArrayDataReference(yt);
        ref float sr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(sc), so);
        ref float x0 = ref Unsafe.Add(ref xr, xo);
        ref float x1 = ref Unsafe.Add(ref x0, nr > 1 ? xs : 0);
        ref float x2 = ref Unsafe.Add(ref x0, nr > 2 ? 2 * xs : 0);
        ref float x3 = ref Unsafe.Add(ref x0, nr > 3 ? 3 * xs : 0);
        int c = cLo;
        for (; c + 16 <= cHi; c += 16)
        {
            Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
            for (int d = 0; d < n; d++)
            {
                ref float y = ref Unsafe.Add(ref yr, d * Tile + c);
                var y0 = Vector256.LoadUnsafe(ref y);
                var y1 = Vector256.LoadUnsafe(ref y, 8);
                var b = Vector256.Create(Unsafe.Add(ref x0, d));
                a00 = Vector256.FusedMultiplyAdd(b, y0, a00);
                a01 = Vector256.FusedMultiplyAdd(b, y1, a01);
                b = Vector256.Create(Unsafe.Add(ref x1, d));
                a10 = Vector256.FusedMultiplyAdd(b, y0, a10);
                a11 = Vector256.FusedMultiplyAdd(b, y1, a11);
                b = Vector256.Create(Unsafe.Add(ref x2, d));
                a20 = Vector256.FusedMultiplyAdd(b, y0, a20);
                a21 = Vector256.FusedMultiplyAdd(b, y1, a21);
                b = Vector256.Create(Unsafe.Add(ref x3, d));
                a30 = Vector256.FusedMultiplyAdd(b, y0, a30);
                a31 = Vector256.FusedMultiplyAdd(b, y1, a31);
            }
            a00.StoreUnsafe(ref sr, (nuint)c);
            a01.StoreUnsafe(ref sr, (nuint)(c + 8));
            if (nr > 1) { a10.StoreUnsafe(ref sr, (nuint)(Tile + c)); a11.StoreUnsafe(ref sr, (nuint)(Tile + c + 8)); }
            if (nr > 2) { a20.StoreUnsafe(ref sr, (nuint)(2 * Tile + c)); a21.StoreUnsafe(ref sr, (nuint)(2 * Tile + c + 8)); }
            if (nr > 3) { a30.StoreUnsafe(ref sr, (nuint)(3 * Tile + c)); a31.StoreUnsafe(ref sr, (nuint)(3 * Tile + c + 8)); }
        }
        if (c < cHi)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int d = 0; d < n; d++)
            {
                var y0 = Vector256.LoadUnsafe(ref Unsafe.Add(ref yr, d * Tile + c));
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref x0, d)), y0, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref x1, d)), y0, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref x2, d)), y0, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref x3, d)), y0, a3);
            }
            a0.StoreUnsafe(ref sr, (nuint)c);
            if (nr > 1) a1.StoreUnsafe(ref sr, (nuint)(Tile + c));
            if (nr > 2) a2.StoreUnsafe(ref sr, (nuint)(2 * Tile + c));
            if (nr > 3) a3.StoreUnsafe(ref sr, (nuint)(3 * Tile + c));
        }
    }

    /// <summary>
    /// c[co + i·cs + j] += Σ_{t ∈ [t0, t1)} a[ao + i·ai + t·at]·b[bo + t·bs + j] for rows i &lt; ni (≤ 4) and j &lt; n:
    /// 4 rows × 16 columns of Vector256 accumulators, then 4 × 8, then scalar columns.
    /// </summary>
    private static void AddProducts(float[] a, int ao, int ai, int at, int ni, int t0, int t1, float[] b, int bo, int bs,
        float[] c, int co, int cs, int n)
    {
        ref float ar = ref MemoryMarshal.GetArrayDataReference(a);
        ref float br = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(b), bo);
        ref float cr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(c), co);
        ref float p0 = ref Unsafe.Add(ref ar, ao);
        ref float p1 = ref Unsafe.Add(ref p0, ni > 1 ? ai : 0);
        ref float p2 = ref Unsafe.Add(ref p0, ni > 2 ? 2 * ai : 0);
        ref float p3 = ref Unsafe.Add(ref p0, ni > 3 ? 3 * ai : 0);
        int j = 0;
        for (; j + 16 <= n; j += 16)
        {
            Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
            for (int t = t0; t < t1; t++)
            {
                ref float y = ref Unsafe.Add(ref br, t * bs + j);
                var y0 = Vector256.LoadUnsafe(ref y);
                var y1 = Vector256.LoadUnsafe(ref y, 8);
                var w = Vector256.Create(Unsafe.Add(ref p0, t * at));
                a00 = Vector256.FusedMultiplyAdd(w, y0, a00);
                a01 = Vector256.FusedMultiplyAdd(w, y1, a01);
                w = Vector256.Create(Unsafe.Add(ref p1, t * at));
                a10 = Vector256.FusedMultiplyAdd(w, y0, a10);
                a11 = Vector256.FusedMultiplyAdd(w, y1, a11);
                w = Vector256.Create(Unsafe.Add(ref p2, t * at));
                a20 = Vector256.FusedMultiplyAdd(w, y0, a20);
                a21 = Vector256.FusedMultiplyAdd(w, y1, a21);
                w = Vector256.Create(Unsafe.Add(ref p3, t * at));
                a30 = Vector256.FusedMultiplyAdd(w, y0, a30);
                a31 = Vector256.FusedMultiplyAdd(w, y1, a31);
            }
            AddTo(ref Unsafe.Add(ref cr, j), a00, a01);
            if (ni > 1) AddTo(ref Unsafe.Add(ref cr, cs + j), a10, a11);
            if (ni > 2) AddTo(ref Unsafe.Add(ref cr, 2 * cs + j), a20, a21);
            if (ni > 3) AddTo(ref Unsafe.Add(ref cr, 3 * cs + j), a30, a31);
        }
        for (; j + 8 <= n; j += 8)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int t = t0; t < t1; t++)
            {
                var y0 = Vector256.LoadUnsafe(ref Unsafe.Add(ref br, t * bs + j));
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p0, t * at)), y0, a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p1, t * at)), y0, a1);
                a2 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p2, t * at)), y0, a2);
                a3 = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref p3, t * at)), y0, a3);
            }
            AddTo(ref Unsafe.Add(ref cr, j), a0);
            if (ni > 1) AddTo(ref Unsafe.Add(ref cr, cs + j), a1);
            if (ni > 2) AddTo(ref Unsafe.Add(ref cr, 2 * cs + j), a2);
            if (ni > 3) AddTo(ref Unsafe.Add(ref cr, 3 * cs + j), a3);
        }
        for (; j < n; j++)
            for (int i = 0; i < ni; i++)
            {
                ref float pi = ref Unsafe.Add(ref p0, i * ai);
                float sum = 0f;
                for (int t = t0; t < t1; t++) sum += Unsafe.Add(ref pi, t * at) * Unsafe.Add(ref br, t * bs + j);
                Unsafe.Add(ref cr, i * cs + j) += sum;
            }
    }

    private static void AddTo(ref float dst, Vector256<float> lo, Vector256<float> hi)
    {
        (Vector256.LoadUnsafe(ref dst) + lo).StoreUnsafe(ref dst);
        (Vector256.LoadUnsafe(ref dst, 8) + hi).StoreUnsafe(ref dst, 8);
    }

    private static void AddTo(ref float dst, Vector256<float> v) => (Vector256.LoadUnsafe(ref dst) + v).StoreUnsafe(ref dst);
}
