using System.Collections.Concurrent;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU GEMM for <see cref="MatMul"/>, after the Goto/BLIS scheme. For each block of up to NC columns, each task
/// takes an MC-row block of C and, for each KC-deep slice of the inner dimension, packs that block of op(A) into MR-row
/// panels (scaled by alpha, zero-padded) and runs a register-tiled micro-kernel over MR×NR tiles (8×32 with Vector512
/// FMAs, 6×16 with Vector256) against NR-wide packed panels of op(B) (zero-padded; each packed once, by the first task
/// that needs it, and shared), keeping one B panel in L1 while A panels stream from L2. Transposes are absorbed by the packing (8×8 AVX transposes for the strided
/// cases). Tasks are row blocks (and column ranges when there are few rows), handed out one at a time to the
/// <see cref="CpuDevice.Threads"/> workers. Matrix–vector shapes (and CPUs without SIMD) use dot/axpy loops
/// (TensorPrimitives); batches of small products run one product per worker.
/// </summary>
internal static unsafe class MatMulCpu
{
    /// <summary>Depth of a packed slice: a KC×32 float panel of B is 32 KiB and stays in L1.</summary>
    private const int KC = 256;
    /// <summary>Most rows of a packed A block (MC×KC floats ≈ 144 KiB, kept in L2).</summary>
    private const int MCMax = 144;
    /// <summary>Most columns of a packed B block.</summary>
    private const int NCMax = 4096;
    /// <summary>Most floats of packed B at once (K×NC ≤ 4 MiB: stays in L3 while every row block streams it; the 16 floats
    /// of alignment slack keep the buffer in the 4 MiB size class) …</summary>
    private const int PackedBMax = (1 << 20) - 16;
    /// <summary>… unless that leaves fewer columns than this (K &gt; 1024): then A's packing, redone for every column block,
    /// costs more than B's cache misses (one thread, dW = gᵀ·x at K = 4096, M 3352, N 768: 133 → 118 ms) …</summary>
    private const int NCMin = 1024;
    /// <summary>… as long as packed B stays within 16 MiB (deeper products get fewer columns: the buffer stays bounded).</summary>
    private const int PackedBDeepMax = (1 << 22) - 16;
    /// <summary>Products with fewer multiply-adds (M·N·K) run on one thread (a parallel region costs microseconds).</summary>
    private const long ParallelWork = 1L << 20;
    /// <summary>Most rows of A in x·Wᵀ products run as register-tiled dot products without packing W.</summary>
    private const int SkinnyRows = 16;
    /// <summary>Per-matrix work (M·N·K) below which a batch is split across threads instead of each product.</summary>
    private const long BatchSplitWork = 1L << 21;

    /// <summary>One product C = alpha·op(A)·op(B) + beta·C on dense row-major matrices.</summary>
    private readonly struct Gemm(float* a, float* b, float* c, int m, int n, int k, bool transA, bool transB, float alpha, float beta)
    {
        public readonly float* A = a, B = b, C = c;
        public readonly int M = m, N = n, K = k;
        public readonly bool TransA = transA, TransB = transB;
        public readonly float Alpha = alpha, Beta = beta;

        /// <summary>op(A)[i, k].</summary>
        public float AAt(int i, int kk) => TransA ? A[(long)kk * M + i] : A[(long)i * K + kk];
    }

    public static void Compute(Tensor a, Tensor b, Tensor c, MatMulLayout l, float alpha, float beta)
    {
        fixed (float* pa = a.Data, pb = b.Data, pc = c.Data)
        {
            float* A = pa + a.Offset, B = pb + b.Offset, C = pc + c.Offset;
            bool ta = l.TransA != 0, tb = l.TransB != 0;
            if (l.Batch == 1 || (l.StrideB == 0 && !ta))
            {
                // One product; a batch of untransposed A against a shared B is one product with Batch·M rows.
                Run(new Gemm(A, B, C, l.M * l.Batch, l.N, l.K, ta, tb, alpha, beta), parallel: true);
                return;
            }
            long sa = l.StrideA, sb = l.StrideB, sc = (long)l.M * l.N;
            Gemm Item(int i) => new(A + i * sa, B + i * sb, C + i * sc, l.M, l.N, l.K, ta, tb, alpha, beta);
            long work = (long)l.M * l.N * l.K;
            if (work < BatchSplitWork)
                ForRange(l.Batch, CpuDevice.Threads > 1 && work * l.Batch >= ParallelWork, (s, e) =>
                {
                    for (int i = s; i < e; i++) Run(Item(i), parallel: false);
                });
            else
                for (int i = 0; i < l.Batch; i++) Run(Item(i), parallel: true);
        }
    }

