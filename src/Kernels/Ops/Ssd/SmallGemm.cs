using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Ssm.Kernels;

/// <summary>A float matrix in place: element [i, k] at P[i·Row + k·Col] (a transpose swaps the strides).</summary>
internal readonly unsafe struct Strided(float* p, int row, int col = 1)
{
    public readonly float* P = p;
    public readonly int Row = row, Col = col;

    public float this[int i, int k] => P[(long)i * Row + (long)k * Col];

    /// <summary>The transposed view (no copy).</summary>
    public Strided T => new(P, Col, Row);
}

/// <summary>Which side of the diagonal of A (i and k indexing the same positions) holds only zeros.</summary>
internal enum ZeroSide
{
    /// <summary>A is dense.</summary>
    None,
    /// <summary>A[i, k] = 0 for k &gt; i (lower triangular): row panel i0.. only needs k &lt; i0 + rows.</summary>
    AboveDiagonal,
    /// <summary>A[i, k] = 0 for k &lt; i (upper triangular): row panel i0.. only needs k ≥ i0.</summary>
    BelowDiagonal,
}

/// <summary>
/// Single-threaded register-blocked product of small strided matrices (the per-chunk products of the chunked scans):
/// C = A·B (or C += A·B) with A m×k, B k×n, C m×n of row stride ldc. Runs <see cref="MatMulCpu"/>'s micro-kernels
/// (8×32 tiles in Vector512 accumulators, else 6×16 in Vector256) directly on the operands where their layout allows:
/// A when it is stored k-major (Row = 1: each step's MR values are contiguous), B when its rows are contiguous
/// (Col = 1). Otherwise, and for edge tiles, the operand is packed into per-thread scratch (8×8 AVX transposes for
/// transposed layouts); edge tiles go through a scratch tile. A triangular A skips the k range of zeros per row panel;
/// the zero side inside a diagonal panel must hold real zeros.
/// </summary>
internal static unsafe class SmallGemm
{
    [ThreadStatic] private static float[]? scratch;

