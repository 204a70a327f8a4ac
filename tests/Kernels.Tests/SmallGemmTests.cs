namespace Ssm.Kernels.Tests;

public sealed unsafe class SmallGemmTests
{
    public static TheoryData<int, int, int> Sizes() => new()
    {
        { 1, 1, 1 }, { 7, 5, 3 }, { 8, 32, 8 }, { 9, 33, 17 }, { 64, 64, 64 }, { 64, 128, 64 }, { 13, 70, 40 },
        { 24, 16, 129 }, { 6, 48, 5 },
    };

    /// <summary>
    /// Every layout of A (row-major, k-major) and B (contiguous rows, transposed), padded row strides, overwrite and
    /// accumulate, against a double-precision naive product.
    /// </summary>
    [Theory]
    [MemberData(nameof(Sizes))]
    public void MatchesNaiveProductForAllLayouts(int m, int n, int k)
    {
        foreach (bool aKMajor in new[] { false, true })
        foreach (bool bTransposed in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
            Check(m, n, k, aKMajor, bTransposed, accumulate, ZeroSide.None, seed: m * 1000 + n * 10 + k);
    }

    /// <summary>Triangular A (i and k over the same positions): results equal the dense product with zeros, and the skipped k ranges are not read (they hold NaN).</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(20)]
    [InlineData(64)]
    public void TriangularLeftOperandSkipsItsZeros(int t)
    {
        foreach (var zeros in new[] { ZeroSide.AboveDiagonal, ZeroSide.BelowDiagonal })
        foreach (bool aKMajor in new[] { false, true })
        foreach (bool accumulate in new[] { false, true })
        foreach (int n in new[] { 3, 32, 45 })
            Check(t, n, t, aKMajor, bTransposed: false, accumulate, zeros, seed: t * 7 + n);
    }

    private static void Check(int m, int n, int k, bool aKMajor, bool bTransposed, bool accumulate, ZeroSide zeros, int seed)
    {
        // Padded strides: each stored row is 3 floats longer than it needs to be.
        int aRows = aKMajor ? k : m, aCols = aKMajor ? m : k, lda = aCols + 3;
        int bRows = bTransposed ? n : k, bCols = bTransposed ? k : n, ldb = bCols + 3, ldc = n + 3;
        var a = Data.Normal(aRows * lda, seed);
        var b = Data.Normal(bRows * ldb, seed + 1);
        var c = Data.Normal(m * ldc, seed + 2);
        float A(int i, int kk) => aKMajor ? a[kk * lda + i] : a[i * lda + kk];
        for (int i = 0; i < m; i++)
        for (int kk = 0; kk < k; kk++)
            if (zeros == ZeroSide.AboveDiagonal && kk > i || zeros == ZeroSide.BelowDiagonal && kk < i)
                a[aKMajor ? kk * lda + i : i * lda + kk] = 0f;
        var expected = (float[])c.Clone(); // also: the padding past each row of C stays as it was
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int kk = 0; kk < k; kk++) s += (double)A(i, kk) * (bTransposed ? b[j * ldb + kk] : b[kk * ldb + j]);
            expected[i * ldc + j] = (float)(accumulate ? c[i * ldc + j] + s : s);
        }
        // Entries of the zero side at least one register panel (≤ 8 rows) away from the diagonal are never read: make
        // them NaN, so that a product which read them would fail.
        for (int i = 0; i < m; i++)
        for (int kk = 0; kk < k; kk++)
            if (zeros == ZeroSide.AboveDiagonal && kk >= i + 8 || zeros == ZeroSide.BelowDiagonal && kk <= i - 8)
                a[aKMajor ? kk * lda + i : i * lda + kk] = float.NaN;
        fixed (float* pa = a, pb = b, pc = c)
        {
            var sa = aKMajor ? new Strided(pa, lda).T : new Strided(pa, lda);
            var sb = bTransposed ? new Strided(pb, ldb).T : new Strided(pb, ldb);
            SmallGemm.Multiply(m, n, k, sa, sb, pc, ldc, accumulate, zeros);
        }
        Close.All(expected, c, 1e-5, 1e-5 * Math.Sqrt(k),
            $"m {m} n {n} k {k} A {(aKMajor ? "k-major" : "row-major")} B {(bTransposed ? "transposed" : "rows")} " +
            $"{(accumulate ? "+=" : "=")} {zeros}");
    }
}
