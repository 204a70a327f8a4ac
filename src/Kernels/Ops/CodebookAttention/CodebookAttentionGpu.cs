using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Views a codebook-attention kernel reads (a view a kernel does not use is any valid placeholder).</summary>
internal struct AttnViews
{
    public ArrayView<float> Q, K, V, Codebook, Counts, Sums, Out, Lse, DOut, Delta, DQ, DK, DV, BlockGrads, CacheGrads;
    public ArrayView<int> Codes;
    public int WriteDK, WriteDV;
}

/// <summary>
/// ILGPU kernels of <see cref="CodebookAttention"/> (the math is in CodebookAttention.cs), FlashAttention-style with one
/// thread per row: the forward and the dq pass take a group per (batch·head, query block, tile of G queries), each thread
/// one query whose vector and accumulator live in padded shared rows; key/value tiles of the exact window, then code
/// tiles (codewords, cache means m_s/n_s, ln n_s) are loaded into shared memory by the whole group and read by every
/// thread (online softmax in the forward, the saved lse in the backward). The per-block code sums G_r for dv take a group
/// per (batch·head, block, tile of codes) over tiles of the block's queries; dk̂/dv take a group per (batch·head, key
/// block, tile of keys) over tiles of the queries that see those keys exactly, then add the cache term. G is the largest
/// power of two (≤ 128 and the device's group size) whose shared rows fit in 48 KiB.
/// </summary>
internal static class CodebookAttentionGpu
{
    /// <summary>Caps the group size (tests set it to force several tiles per block).</summary>
    internal static int? GroupSizeLimit { get; set; }

    // ---- kernels ----------------------------------------------------------------------------------------------------

    [GpuKernel]
    internal static void LaggedBlockSumsKernel(Index1D index, ArrayView<float> x, ArrayView<float> y, int blocks, int width, int before, int after)
    {
        int g = index / width, w = index - g * width, o = g * blocks * width + w;
        float run = 0f;
        for (int r = 0; r < blocks; r++)
        {
            if (before != 0 && r >= 2) run += x[o + (r - 2) * width];
            y[o + r * width] = run;
        }
        if (after == 0) return;
        run = 0f;
        for (int r = blocks - 1; r >= 0; r--)
        {
            if (r + 2 < blocks) run += x[o + (r + 2) * width];
            y[o + r * width] += run;
        }
    }

    [GpuKernel]
    internal static void DeltaKernel(Index1D row, ArrayView<float> dOut, ArrayView<float> output, ArrayView<float> delta, int width)
    {
        float acc = 0f;
        for (int e = 0; e < width; e++) acc += dOut[row * width + e] * output[row * width + e];
        delta[row] = acc;
    }

