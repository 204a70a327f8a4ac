using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Attention"/> (math at the top of Attention.cs), explicitly grouped with T×T tiles in
/// dynamic shared memory. Forward: one thread group per (batch, head, query tile of T rows) holds its queries, the output
/// accumulator and the running max/sum per row in shared memory and walks the K/V tiles of its mask's key ranges (masked
/// tiles are never loaded). Backward: a dK/dV kernel, one group per (batch, kv head, key tile), loops over the query heads
/// of its group and the query tiles of the mask's query range and accumulates its own dK/dV rows in shared memory (no
/// atomics); a dQ kernel, one group per (batch, head, query tile), walks the key tiles like the forward. Staged tile
/// rows have an odd stride (no shared-memory bank conflicts when threads read the same element of different rows).
/// Every step strides its elements over the group's threads, so any group size works; T is the largest power of two
/// ≤ 64 with T² ≤ 4 × the group size whose shared-memory footprint fits min(48 KiB, the device's limit).
/// </summary>
internal static class AttentionGpu
{
    private const int SharedBudgetBytes = 48 * 1024;

    // ---- kernels -------------------------------------------------------------------------------------------------

    /// <summary>Σ_i a[ao + i]·b[bo + i] over n elements.</summary>
    private static float Dot(ArrayView<float> a, int ao, ArrayView<float> b, int bo, int n)
    {
        float sum = 0f;
        for (int i = 0; i < n; i++) sum += a[ao + i] * b[bo + i];
        return sum;
    }

    /// <summary>Copies <paramref name="n"/> floats from src[srcOffset..] to dst[0..) with the group's threads.</summary>
    private static void Load(ArrayView<float> dst, ArrayView<float> src, int srcOffset, int n)
    {
        for (int e = Group.IdxX; e < n; e += Group.DimX) dst[e] = src[srcOffset + e];
    }

    /// <summary>
    /// Row stride of a staged tile with rows of n floats: n rounded up to an odd number, so that threads reading the same
    /// element of consecutive rows hit different shared-memory banks.
    /// </summary>
    private static int Stride(int n) => n | 1;

    /// <summary>Copies <paramref name="rows"/> rows of n floats from src[srcOffset..] (contiguous) to dst with row stride Stride(n).</summary>
    private static void LoadRows(ArrayView<float> dst, ArrayView<float> src, int srcOffset, int rows, int n)
    {
        int stride = Stride(n);
        for (int e = Group.IdxX; e < rows * n; e += Group.DimX)
        {
            int r = e / n;
            dst[r * stride + e - r * n] = src[srcOffset + e];
        }
    }