    private static void Run(Gemm g, bool parallel)
    {
        // A one-row A (or one-column B) reads the same memory transposed or not: use the contiguous form.
        if (g.M == 1 && g.TransA || g.N == 1 && !g.TransB)
            g = new Gemm(g.A, g.B, g.C, g.M, g.N, g.K, g.TransA && g.M != 1, g.TransB || g.N == 1, g.Alpha, g.Beta);
        parallel &= (long)g.M * g.N * g.K >= ParallelWork;
        // Matrix–vector shapes would waste most of a register tile: dot/axpy loops instead (also without SIMD). So would
        // a few rows against a linear layer's weight (x·Wᵀ, decoding a small batch): packing W costs more than the product.
        bool vectorLike = g.M <= 2 || g.N <= 2 || Vector512.IsHardwareAccelerated && g.M <= SkinnyRows && g.TransB && !g.TransA;
        if (!vectorLike && Vector512.IsHardwareAccelerated) Blocked(g, parallel, wide: true);
        else if (!vectorLike && Vector256.IsHardwareAccelerated) Blocked(g, parallel, wide: false);
        else if (!g.TransB && g.N >= 16) DirectAxpy(g, parallel);
        else DirectDot(g, parallel);
    }

    // ---- blocked, packed GEMM ---------------------------------------------------------------------------------------

    private static void Blocked(Gemm g, bool parallel, bool wide)
    {
        int mr = wide ? 8 : 6, nr = wide ? 32 : 16;
        int m = g.M, n = g.N, k = g.K;
        int threads = parallel ? CpuDevice.Threads : 1;
        // Row blocks of at most MCMax rows; with several workers, at least two per worker (of at least 4·MR rows each)
        // and a multiple of the worker count where there are rows enough.
        int mBlocks = Ceil(m, MCMax);
        if (threads > 1)
        {
            mBlocks = Math.Max(mBlocks, Math.Min(2 * threads, m / (4 * mr)));
            if (m >= 4 * mr * threads) mBlocks = Ceil(mBlocks, threads) * threads;
        }
        int mc = Ceil(Ceil(m, mBlocks), mr) * mr;
        mBlocks = Ceil(m, mc);
        // Column blocks: all of op(B)[:, block] is packed at once (at most PackedBMax floats, but up to NCMin columns within
        // PackedBDeepMax: every packed A block is used against the block's columns only, so narrow blocks repack A often).
        int columns = Math.Max(PackedBMax / k, Math.Min(NCMin, PackedBDeepMax / k));
        int ncMax = Math.Max(nr, Math.Min(NCMax, columns / nr * nr));
        int slices = Ceil(k, KC);
        var bBuffer = Rent(k * Math.Min(ncMax, Ceil(n, nr) * nr));
        try
        {
            float* bPacked = Aligned(bBuffer);
            for (int jc = 0; jc < n; jc += ncMax)
            {
                int nc = Math.Min(ncMax, n - jc), panels = Ceil(nc, nr);
                long sliceStride = (long)KC * panels * nr; // packed slice s starts at s·sliceStride; panel q of it at q·kc·nr
                // Each B panel is packed by the first task that needs it: 0 = not packed, 1 = being packed, 2 = ready.
                var packState = new int[slices * panels];
                int jcc = jc;
                // Few row blocks: split the column panels too so that every worker has work.
                int nSplits = threads == 1 ? 1 : Math.Clamp(Ceil(2 * threads, mBlocks), 1, panels);
                ForEach(mBlocks * nSplits, threads > 1, task =>
                {
                    int i0 = task / nSplits * mc, rows = Math.Min(mc, m - i0), js = task % nSplits;
                    int q0 = (int)((long)panels * js / nSplits), q1 = (int)((long)panels * (js + 1) / nSplits);
                    var aBuffer = Rent(Ceil(rows, mr) * mr * KC);
                    try
                    {
                        float* aPacked = Aligned(aBuffer);
                        float* tile = stackalloc float[8 * 32];
                        for (int slice = 0; slice < slices; slice++)
                        {
                            int pc = slice * KC, kc = Math.Min(KC, k - pc);
                            float beta = pc == 0 ? g.Beta : 1f;
                            PackA(g, i0, rows, pc, kc, mr, aPacked);
                            for (int q = q0; q < q1; q++)
                            {
                                int j0 = jcc + q * nr, cols = Math.Min(nr, jcc + nc - j0);
                                float* bp = bPacked + slice * sliceStride + (long)q * kc * nr;
                                ref int state = ref packState[slice * panels + q];
                                if (Volatile.Read(ref state) != 2)
                                {
                                    if (Interlocked.CompareExchange(ref state, 1, 0) == 0)
                                    {
                                        PackB(g, pc, kc, j0, cols, nr, bp);
                                        Volatile.Write(ref state, 2);
                                    }
                                    else
                                    {
                                        // Another worker is packing this panel right now (it waits on nothing).
                                        var spin = new SpinWait();
                                        while (Volatile.Read(ref state) != 2) spin.SpinOnce();
                                    }
                                }
                                for (int ir = 0; ir < rows; ir += mr)
                                {
                                    int r = Math.Min(mr, rows - ir);
                                    float* ap = aPacked + (long)ir * kc;
                                    float* cp = g.C + (long)(i0 + ir) * n + j0;
                                    if (r == mr && cols == nr)
                                    {
                                        if (wide) Kernel8x32(kc, ap, mr, bp, nr, cp, n, beta);
                                        else Kernel6x16(kc, ap, mr, bp, nr, cp, n, beta);
                                        continue;
                                    }
                                    // Edge tile: compute the full tile aside, then merge the valid part.
                                    if (wide) Kernel8x32(kc, ap, mr, bp, nr, tile, nr, 0f);
                                    else Kernel6x16(kc, ap, mr, bp, nr, tile, nr, 0f);
                                    for (int rr = 0; rr < r; rr++)
                                    for (int cc = 0; cc < cols; cc++)
                                    {
                                        float* dst = cp + (long)rr * n + cc;
                                        *dst = beta == 0 ? tile[rr * nr + cc] : tile[rr * nr + cc] + beta * *dst;
                                    }
                                }
                            }
                        }
                    }
                    finally { Return(aBuffer); }
                });
            }
        }
        finally { Return(bBuffer); }
    }