    [GpuKernel(Grouped = true)]
    internal static void ForwardKernel(AttnDims d, AttnViews a, int tiles)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int G = Group.DimX, t = Group.IdxX, D = d.Dim, V = d.ValueDim, Dp = D + 1, Vp = V + 1;
        var qS = shared.SubView(0, G * Dp);
        var accS = shared.SubView(G * Dp, G * Vp);
        var kT = shared.SubView(G * (Dp + Vp), G * D);
        var vT = shared.SubView(G * (Dp + Vp + D), G * V);
        var bT = shared.SubView(G * (Dp + Vp + D + V), G);
        int item = Grid.IdxX, qt = item % tiles, br = item / tiles, r = br % d.Blocks, bh = br / d.Blocks;
        int q0 = d.BlockStart(r) + qt * G, qEnd = Math.Min(d.BlockStart(r + 1), q0 + G), i = q0 + t;
        bool active = i < qEnd;
        if (q0 >= qEnd) return;
        LoadRows(qS, Dp, a.Q, d.Row(bh, q0) * D, qEnd - q0, D);
        for (int e = t; e < G * Vp; e += G) accS[e] = 0f;
        Group.Barrier();
        float m = float.NegativeInfinity, l = 0f;
        d.QueryWindow(r, qEnd - 1, out int ws, out int we);
        for (int j0 = ws; j0 < we; j0 += G)
        {
            int n = Math.Min(G, we - j0);
            LoadRows(kT, D, a.K, d.Row(bh, j0) * D, n, D);
            LoadRows(vT, V, a.V, d.Row(bh, j0) * V, n, V);
            Group.Barrier();
            if (active)
                for (int jj = 0; jj < n; jj++)
                {
                    if (d.Causal != 0 && j0 + jj > i) break;
                    Accumulate(d.Scale * Dot(qS, t * Dp, kT, jj * D, D), vT, jj * V, accS, t * Vp, V, ref m, ref l);
                }
            Group.Barrier();
        }
        int slot = d.CacheSlot(bh, r), c0 = d.CodeRow(bh);
        for (int s0 = 0; s0 < d.Codes; s0 += G)
        {
            int n = Math.Min(G, d.Codes - s0);
            LoadCodes(d, a, kT, vT, bT, c0 + s0, slot + s0, n, log: true);
            Group.Barrier();
            if (active)
                for (int jj = 0; jj < n; jj++)
                    if (bT[jj] != float.NegativeInfinity)
                        Accumulate(d.Scale * Dot(qS, t * Dp, kT, jj * D, D) + bT[jj], vT, jj * V, accS, t * Vp, V, ref m, ref l);
            Group.Barrier();
        }
        if (!active) return;
        int row = d.Row(bh, i);
        float inv = 1f / l;
        for (int e = 0; e < V; e++) a.Out[row * V + e] = accS[t * Vp + e] * inv;
        a.Lse[row] = m + MathF.Log(l);
    }

    [GpuKernel(Grouped = true)]
    internal static void DqKernel(AttnDims d, AttnViews a, int tiles)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int G = Group.DimX, t = Group.IdxX, D = d.Dim, V = d.ValueDim, Dp = D + 1, Vp = V + 1;
        var qS = shared.SubView(0, G * Dp);
        var dqS = shared.SubView(G * Dp, G * Dp);
        var gS = shared.SubView(2 * G * Dp, G * Vp);
        var kT = shared.SubView(G * (2 * Dp + Vp), G * D);
        var vT = shared.SubView(G * (2 * Dp + Vp + D), G * V);
        var nT = shared.SubView(G * (2 * Dp + Vp + D + V), G);
        int item = Grid.IdxX, qt = item % tiles, br = item / tiles, r = br % d.Blocks, bh = br / d.Blocks;
        int q0 = d.BlockStart(r) + qt * G, qEnd = Math.Min(d.BlockStart(r + 1), q0 + G), i = q0 + t;
        bool active = i < qEnd;
        if (q0 >= qEnd) return;
        LoadRows(qS, Dp, a.Q, d.Row(bh, q0) * D, qEnd - q0, D);
        LoadRows(gS, Vp, a.DOut, d.Row(bh, q0) * V, qEnd - q0, V);
        for (int e = t; e < G * Dp; e += G) dqS[e] = 0f;
        float lse = active ? a.Lse[d.Row(bh, i)] : 0f, delta = active ? a.Delta[d.Row(bh, i)] : 0f;
        Group.Barrier();
        d.QueryWindow(r, qEnd - 1, out int ws, out int we);
        for (int j0 = ws; j0 < we; j0 += G)
        {
            int n = Math.Min(G, we - j0);
            LoadRows(kT, D, a.K, d.Row(bh, j0) * D, n, D);
            LoadRows(vT, V, a.V, d.Row(bh, j0) * V, n, V);
            Group.Barrier();
            if (active)
                for (int jj = 0; jj < n; jj++)
                {
                    if (d.Causal != 0 && j0 + jj > i) break;
                    float p = MathF.Exp(d.Scale * Dot(qS, t * Dp, kT, jj * D, D) - lse);
                    float ds = p * (Dot(gS, t * Vp, vT, jj * V, V) - delta);
                    Axpy(d.Scale * ds, kT, jj * D, dqS, t * Dp, D);
                }
            Group.Barrier();
        }
        int slot = d.CacheSlot(bh, r), c0 = d.CodeRow(bh);
        for (int s0 = 0; s0 < d.Codes; s0 += G)
        {
            int n = Math.Min(G, d.Codes - s0);
            LoadCodes(d, a, kT, vT, nT, c0 + s0, slot + s0, n, log: false);
            Group.Barrier();
            if (active)
                for (int jj = 0; jj < n; jj++)
                {
                    float count = nT[jj];
                    if (!(count > 0f)) continue;
                    float p = MathF.Exp(d.Scale * Dot(qS, t * Dp, kT, jj * D, D) - lse) * count;
                    float ds = p * (Dot(gS, t * Vp, vT, jj * V, V) - delta);
                    Axpy(d.Scale * ds, kT, jj * D, dqS, t * Dp, D);
                }
            Group.Barrier();
        }
        if (!active) return;
        int row = d.Row(bh, i);
        for (int e = 0; e < D; e++) a.DQ[row * D + e] = dqS[t * Dp + e];
    }

    /// <summary>G_r[s] = Σ_{i in block r} e^{scale·q_i·c_s − lse_i} dO_i for codes the block sees cached (0 otherwise).</summary>
    [GpuKernel(Grouped = true)]
    internal static void BlockGradsKernel(AttnDims d, AttnViews a, int tiles)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int G = Group.DimX, t = Group.IdxX, D = d.Dim, V = d.ValueDim, Dp = D + 1, Vp = V + 1;
        var cS = shared.SubView(0, G * Dp);
        var accS = shared.SubView(G * Dp, G * Vp);
        var qT = shared.SubView(G * (Dp + Vp), G * D);
        var gT = shared.SubView(G * (Dp + Vp + D), G * V);
        var lT = shared.SubView(G * (Dp + Vp + D + V), G);
        int item = Grid.IdxX, ct = item % tiles, br = item / tiles, r = br % d.Blocks, bh = br / d.Blocks;
        int s0 = ct * G, sEnd = Math.Min(d.Codes, s0 + G), s = s0 + t, slot = d.CacheSlot(bh, r);
        bool active = s < sEnd && a.Counts[slot + Math.Min(s, sEnd - 1)] > 0f;
        LoadRows(cS, Dp, a.Codebook, (d.CodeRow(bh) + s0) * D, sEnd - s0, D);
        for (int e = t; e < G * Vp; e += G) accS[e] = 0f;
        Group.Barrier();
        for (int i0 = d.BlockStart(r); i0 < d.BlockStart(r + 1); i0 += G)
        {
            int n = Math.Min(G, d.BlockStart(r + 1) - i0);
            LoadRows(qT, D, a.Q, d.Row(bh, i0) * D, n, D);
            LoadRows(gT, V, a.DOut, d.Row(bh, i0) * V, n, V);
            for (int e = t; e < n; e += G) lT[e] = a.Lse[d.Row(bh, i0 + e)];
            Group.Barrier();
            if (active)
                for (int ii = 0; ii < n; ii++)
                    Axpy(MathF.Exp(d.Scale * Dot(cS, t * Dp, qT, ii * D, D) - lT[ii]), gT, ii * V, accS, t * Vp, V);
            Group.Barrier();
        }
        if (s >= sEnd) return;
        for (int e = 0; e < V; e++) a.BlockGrads[(slot + s) * V + e] = accS[t * Vp + e];
    }

    [GpuKernel(Grouped = true)]
    internal static void DkvKernel(AttnDims d, AttnViews a, int tiles)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int G = Group.DimX, t = Group.IdxX, D = d.Dim, V = d.ValueDim, Dp = D + 1, Vp = V + 1;
        var kS = shared.SubView(0, G * Dp);
        var dkS = shared.SubView(G * Dp, G * Dp);
        var vS = shared.SubView(2 * G * Dp, G * Vp);
        var dvS = shared.SubView(2 * G * Dp + G * Vp, G * Vp);
        int tileBase = 2 * G * (Dp + Vp);
        var qT = shared.SubView(tileBase, G * D);
        var gT = shared.SubView(tileBase + G * D, G * V);
        var lT = shared.SubView(tileBase + G * (D + V), G);
        var deltaT = shared.SubView(tileBase + G * (D + V + 1), G);
        int item = Grid.IdxX, kt = item % tiles, bb = item / tiles, b = bb % d.Blocks, bh = bb / d.Blocks;
        int k0 = d.BlockStart(b) + kt * G, kEnd = Math.Min(d.BlockStart(b + 1), k0 + G), j = k0 + t;
        bool active = j < kEnd;
        if (k0 >= kEnd) return;
        LoadRows(kS, Dp, a.K, d.Row(bh, k0) * D, kEnd - k0, D);
        LoadRows(vS, Vp, a.V, d.Row(bh, k0) * V, kEnd - k0, V);
        for (int e = t; e < G * Dp; e += G) dkS[e] = 0f;
        for (int e = t; e < G * Vp; e += G) dvS[e] = 0f;
        Group.Barrier();
        d.KeyWindow(b, k0, out int qs, out int qe);
        for (int i0 = qs; i0 < qe; i0 += G)
        {
            int n = Math.Min(G, qe - i0);
            LoadRows(qT, D, a.Q, d.Row(bh, i0) * D, n, D);
            LoadRows(gT, V, a.DOut, d.Row(bh, i0) * V, n, V);
            for (int e = t; e < n; e += G)
            {
                lT[e] = a.Lse[d.Row(bh, i0 + e)];
                deltaT[e] = a.Delta[d.Row(bh, i0 + e)];
            }
            Group.Barrier();
            if (active)
                for (int ii = 0; ii < n; ii++)
                {
                    if (d.Causal != 0 && i0 + ii < j) continue;
                    float p = MathF.Exp(d.Scale * Dot(qT, ii * D, kS, t * Dp, D) - lT[ii]);
                    Axpy(p, gT, ii * V, dvS, t * Vp, V);
                    float ds = p * (Dot(gT, ii * V, vS, t * Vp, V) - deltaT[ii]);
                    Axpy(d.Scale * ds, qT, ii * D, dkS, t * Dp, D);
                }
            Group.Barrier();
        }
        if (!active) return;
        int row = d.Row(bh, j);
        if (a.WriteDK != 0)
            for (int e = 0; e < D; e++) a.DK[row * D + e] = dkS[t * Dp + e];
        if (a.WriteDV == 0) return;
        int code = a.Codes[row], cache = (d.CacheSlot(bh, b) + code) * V;
        bool valid = code >= 0 && code < d.Codes;   // unchecked bad codes give NaN, never an out-of-bounds read
        for (int e = 0; e < V; e++) a.DV[row * V + e] = dvS[t * Vp + e] + (valid ? a.CacheGrads[cache + e] : float.NaN);
    }

    // ---- kernel helpers ---------------------------------------------------------------------------------------------

    /// <summary>Copies <paramref name="rows"/> rows of <paramref name="width"/> floats from src[offset..] into dst rows of stride <paramref name="stride"/> (whole group).</summary>
    private static void LoadRows(ArrayView<float> dst, int stride, ArrayView<float> src, int offset, int rows, int width)
    {
        for (int e = Group.IdxX; e < rows * width; e += Group.DimX)
        {
            int row = e / width;
            dst[row * stride + e - row * width] = src[offset + e];
        }
    }

    /// <summary>
    /// Loads <paramref name="n"/> codes: codeword rows into kT, cache means m_s/n_s (0 when empty) into vT, and into bT
    /// ln n_s (−∞ when empty) when <paramref name="log"/>, else the counts n_s.
    /// </summary>
    private static void LoadCodes(AttnDims d, AttnViews a, ArrayView<float> kT, ArrayView<float> vT, ArrayView<float> bT, int codeRow, int slot, int n, bool log)
    {
        int D = d.Dim, V = d.ValueDim;
        LoadRows(kT, D, a.Codebook, codeRow * D, n, D);
        for (int e = Group.IdxX; e < n * V; e += Group.DimX)
        {
            float count = a.Counts[slot + e / V];
            vT[e] = count > 0f ? a.Sums[slot * V + e] / count : 0f;
        }
        for (int e = Group.IdxX; e < n; e += Group.DimX)
        {
            float count = a.Counts[slot + e];
            bT[e] = log ? (count > 0f ? MathF.Log(count) : float.NegativeInfinity) : count;
        }
    }

    private static float Dot(ArrayView<float> x, int xo, ArrayView<float> y, int yo, int n)
    {
        float acc = 0f;
        for (int e = 0; e < n; e++) acc += x[xo + e] * y[yo + e];
        return acc;
    }

    private static void Axpy(float alpha, ArrayView<float> x, int xo, ArrayView<float> y, int yo, int n)
    {
        for (int e = 0; e < n; e++) y[yo + e] += alpha * x[xo + e];
    }

    /// <summary>Online-softmax step: folds score <paramref name="s"/> with value row v[vo..] into (m, l, acc).</summary>
    private static void Accumulate(float s, ArrayView<float> v, int vo, ArrayView<float> acc, int ao, int width, ref float m, ref float l)
    {
        if (s > m)
        {
            float rescale = MathF.Exp(m - s);
            l *= rescale;
            for (int e = 0; e < width; e++) acc[ao + e] *= rescale;
            m = s;
        }
        float p = MathF.Exp(s - m);
        l += p;
        Axpy(p, v, vo, acc, ao, width);
    }

    // ---- launches ---------------------------------------------------------------------------------------------------

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void LaggedBlockSums(Tensor x, Tensor y, int groups, int blocks, int width, bool before, bool after)
    {
        if (groups * width == 0) return;
        Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int>>(LaggedBlockSumsKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int>(LaggedBlockSumsKernel))
            (groups * width, x.View, y.View, blocks, width, before ? 1 : 0, after ? 1 : 0);
    }

    public static void Forward(Tensor q, Tensor k, Tensor v, Tensor codebook, Tensor counts, Tensor sums, Tensor o, Tensor lse, AttnDims d)
    {
        var a = new AttnViews
        {
            Q = q.View, K = k.View, V = v.View, Codebook = codebook.View, Counts = counts.View, Sums = sums.View, Out = o.View, Lse = lse.View,
            DOut = q.View, Delta = q.View, DQ = q.View, DK = q.View, DV = q.View, BlockGrads = q.View, CacheGrads = q.View,
            Codes = ArrayView<int>.Empty,
        };
        int D = d.Dim + 1, V = d.ValueDim + 1;
        Launch(Dev(q), ForwardKernel, d, a, Math.Min(d.Block, d.Length), g => g * (D + V + d.Dim + d.ValueDim + 1));
    }

    public static void Backward(AttnBackward c, AttnDims d)
    {
        var dev = Dev(c.Q);
        int rows = d.BatchHeads * d.Length, S = d.Codes, V = d.ValueDim;
        var delta = Tensor.Empty(new[] { rows }, DType.Float32, dev);
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>(DeltaKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(DeltaKernel))
            (rows, c.DOut.View, c.Output.View, delta.View, V);
        var blockGrads = c.DV is null ? null : Tensor.Empty(new[] { d.BatchHeads, d.Blocks, S * V }, DType.Float32, dev);
        var a = new AttnViews
        {
            Q = c.Q.View, K = c.K.View, V = c.V.View, Codebook = c.Codebook.View, Counts = c.CacheCounts.View, Sums = c.CacheSums.View,
            Out = c.Output.View, Lse = c.LogSumExp.View, DOut = c.DOut.View, Delta = delta.View,
            DQ = (c.DQ ?? c.Q).View, DK = (c.DK ?? c.Q).View, DV = (c.DV ?? c.Q).View, BlockGrads = (blockGrads ?? c.Q).View, CacheGrads = c.Q.View,
            Codes = c.Codes.GpuView<int>(), WriteDK = c.DK is null ? 0 : 1, WriteDV = c.DV is null ? 0 : 1,
        };
        int Dp = d.Dim + 1, Vp = V + 1, D = d.Dim;
        if (c.DQ is not null) Launch(dev, DqKernel, d, a, Math.Min(d.Block, d.Length), g => g * (2 * Dp + Vp + D + V + 1));
        if (blockGrads is not null)
        {
            Launch(dev, BlockGradsKernel, d, a, S, g => g * (Dp + Vp + D + V + 1));
            var cacheGrads = CodebookAttention.LaggedBlockSums(blockGrads, d.BatchHeads, d.Blocks, S * V, before: d.Causal == 0, after: true);
            a.CacheGrads = cacheGrads.View;
        }
        if (c.DK is not null || c.DV is not null) Launch(dev, DkvKernel, d, a, Math.Min(d.Block, d.Length), g => g * (2 * (Dp + Vp) + D + V + 2));
    }

    /// <summary>
    /// Launches a grouped kernel over (batch·head, block, tile of G of the <paramref name="tileOver"/> rows per block) with
    /// the group size G chosen from the shared memory <paramref name="sharedFloats"/>(G) needs.
    /// </summary>
    private static void Launch(IlgpuDevice dev, Action<AttnDims, AttnViews, int> kernel, AttnDims d, AttnViews a, int tileOver, Func<int, int> sharedFloats)
    {
        int budget = (int)(Math.Min(dev.Accelerator.MaxSharedMemoryPerGroup, 48 * 1024) / sizeof(float));
        int limit = Math.Min(dev.MaxGroupSize, GroupSizeLimit ?? 128), g = 1;
        while (g * 2 <= limit) g *= 2;
        while (g > 1 && sharedFloats(g) > budget) g /= 2;
        if (sharedFloats(g) > budget)
            throw new NotSupportedException(
                $"CodebookAttention: D = {d.Dim} and V = {d.ValueDim} need {sharedFloats(g) * 4} bytes of shared memory per group, more than {dev.Name} offers ({budget * 4} bytes).");
        int tiles = (tileOver + g - 1) / g;
        int groups = d.BatchHeads * d.Blocks * tiles;
        if (groups == 0) return;
        dev.Kernel<Action<KernelConfig, AttnDims, AttnViews, int>>(kernel, acc => acc.LoadStreamKernel<AttnDims, AttnViews, int>(kernel))
            (new KernelConfig(groups, g, SharedMemoryConfig.RequestDynamic<float>(sharedFloats(g))), d, a, tiles);
    }
}