    public static void Multiply(int m, int n, int k, Strided a, Strided b, float* c, int ldc, bool accumulate,
        ZeroSide zeros = ZeroSide.None)
    {
        if (m <= 0 || n <= 0) return;
        bool wide = Vector512.IsHardwareAccelerated;
        if (!wide && !Vector256.IsHardwareAccelerated)
        {
            Naive(m, n, k, a, b, c, ldc, accumulate, zeros);
            return;
        }
        int mr = wide ? 8 : 6, nr = wide ? 32 : 16;
        // B is read in place for whole column panels of contiguous rows; the rest is packed as k rows of nr floats.
        int direct = b.Col == 1 ? n / nr * nr : 0, packedPanels = (n - direct + nr - 1) / nr;
        int aFloats = mr * k, bFloats = packedPanels * nr * k, tileFloats = mr * nr;
        int need = aFloats + bFloats + tileFloats;
        if (scratch is null || scratch.Length < need) scratch = GC.AllocateUninitializedArray<float>(Math.Max(need, 4096), pinned: true);
        float* aPack = (float*)Unsafe.AsPointer(ref scratch[0]), bPack = aPack + aFloats, tile = bPack + bFloats;
        for (int q = 0; q < packedPanels; q++)
        {
            int j0 = direct + q * nr;
            PackB(b, k, j0, Math.Min(nr, n - j0), nr, bPack + (long)q * nr * k);
        }
        float beta = accumulate ? 1f : 0f;
        for (int i0 = 0; i0 < m; i0 += mr)
        {
            int rows = Math.Min(mr, m - i0);
            int k0 = zeros == ZeroSide.BelowDiagonal ? Math.Min(i0, k) : 0;
            int k1 = zeros == ZeroSide.AboveDiagonal ? Math.Min(k, i0 + rows) : k, kc = k1 - k0;
            if (kc <= 0)
            {
                if (!accumulate)
                    for (int r = 0; r < rows; r++) new Span<float>(c + (long)(i0 + r) * ldc, n).Clear();
                continue;
            }
            float* ap;
            int lda;
            if (a.Row == 1 && rows == mr)
            {
                ap = a.P + i0 + (long)k0 * a.Col;
                lda = a.Col;
            }
            else
            {
                PackA(a, i0, rows, k0, kc, mr, aPack);
                ap = aPack;
                lda = mr;
            }
            for (int j0 = 0; j0 < n; j0 += nr)
            {
                int cols = Math.Min(nr, n - j0);
                float* bp;
                int ldb;
                if (j0 < direct)
                {
                    bp = b.P + (long)k0 * b.Row + j0;
                    ldb = b.Row;
                }
                else
                {
                    bp = bPack + (long)(j0 - direct) / nr * nr * k + (long)k0 * nr;
                    ldb = nr;
                }
                float* cp = c + (long)i0 * ldc + j0;
                if (rows == mr && cols == nr)
                {
                    Kernel(wide, kc, ap, lda, bp, ldb, cp, ldc, beta);
                    continue;
                }
                Kernel(wide, kc, ap, lda, bp, ldb, tile, nr, 0f);
                for (int r = 0; r < rows; r++)
                {
                    float* dst = cp + (long)r * ldc, src = tile + r * nr;
                    if (accumulate) for (int j = 0; j < cols; j++) dst[j] += src[j];
                    else for (int j = 0; j < cols; j++) dst[j] = src[j];
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Kernel(bool wide, int kc, float* a, int lda, float* b, int ldb, float* c, int ldc, float beta)
    {
        if (wide) MatMulCpu.Kernel8x32(kc, a, lda, b, ldb, c, ldc, beta);
        else MatMulCpu.Kernel6x16(kc, a, lda, b, ldb, c, ldc, beta);
    }

    /// <summary>dst[kk·mr + r] = A[i0 + r, k0 + kk] (rows past <paramref name="rows"/> zero).</summary>
    private static void PackA(Strided a, int i0, int rows, int k0, int kc, int mr, float* dst)
    {
        int k8 = 0;
        if (a.Col == 1 && rows == 8 && mr == 8 && Avx.IsSupported)
        {
            k8 = kc / 8 * 8;
            float* src = a.P + (long)i0 * a.Row + k0;
            for (int kk = 0; kk < k8; kk += 8) MatMulCpu.Transpose8x8(src + kk, a.Row, dst + kk * 8, 8, 1f);
        }
        for (int kk = k8; kk < kc; kk++)
        for (int r = 0; r < mr; r++)
            dst[kk * mr + r] = r < rows ? a[i0 + r, k0 + kk] : 0f;
    }

    /// <summary>dst[kk·nr + j] = B[kk, j0 + j] for all k rows (columns past <paramref name="cols"/> zero).</summary>
    private static void PackB(Strided b, int k, int j0, int cols, int nr, float* dst)
    {
        int j8 = 0;
        if (b.Row == 1 && Avx.IsSupported)
        {
            // Column j of B is contiguous: transpose 8 columns × 8 k at a time.
            j8 = cols / 8 * 8;
            int k8 = k / 8 * 8;
            for (int j = 0; j < j8; j += 8)
            {
                float* src = b.P + (long)(j0 + j) * b.Col;
                for (int kk = 0; kk < k8; kk += 8) MatMulCpu.Transpose8x8(src + kk, b.Col, dst + kk * nr + j, nr, 1f);
                for (int kk = k8; kk < k; kk++)
                for (int jj = 0; jj < 8; jj++) dst[kk * nr + j + jj] = b[kk, j0 + j + jj];
            }
        }
        for (int kk = 0; kk < k; kk++)
        for (int j = j8; j < nr; j++)
            dst[kk * nr + j] = j < cols ? b[kk, j0 + j] : 0f;
    }

    private static void Naive(int m, int n, int k, Strided a, Strided b, float* c, int ldc, bool accumulate, ZeroSide zeros)
    {
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            float s = 0;
            int k0 = zeros == ZeroSide.BelowDiagonal ? Math.Min(i, k) : 0, k1 = zeros == ZeroSide.AboveDiagonal ? Math.Min(k, i + 1) : k;
            for (int kk = k0; kk < k1; kk++) s += a[i, kk] * b[kk, j];
            c[(long)i * ldc + j] = accumulate ? c[(long)i * ldc + j] + s : s;
        }
    }
}