    /// <summary>Packs op(B)[pc..pc+kc, j0..j0+cols] as kc rows of nr floats (columns past cols are zero).</summary>
    private static void PackB(Gemm g, int pc, int kc, int j0, int cols, int nr, float* dst)
    {
        if (!g.TransB)
        {
            // B is K×N: each row of the panel is a contiguous run of B.
            float* src = g.B + (long)pc * g.N + j0;
            for (int kk = 0; kk < kc; kk++, src += g.N, dst += nr)
            {
                Buffer.MemoryCopy(src, dst, nr * sizeof(float), cols * sizeof(float));
                for (int j = cols; j < nr; j++) dst[j] = 0f;
            }
            return;
        }
        // B is N×K: column j of op(B) is a contiguous run of B; transpose 8 columns × 8 k at a time.
        int j8 = Avx.IsSupported ? cols / 8 * 8 : 0, k8 = kc / 8 * 8;
        for (int j = 0; j < j8; j += 8)
        {
            float* src = g.B + (long)(j0 + j) * g.K + pc;
            for (int kk = 0; kk < k8; kk += 8) Transpose8x8(src + kk, g.K, dst + kk * nr + j, nr, 1f);
            for (int kk = k8; kk < kc; kk++)
                for (int jj = 0; jj < 8; jj++) dst[kk * nr + j + jj] = src[(long)jj * g.K + kk];
        }
        for (int j = j8; j < nr; j++)
        {
            if (j >= cols)
            {
                for (int kk = 0; kk < kc; kk++) dst[kk * nr + j] = 0f;
                continue;
            }
            float* src = g.B + (long)(j0 + j) * g.K + pc;
            for (int kk = 0; kk < kc; kk++) dst[kk * nr + j] = src[kk];
        }
    }