    /// <summary>
    /// Grid: B·Hq·⌈Lq/T⌉ groups; group g computes query rows [r0, r0+T) of head (g / tiles). Shared: q and K [T rows of
    /// stride Stride(D)], V [T rows of stride Stride(Dv)], scores/probabilities [T·T], accumulator [T·Dv], running max,
    /// sum and rescale factor [3T].
    /// </summary>
    [GpuKernel(Grouped = true)]
    internal static void ForwardKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        ArrayView<float> lse, AttentionSpec s)
    {
        var sh = SharedMemory.GetDynamic<float>();
        int t = s.Tile, d = s.D, dv = s.Dv, tid = Group.IdxX, threads = Group.DimX;
        int tiles = (s.QueryLength + t - 1) / t, bh = Grid.IdxX / tiles, r0 = (Grid.IdxX - bh * tiles) * t;
        int rows = Math.Min(t, s.QueryLength - r0);
        int b = bh / s.QueryHeads, kvh = b * s.KvHeads + (bh - b * s.QueryHeads) / s.Group;
        int ds = Stride(d), vs = Stride(dv);
        var qS = sh.SubView(0, t * ds);
        var kS = sh.SubView(t * ds, t * ds);
        var vS = sh.SubView(2 * t * ds, t * vs);
        var sS = sh.SubView(2 * t * ds + t * vs, t * t);
        var acc = sh.SubView(2 * t * ds + t * vs + t * t, t * dv);
        var stats = sh.SubView(2 * t * ds + t * vs + t * t + t * dv, 3 * t); // max [0, t), sum [t, 2t), rescale [2t, 3t)
        int qBase = bh * s.QueryLength * d, kBase = kvh * s.KeyLength * d, vBase = kvh * s.KeyLength * dv;

        LoadRows(qS, q, qBase + r0 * d, rows, d);
        for (int e = tid; e < t * dv; e += threads) acc[e] = 0f;
        for (int r = tid; r < t; r += threads)
        {
            stats[r] = float.NegativeInfinity;
            stats[t + r] = 0f;
        }
        Group.Barrier();

        var ranges = s.KeysFor(r0, r0 + rows);
        for (int part = 0; part < 2; part++)
        {
            var range = part == 0 ? ranges.First : ranges.Second;
            for (int c0 = range.Start; c0 < range.End; c0 += t)
            {
                int cols = Math.Min(t, range.End - c0);
                LoadRows(kS, k, kBase + c0 * d, cols, d);
                LoadRows(vS, v, vBase + c0 * dv, cols, dv);
                Group.Barrier();
                for (int e = tid; e < t * t; e += threads)
                {
                    int rr = e / t, cc = e - rr * t;
                    float score = float.NegativeInfinity;
                    if (rr < rows && cc < cols && s.Mask.IsVisible(s.QueryOffset + r0 + rr, c0 + cc))
                        score = s.Scale * Dot(qS, rr * ds, kS, cc * ds, d);
                    sS[e] = score;
                }
                Group.Barrier();
                for (int rr = tid; rr < rows; rr += threads)
                {
                    float mOld = stats[rr], mNew = mOld;
                    for (int cc = 0; cc < cols; cc++) mNew = Math.Max(mNew, sS[rr * t + cc]);
                    float alpha = 1f, sum = 0f;
                    bool any = mNew > float.NegativeInfinity;
                    if (any) alpha = MathF.Exp(mOld - mNew);
                    for (int cc = 0; cc < cols; cc++)
                    {
                        float p = any ? MathF.Exp(sS[rr * t + cc] - mNew) : 0f;
                        sS[rr * t + cc] = p;
                        sum += p;
                    }
                    stats[rr] = mNew;
                    stats[t + rr] = stats[t + rr] * alpha + sum;
                    stats[2 * t + rr] = alpha;
                }
                Group.Barrier();
                for (int e = tid; e < rows * dv; e += threads)
                {
                    int rr = e / dv, dd = e - rr * dv;
                    float a = acc[e] * stats[2 * t + rr];
                    for (int cc = 0; cc < cols; cc++) a += sS[rr * t + cc] * vS[cc * vs + dd];
                    acc[e] = a;
                }
                Group.Barrier();
            }
        }

        int oBase = bh * s.QueryLength * dv + r0 * dv;
        for (int e = tid; e < rows * dv; e += threads)
        {
            float l = stats[t + e / dv];
            o[oBase + e] = l > 0f ? acc[e] / l : 0f;
        }
        for (int rr = tid; rr < rows; rr += threads)
        {
            float l = stats[t + rr];
            lse[bh * s.QueryLength + r0 + rr] = l > 0f ? stats[rr] + MathF.Log(l) : float.NegativeInfinity;
        }
    }

    /// <summary>
    /// P_ij and scale·dS_ij for tile entry e = rr·T + cc (query row r0 + rr, key c0 + cc) into pS/dsS (0 outside the
    /// tile, the mask, or a row with lse = −∞). qS/gS hold the query/dO rows, kS/vS the key/value rows (row strides
    /// Stride(D), Stride(Dv)), lseS/deltaS the row statistics.
    /// </summary>
    private static void ProbabilityAndGrad(AttentionSpec s, int e, int r0, int rows, int c0, int cols,
        ArrayView<float> qS, ArrayView<float> gS, ArrayView<float> kS, ArrayView<float> vS, ArrayView<float> lseS,
        ArrayView<float> deltaS, ArrayView<float> pS, ArrayView<float> dsS)
    {
        int t = s.Tile, rr = e / t, cc = e - rr * t, ds = Stride(s.D), vs = Stride(s.Dv);
        float p = 0f, grad = 0f;
        if (rr < rows && cc < cols && lseS[rr] > float.NegativeInfinity && s.Mask.IsVisible(s.QueryOffset + r0 + rr, c0 + cc))
        {
            p = MathF.Exp(s.Scale * Dot(qS, rr * ds, kS, cc * ds, s.D) - lseS[rr]);
            grad = p * (Dot(gS, rr * vs, vS, cc * vs, s.Dv) - deltaS[rr]) * s.Scale;
        }
        pS[e] = p;
        dsS[e] = grad;
    }

    /// <summary>
    /// Grid: B·Hkv·⌈Lk/T⌉ groups; group g owns key rows [c0, c0+T) of kv head (g / tiles). Shared: K and q [T rows of
    /// stride Stride(D)], V and dO [T rows of stride Stride(Dv)], dK [T·D], dV [T·Dv], P and dS [T·T each], lse and Δ
    /// [T each].
    /// </summary>
    [GpuKernel(Grouped = true)]
    internal static void KeyValueGradKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> lse,
        ArrayView<float> dO, ArrayView<float> delta, ArrayView<float> dk, ArrayView<float> dv, AttentionSpec s)
    {
        var sh = SharedMemory.GetDynamic<float>();
        int t = s.Tile, d = s.D, dvn = s.Dv, tid = Group.IdxX, threads = Group.DimX;
        int tiles = (s.KeyLength + t - 1) / t, kvh = Grid.IdxX / tiles, c0 = (Grid.IdxX - kvh * tiles) * t;
        int cols = Math.Min(t, s.KeyLength - c0), b = kvh / s.KvHeads;
        int ds = Stride(d), vs = Stride(dvn), tiles1 = 2 * t * ds + 2 * t * vs; // the staged tiles come first
        var kS = sh.SubView(0, t * ds);
        var qS = sh.SubView(t * ds, t * ds);
        var vS = sh.SubView(2 * t * ds, t * vs);
        var gS = sh.SubView(2 * t * ds + t * vs, t * vs);
        var dkS = sh.SubView(tiles1, t * d);
        var dvS = sh.SubView(tiles1 + t * d, t * dvn);
        var pS = sh.SubView(tiles1 + t * d + t * dvn, t * t);
        var dsS = sh.SubView(tiles1 + t * d + t * dvn + t * t, t * t);
        var lseS = sh.SubView(tiles1 + t * d + t * dvn + 2 * t * t, t);
        var deltaS = sh.SubView(tiles1 + t * d + t * dvn + 2 * t * t + t, t);
        int kBase = kvh * s.KeyLength * d + c0 * d, vBase = kvh * s.KeyLength * dvn + c0 * dvn;

        LoadRows(kS, k, kBase, cols, d);
        LoadRows(vS, v, vBase, cols, dvn);
        for (int e = tid; e < t * d; e += threads) dkS[e] = 0f;
        for (int e = tid; e < t * dvn; e += threads) dvS[e] = 0f;

        var queries = s.QueriesFor(c0, c0 + cols);
        for (int g = 0; g < s.Group; g++)
        {
            int bh = b * s.QueryHeads + (kvh - b * s.KvHeads) * s.Group + g, row0 = bh * s.QueryLength;
            for (int r0 = queries.Start; r0 < queries.End; r0 += t)
            {
                int rows = Math.Min(t, queries.End - r0);
                Group.Barrier();
                LoadRows(qS, q, (row0 + r0) * d, rows, d);
                LoadRows(gS, dO, (row0 + r0) * dvn, rows, dvn);
                Load(lseS, lse, row0 + r0, rows);
                Load(deltaS, delta, row0 + r0, rows);
                Group.Barrier();
                for (int e = tid; e < t * t; e += threads)
                    ProbabilityAndGrad(s, e, r0, rows, c0, cols, qS, gS, kS, vS, lseS, deltaS, pS, dsS);
                Group.Barrier();
                for (int e = tid; e < cols * dvn; e += threads)
                {
                    int cc = e / dvn, dd = e - cc * dvn;
                    float a = 0f;
                    for (int rr = 0; rr < rows; rr++) a += pS[rr * t + cc] * gS[rr * vs + dd];
                    dvS[e] += a;
                }
                for (int e = tid; e < cols * d; e += threads)
                {
                    int cc = e / d, dd = e - cc * d;
                    float a = 0f;
                    for (int rr = 0; rr < rows; rr++) a += dsS[rr * t + cc] * qS[rr * ds + dd];
                    dkS[e] += a;
                }
            }
        }
        Group.Barrier();
        for (int e = tid; e < cols * d; e += threads) dk[kBase + e] = dkS[e];
        for (int e = tid; e < cols * dvn; e += threads) dv[vBase + e] = dvS[e];
    }

    /// <summary>
    /// Grid: B·Hq·⌈Lq/T⌉ groups; group g computes dq for query rows [r0, r0+T) of head (g / tiles). Shared: q and K
    /// [T rows of stride Stride(D)], dO and V [T rows of stride Stride(Dv)], dQ [T·D], dS and P scratch [T·T each], lse
    /// and Δ [T each].
    /// </summary>
    [GpuKernel(Grouped = true)]
    internal static void QueryGradKernel(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> lse,
        ArrayView<float> dO, ArrayView<float> delta, ArrayView<float> dq, AttentionSpec s)
    {
        var sh = SharedMemory.GetDynamic<float>();
        int t = s.Tile, d = s.D, dvn = s.Dv, tid = Group.IdxX, threads = Group.DimX;
        int tiles = (s.QueryLength + t - 1) / t, bh = Grid.IdxX / tiles, r0 = (Grid.IdxX - bh * tiles) * t;
        int rows = Math.Min(t, s.QueryLength - r0);
        int b = bh / s.QueryHeads, kvh = b * s.KvHeads + (bh - b * s.QueryHeads) / s.Group;
        int ds = Stride(d), vs = Stride(dvn), tiles1 = 2 * t * ds + 2 * t * vs; // the staged tiles come first
        var qS = sh.SubView(0, t * ds);
        var kS = sh.SubView(t * ds, t * ds);
        var gS = sh.SubView(2 * t * ds, t * vs);
        var vS = sh.SubView(2 * t * ds + t * vs, t * vs);
        var dqS = sh.SubView(tiles1, t * d);
        var pS = sh.SubView(tiles1 + t * d, t * t);
        var dsS = sh.SubView(tiles1 + t * d + t * t, t * t);
        var lseS = sh.SubView(tiles1 + t * d + 2 * t * t, t);
        var deltaS = sh.SubView(tiles1 + t * d + 2 * t * t + t, t);
        int row0 = bh * s.QueryLength + r0, kBase = kvh * s.KeyLength * d, vBase = kvh * s.KeyLength * dvn;

        LoadRows(qS, q, row0 * d, rows, d);
        LoadRows(gS, dO, row0 * dvn, rows, dvn);
        Load(lseS, lse, row0, rows);
        Load(deltaS, delta, row0, rows);
        for (int e = tid; e < t * d; e += threads) dqS[e] = 0f;
        Group.Barrier();

        var ranges = s.KeysFor(r0, r0 + rows);
        for (int part = 0; part < 2; part++)
        {
            var range = part == 0 ? ranges.First : ranges.Second;
            for (int c0 = range.Start; c0 < range.End; c0 += t)
            {
                int cols = Math.Min(t, range.End - c0);
                LoadRows(kS, k, kBase + c0 * d, cols, d);
                LoadRows(vS, v, vBase + c0 * dvn, cols, dvn);
                Group.Barrier();
                for (int e = tid; e < t * t; e += threads)
                    ProbabilityAndGrad(s, e, r0, rows, c0, cols, qS, gS, kS, vS, lseS, deltaS, pS, dsS);
                Group.Barrier();
                for (int e = tid; e < rows * d; e += threads)
                {
                    int rr = e / d, dd = e - rr * d;
                    float a = 0f;
                    for (int cc = 0; cc < cols; cc++) a += dsS[rr * t + cc] * kS[cc * ds + dd];
                    dqS[e] += a;
                }
                Group.Barrier();
            }
        }
        for (int e = tid; e < rows * d; e += threads) dq[row0 * d + e] = dqS[e];
    }

    /// <summary>One thread per query row: Δ = Σ_d dO·O.</summary>
    [GpuKernel]
    internal static void RowDotKernel(Index1D index, ArrayView<float> o, ArrayView<float> dO, ArrayView<float> delta, int dv)
    {
        int row = index;
        float sum = 0f;
        for (int d = 0; d < dv; d++) sum += o[row * dv + d] * dO[row * dv + d];
        delta[row] = sum;
    }

    /// <summary>One thread per output element: the lse-weighted merge of two attention results (see Attention.Merge).</summary>
    [GpuKernel]
    internal static void MergeKernel(Index1D index, ArrayView<float> oA, ArrayView<float> lseA, ArrayView<float> oB, ArrayView<float> lseB,
        ArrayView<float> o, ArrayView<float> lse, int dv)
    {
        int i = index, r = i / dv;
        float x = lseA[r], y = lseB[r], m = Math.Max(x, y);
        bool first = i - r * dv == 0;
        if (m == float.NegativeInfinity)
        {
            o[i] = 0f;
            if (first) lse[r] = float.NegativeInfinity;
            return;
        }
        float wa = MathF.Exp(x - m), wb = MathF.Exp(y - m), total = wa + wb;
        o[i] = (wa * oA[i] + wb * oB[i]) / total;
        if (first) lse[r] = m + MathF.Log(total);
    }

    // ---- launching -----------------------------------------------------------------------------------------------

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    private static int ForwardShared(int t, AttentionSpec s) => 2 * t * Stride(s.D) + t * Stride(s.Dv) + t * s.Dv + t * t + 3 * t;
    private static int KeyValueShared(int t, AttentionSpec s) => 2 * t * Stride(s.D) + 2 * t * Stride(s.Dv) + t * s.D + t * s.Dv + 2 * t * t + 2 * t;
    private static int QueryShared(int t, AttentionSpec s) => 2 * t * Stride(s.D) + 2 * t * Stride(s.Dv) + t * s.D + 2 * t * t + 2 * t;

    /// <summary>The tile size and group size for a kernel with the given shared-memory footprint (floats for tile t).</summary>
    private static (int tile, int threads, int sharedFloats) Plan(IlgpuDevice dev, AttentionSpec s, Func<int, AttentionSpec, int> shared)
    {
        int maxThreads = 1;
        while (maxThreads * 2 <= dev.MaxGroupSize) maxThreads *= 2;
        int tile = 1;
        while (tile < 64 && (2 * tile) * (2 * tile) <= 4 * maxThreads) tile *= 2;
        long budget = Math.Min(dev.Accelerator.MaxSharedMemoryPerGroup, SharedBudgetBytes) / sizeof(float);
        while (tile > 1 && shared(tile, s) > budget) tile /= 2;
        if (shared(tile, s) > budget)
            throw new NotSupportedException(
                $"Attention: head dimensions D = {s.D}, Dv = {s.Dv} need {shared(tile, s) * sizeof(float)} bytes of shared memory per group " +
                $"even with 1-row tiles; {dev.Name} allows {budget * sizeof(float)}.");
        int threads = Math.Min(maxThreads, Math.Max(tile * tile, dev.WarpSize));
        return (tile, threads, shared(tile, s));
    }

    public static void Forward(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse)
    {
        var dev = Dev(q);
        var (tile, threads, shared) = Plan(dev, s, ForwardShared);
        s.Tile = tile;
        int groups = s.Batch * s.QueryHeads * ((s.QueryLength + tile - 1) / tile);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionSpec>>(
                ForwardKernel,
                a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionSpec>(ForwardKernel))
            (new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<float>(shared)), q.View, k.View, v.View, o.View, lse.View, s);
    }

    public static void RowDot(Tensor o, Tensor dO, Tensor delta, int dv)
        => Dev(o).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>(RowDotKernel,
                a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(RowDotKernel))
            (delta.Length, o.View, dO.View, delta.View, dv);

    public static void Backward(AttentionSpec s, Tensor q, Tensor k, Tensor v, Tensor lse, Tensor dO, Tensor delta,
        Tensor? dq, Tensor? dk, Tensor? dv)
    {
        var dev = Dev(q);
        if (dk is not null && dk.Length + dv!.Length > 0)
        {
            var (tile, threads, shared) = Plan(dev, s, KeyValueShared);
            var ks = s;
            ks.Tile = tile;
            int groups = s.Batch * s.KvHeads * ((s.KeyLength + tile - 1) / tile);
            dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionSpec>>(KeyValueGradKernel,
                    a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                        ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionSpec>(KeyValueGradKernel))
                (new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<float>(shared)),
                 q.View, k.View, v.View, lse.View, dO.View, delta.View, dk.View, dv.View, ks);
        }
        if (dq is not null && dq.Length > 0)
        {
            var (tile, threads, shared) = Plan(dev, s, QueryShared);
            var qs = s;
            qs.Tile = tile;
            int groups = s.Batch * s.QueryHeads * ((s.QueryLength + tile - 1) / tile);
            dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, AttentionSpec>>(QueryGradKernel,
                    a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                        ArrayView<float>, ArrayView<float>, AttentionSpec>(QueryGradKernel))
                (new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<float>(shared)),
                 q.View, k.View, v.View, lse.View, dO.View, delta.View, dq.View, qs);
        }
    }

    public static void Merge(Tensor oA, Tensor lseA, Tensor oB, Tensor lseB, Tensor o, Tensor lse)
        => Dev(o).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>(
                MergeKernel,
                a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    ArrayView<float>, ArrayView<float>, int>(MergeKernel))
            (o.Length, oA.View, lseA.View, oB.View, lseB.View, o.View, lse.View, o.Size(3));
}