    /// <summary>Packs alpha·op(A)[i0..i0+rows, pc..pc+kc] as mr-row panels, each kc columns of mr floats (zero-padded rows).</summary>
    private static void PackA(Gemm g, int i0, int rows, int pc, int kc, int mr, float* dst)
    {
        float alpha = g.Alpha;
        if (g.TransA)
        {
            // A is K×M: column k of op(A) is a contiguous run of A. Walk A row by row (one contiguous run of the block's
            // rows each) and deal it out to the panels: panel-by-panel, every 8 floats would sit a row stride apart.
            for (int kk = 0; kk < kc; kk++)
            {
                float* src = g.A + (long)(pc + kk) * g.M + i0;
                float* d = dst + kk * mr;
                int ir = 0;
                if (mr == 8)
                    for (; ir <= rows - 8; ir += 8, d += (long)mr * kc)
                        Vector256.Store(Vector256.Load(src + ir) * alpha, d);
                for (; ir < rows; ir += mr, d += (long)mr * kc)
                {
                    int r = Math.Min(mr, rows - ir);
                    for (int rr = 0; rr < r; rr++) d[rr] = alpha * src[ir + rr];
                    for (int rr = r; rr < mr; rr++) d[rr] = 0f;
                }
            }
            return;
        }
        for (int ir = 0; ir < rows; ir += mr, dst += (long)mr * kc)
        {
            // A is M×K: row i of op(A) is a contiguous run of A; transpose 8 rows × 8 k at a time.
            int r = Math.Min(mr, rows - ir);
            float* src = g.A + (long)(i0 + ir) * g.K + pc;
            int k8 = 0;
            if (r == 8 && mr == 8 && Avx.IsSupported)
            {
                k8 = kc / 8 * 8;
                for (int kk = 0; kk < k8; kk += 8) Transpose8x8(src + kk, g.K, dst + kk * 8, 8, alpha);
            }
            for (int rr = 0; rr < mr; rr++)
            for (int kk = k8; kk < kc; kk++)
                dst[kk * mr + rr] = rr < r ? alpha * src[(long)rr * g.K + kk] : 0f;
        }
    }

    /// <summary>dst[c·dstStride + r] = scale·src[r·srcStride + c] for an 8×8 block (AVX unpack/shuffle/permute).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(float* src, int srcStride, float* dst, int dstStride, float scale)
    {
        var s = Vector256.Create(scale);
        Vector256<float> r0 = Avx.LoadVector256(src) * s, r1 = Avx.LoadVector256(src + srcStride) * s;
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * srcStride) * s, r3 = Avx.LoadVector256(src + 3 * srcStride) * s;
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * srcStride) * s, r5 = Avx.LoadVector256(src + 5 * srcStride) * s;
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * srcStride) * s, r7 = Avx.LoadVector256(src + 7 * srcStride) * s;
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1), t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5), t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE), u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE), u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>
    /// C[0..8, 0..32] = A·B + beta·C for an 8-row A panel (kc steps of 8 floats, lda apart; packed: lda = 8) and a
    /// 32-column B panel (kc rows of 32 floats, ldb apart; packed: ldb = 32): 16 Vector512 accumulators, two B vectors
    /// and one broadcast of A per step (beta = 0 does not read C). Also the micro-kernel of <see cref="SmallGemm"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel8x32(int kc, float* a, int lda, float* b, int ldb, float* c, int ldc, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default;
        for (int k = 0; k < kc; k++, a += lda, b += ldb)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
        }
        if (beta == 0)
        {
            Store(c, c00, c01); Store(c + ldc, c10, c11); Store(c + 2 * ldc, c20, c21); Store(c + 3 * ldc, c30, c31);
            Store(c + 4 * ldc, c40, c41); Store(c + 5 * ldc, c50, c51); Store(c + 6 * ldc, c60, c61); Store(c + 7 * ldc, c70, c71);
            return;
        }
        var bv = Vector512.Create(beta);
        Update(c, c00, c01, bv); Update(c + ldc, c10, c11, bv); Update(c + 2 * ldc, c20, c21, bv); Update(c + 3 * ldc, c30, c31, bv);
        Update(c + 4 * ldc, c40, c41, bv); Update(c + 5 * ldc, c50, c51, bv); Update(c + 6 * ldc, c60, c61, bv); Update(c + 7 * ldc, c70, c71, bv);

        static void Store(float* p, Vector512<float> x, Vector512<float> y)
        {
            Vector512.Store(x, p);
            Vector512.Store(y, p + 16);
        }

        static void Update(float* p, Vector512<float> x, Vector512<float> y, Vector512<float> bv)
        {
            Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(p), bv, x), p);
            Vector512.Store(Vector512.FusedMultiplyAdd(Vector512.Load(p + 16), bv, y), p + 16);
        }
    }

    /// <summary>The Vector256 micro-kernel: a 6×16 tile in 12 accumulators (fits the 16 AVX2 registers); strides as in <see cref="Kernel8x32"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Kernel6x16(int kc, float* a, int lda, float* b, int ldb, float* c, int ldc, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int k = 0; k < kc; k++, a += lda, b += ldb)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
        }
        if (beta == 0)
        {
            Store(c, c00, c01); Store(c + ldc, c10, c11); Store(c + 2 * ldc, c20, c21);
            Store(c + 3 * ldc, c30, c31); Store(c + 4 * ldc, c40, c41); Store(c + 5 * ldc, c50, c51);
            return;
        }
        var bv = Vector256.Create(beta);
        Update(c, c00, c01, bv); Update(c + ldc, c10, c11, bv); Update(c + 2 * ldc, c20, c21, bv);
        Update(c + 3 * ldc, c30, c31, bv); Update(c + 4 * ldc, c40, c41, bv); Update(c + 5 * ldc, c50, c51, bv);

        static void Store(float* p, Vector256<float> x, Vector256<float> y)
        {
            Vector256.Store(x, p);
            Vector256.Store(y, p + 8);
        }

        static void Update(float* p, Vector256<float> x, Vector256<float> y, Vector256<float> bv)
        {
            Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(p), bv, x), p);
            Vector256.Store(Vector256.FusedMultiplyAdd(Vector256.Load(p + 8), bv, y), p + 8);
        }
    }

    // ---- direct loops (matrix–vector shapes, no SIMD) ---------------------------------------------------------------

    /// <summary>C[i, :] = beta·C[i, :] + Σ_k alpha·op(A)[i, k]·B[k, :] (B untransposed), over blocks of rows × columns.</summary>
    private static void DirectAxpy(Gemm g, bool parallel)
    {
        const int rowBlock = 16, colBlock = 512;
        int rBlocks = Ceil(g.M, rowBlock), cBlocks = Ceil(g.N, colBlock);
        ForRange(rBlocks * cBlocks, parallel, (s, e) =>
        {
            for (int item = s; item < e; item++)
            {
                int i0 = item / cBlocks * rowBlock, i1 = Math.Min(g.M, i0 + rowBlock);
                int j0 = item % cBlocks * colBlock, width = Math.Min(colBlock, g.N - j0);
                for (int i = i0; i < i1; i++)
                {
                    var ci = new Span<float>(g.C + (long)i * g.N + j0, width);
                    if (g.Beta == 0) ci.Clear();
                    else TensorPrimitives.Multiply(ci, g.Beta, ci);
                }
                for (int kk = 0; kk < g.K; kk++)
                {
                    var bk = new ReadOnlySpan<float>(g.B + (long)kk * g.N + j0, width);
                    for (int i = i0; i < i1; i++)
                    {
                        var ci = new Span<float>(g.C + (long)i * g.N + j0, width);
                        TensorPrimitives.MultiplyAdd(bk, g.Alpha * g.AAt(i, kk), ci, ci);
                    }
                }
            }
        });
    }

    /// <summary>C[i, j] = alpha·(row i of op(A))·(column j of op(B)) + beta·C[i, j], with rows/columns made contiguous.</summary>
    private static void DirectDot(Gemm g, bool parallel)
    {
        const int rowBlock = 16, colBlock = 64;
        int m = g.M, n = g.N, k = g.K;
        float[]? aT = g.TransA ? Rent(m * k) : null, bT = g.TransB ? null : Rent(n * k);
        try
        {
            float* rowsA = g.A, colsB = g.B;
            if (aT is not null) Transpose(g.A, k, m, rowsA = Aligned(aT));
            if (bT is not null) Transpose(g.B, k, n, colsB = Aligned(bT));
            int rBlocks = Ceil(m, rowBlock), cBlocks = Ceil(n, colBlock);
            ForRange(rBlocks * cBlocks, parallel, (s, e) =>
            {
                for (int item = s; item < e; item++)
                {
                    int i0 = item / cBlocks * rowBlock, i1 = Math.Min(m, i0 + rowBlock);
                    int j0 = item % cBlocks * colBlock, j1 = Math.Min(n, j0 + colBlock);
                    // Four columns of op(B) stay in L1 while every row tile of the block passes over them.
                    for (int j = j0; j < j1; j += DotTile)
                        for (int i = i0; i < i1; i += DotTile)
                            DotTile4x4(g, rowsA + (long)i * k, Math.Min(DotTile, i1 - i), colsB + (long)j * k, Math.Min(DotTile, j1 - j),
                                g.C + (long)i * n + j);
                }
            });
        }
        finally
        {
            if (aT is not null) Return(aT);
            if (bT is not null) Return(bT);
        }
    }

    /// <summary>Rows and columns of one <see cref="DotTile4x4"/> tile.</summary>
    private const int DotTile = 4;

    /// <summary>
    /// C[r, c] = alpha·(a_r · b_c) + beta·C[r, c] for r &lt; rows, c &lt; cols (≤ 4 each; a_r, b_c contiguous rows of length
    /// K, C with row stride N): 16 Vector512 accumulators, four loads of each side per 16 FMAs (vs two loads per FMA for
    /// separate dot products). Missing rows/columns of a partial tile repeat the last one and are not stored.
    /// Also prefetches the four rows of b that follow this tile's (the next tile's columns; a prefetch never faults, also
    /// past the end): without it, streaming a linear layer's weight from memory for a few token rows (decoding) runs at
    /// under half the bandwidth of a plain read.
    /// </summary>
    private static void DotTile4x4(Gemm g, float* a, int rows, float* b, int cols, float* c)
    {
        int k = g.K, n = g.N;
        float* sums = stackalloc float[DotTile * DotTile];
        if (!Vector512.IsHardwareAccelerated)
        {
            for (int r = 0; r < rows; r++)
                for (int q = 0; q < cols; q++)
                    sums[r * DotTile + q] = TensorPrimitives.Dot(new ReadOnlySpan<float>(a + (long)r * k, k), new ReadOnlySpan<float>(b + (long)q * k, k));
        }
        else
        {
            float* a0 = a, a1 = a + (long)Math.Min(1, rows - 1) * k, a2 = a + (long)Math.Min(2, rows - 1) * k, a3 = a + (long)Math.Min(3, rows - 1) * k;
            float* b0 = b, b1 = b + (long)Math.Min(1, cols - 1) * k, b2 = b + (long)Math.Min(2, cols - 1) * k, b3 = b + (long)Math.Min(3, cols - 1) * k;
            Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
            Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
            int kk = 0;
            float* next = b + (long)DotTile * k;
            for (; kk <= k - 16; kk += 16)
            {
                Sse.Prefetch0(next + kk); Sse.Prefetch0(next + k + kk); Sse.Prefetch0(next + 2 * k + kk); Sse.Prefetch0(next + 3 * k + kk);
                var w0 = Vector512.Load(b0 + kk); var w1 = Vector512.Load(b1 + kk); var w2 = Vector512.Load(b2 + kk); var w3 = Vector512.Load(b3 + kk);
                var x = Vector512.Load(a0 + kk);
                c00 = Vector512.FusedMultiplyAdd(x, w0, c00); c01 = Vector512.FusedMultiplyAdd(x, w1, c01); c02 = Vector512.FusedMultiplyAdd(x, w2, c02); c03 = Vector512.FusedMultiplyAdd(x, w3, c03);
                x = Vector512.Load(a1 + kk);
                c10 = Vector512.FusedMultiplyAdd(x, w0, c10); c11 = Vector512.FusedMultiplyAdd(x, w1, c11); c12 = Vector512.FusedMultiplyAdd(x, w2, c12); c13 = Vector512.FusedMultiplyAdd(x, w3, c13);
                x = Vector512.Load(a2 + kk);
                c20 = Vector512.FusedMultiplyAdd(x, w0, c20); c21 = Vector512.FusedMultiplyAdd(x, w1, c21); c22 = Vector512.FusedMultiplyAdd(x, w2, c22); c23 = Vector512.FusedMultiplyAdd(x, w3, c23);
                x = Vector512.Load(a3 + kk);
                c30 = Vector512.FusedMultiplyAdd(x, w0, c30); c31 = Vector512.FusedMultiplyAdd(x, w1, c31); c32 = Vector512.FusedMultiplyAdd(x, w2, c32); c33 = Vector512.FusedMultiplyAdd(x, w3, c33);
            }
            sums[0] = Vector512.Sum(c00); sums[1] = Vector512.Sum(c01); sums[2] = Vector512.Sum(c02); sums[3] = Vector512.Sum(c03);
            sums[4] = Vector512.Sum(c10); sums[5] = Vector512.Sum(c11); sums[6] = Vector512.Sum(c12); sums[7] = Vector512.Sum(c13);
            sums[8] = Vector512.Sum(c20); sums[9] = Vector512.Sum(c21); sums[10] = Vector512.Sum(c22); sums[11] = Vector512.Sum(c23);
            sums[12] = Vector512.Sum(c30); sums[13] = Vector512.Sum(c31); sums[14] = Vector512.Sum(c32); sums[15] = Vector512.Sum(c33);
            for (; kk < k; kk++)
                for (int r = 0; r < DotTile; r++)
                {
                    float ar = (r == 0 ? a0 : r == 1 ? a1 : r == 2 ? a2 : a3)[kk];
                    sums[r * DotTile] += ar * b0[kk]; sums[r * DotTile + 1] += ar * b1[kk];
                    sums[r * DotTile + 2] += ar * b2[kk]; sums[r * DotTile + 3] += ar * b3[kk];
                }
        }
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < cols; q++)
            {
                float* cij = c + (long)r * n + q;
                float dot = g.Alpha * sums[r * DotTile + q];
                *cij = g.Beta == 0 ? dot : dot + g.Beta * *cij;
            }
    }

    /// <summary>dst (cols×rows) = transpose of src (rows×cols).</summary>
    private static void Transpose(float* src, int rows, int cols, float* dst)
    {
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            dst[(long)c * rows + r] = src[(long)r * cols + c];
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    private static int Ceil(int x, int d) => (x + d - 1) / d;

    private static void ForRange(int n, bool parallel, Action<int, int> body)
    {
        if (parallel) CpuParallel.For(n, 1, body);
        else if (n > 0) body(0, n);
    }

    /// <summary>Runs body(i) for i in [0, n); in parallel, each worker takes the next item from a shared counter.</summary>
    private static void ForEach(int n, bool parallel, Action<int> body)
    {
        int workers = parallel ? Math.Min(n, CpuDevice.Threads) : 1;
        if (workers <= 1)
        {
            for (int i = 0; i < n; i++) body(i);
            return;
        }
        int next = -1;
        CpuParallel.Each(workers, _ =>
        {
            for (int i = Interlocked.Increment(ref next); i < n; i = Interlocked.Increment(ref next)) body(i);
        });
    }

    /// <summary>Pinned packing buffers by power-of-two size class, reused across calls (one per concurrent user).</summary>
    private static readonly ConcurrentBag<float[]>[] Buffers =
        Enumerable.Range(0, 32).Select(_ => new ConcurrentBag<float[]>()).ToArray();

    /// <summary>A pinned buffer with room for <paramref name="floats"/> floats after 64-byte alignment.</summary>
    private static float[] Rent(int floats)
    {
        // The smallest power of two that holds the floats and 15 of alignment slack.
        int sizeClass = Math.Max(12, 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(floats + 15 - 1)));
        return Buffers[sizeClass].TryTake(out var buffer)
            ? buffer
            : GC.AllocateUninitializedArray<float>(1 << sizeClass, pinned: true);
    }

    private static void Return(float[] buffer) => Buffers[System.Numerics.BitOperations.Log2((uint)buffer.Length)].Add(buffer);

    /// <summary>The first 64-byte-aligned element of a pinned buffer.</summary>
    private static float* Aligned(float[] buffer)
    {
        nint p = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((p + 63) & ~(nint)63);
    }
}
