namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class MatMulTests
{
    /// <summary>Double-accumulating reference: C[b] = alpha·op(A[b])·op(B[b]) + beta·C0[b] (stride 0 = shared operand).</summary>
    private static float[] Reference(float[] a, float[] b, float[]? c0, int batch, int m, int n, int k,
        bool ta, bool tb, bool sharedA, bool sharedB, float alpha = 1, float beta = 0)
    {
        var c = new float[batch * m * n];
        for (int p = 0; p < batch; p++)
        {
            int ao = sharedA ? 0 : p * m * k, bo = sharedB ? 0 : p * k * n, co = p * m * n;
            for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int q = 0; q < k; q++)
                    s += (double)a[ao + (ta ? q * m + i : i * k + q)] * b[bo + (tb ? j * k + q : q * n + j)];
                double prev = c0 is null ? 0 : c0[co + i * n + j];
                c[co + i * n + j] = (float)(alpha * s + beta * prev);
            }
        }
        return c;
    }

    private static int[] Shape(int[] batch, int rows, int cols) => batch.Append(rows).Append(cols).ToArray();

    /// <summary>Checks MatMul.Compute against the reference for one configuration on <paramref name="device"/>.</summary>
    private static void Check(Device device, int[] batchA, int[] batchB, int m, int n, int k, bool ta, bool tb,
        float alpha = 1, float beta = 0, double rtol = 2e-5, int seed = 1)
    {
        int batch = Math.Max(batchA.Aggregate(1, (x, y) => x * y), batchB.Aggregate(1, (x, y) => x * y));
        var sa = Shape(batchA, ta ? k : m, ta ? m : k);
        var sb = Shape(batchB, tb ? n : k, tb ? k : n);
        var a = Data.Normal(sa.Aggregate(1, (x, y) => x * y), seed);
        var b = Data.Normal(sb.Aggregate(1, (x, y) => x * y), seed + 1);
        var outBatch = batchA.Length > 0 ? batchA : batchB;
        var so = Shape(outBatch, m, n);
        float[]? c0 = beta != 0 ? Data.Normal(batch * m * n, seed + 2) : null;
        var expected = Reference(a, b, c0, batch, m, n, k, ta, tb, batchA.Length == 0, batchB.Length == 0, alpha, beta);

        var ta_ = Tensor.From(a, sa, device);
        var tb_ = Tensor.From(b, sb, device);
        Tensor c;
        if (c0 is null) c = MatMul.Compute(ta_, tb_, ta, tb, alpha: alpha);
        else
        {
            var output = Tensor.From(c0, so, device);
            c = MatMul.Compute(ta_, tb_, ta, tb, output, alpha, beta);
            Assert.Same(output, c);
        }
        Assert.Equal(so, c.ShapeArray());
        // Float32 sums of k normal products: absolute error grows like sqrt(k)·eps.
        Close.All(expected, c.ToArray(), rtol, 1e-5 * Math.Sqrt(k), $"{device.Name} A{Shapes.Format(sa)} B{Shapes.Format(sb)} ta={ta} tb={tb}");
    }

    private static readonly int[] NoBatch = Array.Empty<int>();

    public static TheoryData<int, int, int> OddShapes => new()
    {
        { 1, 1, 1 }, { 1, 7, 33 }, { 7, 1, 33 }, { 7, 33, 1 }, { 33, 7, 257 }, { 257, 33, 7 }, { 65, 130, 97 },
        { 3, 300, 40 }, { 300, 2, 40 }, { 9, 17, 5000 }, { 130, 257, 300 }, { 33, 4100, 9 },
    };

    [Theory]
    [MemberData(nameof(OddShapes))]
    public void CpuMatchesReferenceForAllTransposes(int m, int n, int k)
    {
        foreach (var ta in new[] { false, true })
        foreach (var tb in new[] { false, true })
            Check(Device.Cpu, NoBatch, NoBatch, m, n, k, ta, tb);
    }

    [Fact]
    public void CpuBlockedPathCoversSeveralKAndColumnBlocks()
    {
        // K spans several packed slices (256) and N several column blocks (4096), with ragged edges.
        Check(Device.Cpu, NoBatch, NoBatch, 37, 4200, 600, false, false);
        Check(Device.Cpu, NoBatch, NoBatch, 301, 70, 777, true, true);
        // A deep product (K > 1024) keeps column blocks of at least 1024 columns: two of them here, over six slices.
        Check(Device.Cpu, NoBatch, NoBatch, 45, 1100, 1300, true, false);
    }

    [Fact]
    public void CpuAlphaAndBetaScaleProductAndExistingOutput()
    {
        foreach (var (m, n, k) in new[] { (5, 6, 7), (65, 130, 97) })
        foreach (var ta in new[] { false, true })
        foreach (var tb in new[] { false, true })
        {
            Check(Device.Cpu, NoBatch, NoBatch, m, n, k, ta, tb, alpha: 0.5f, beta: -1.5f);
            Check(Device.Cpu, NoBatch, NoBatch, m, n, k, ta, tb, alpha: 2f, beta: 1f);
            Check(Device.Cpu, NoBatch, NoBatch, m, n, k, ta, tb, alpha: -1f);
        }
    }

    [Fact]
    public void CpuBatchedProductsMatchReference()
    {
        foreach (var ta in new[] { false, true })
        foreach (var tb in new[] { false, true })
        {
            Check(Device.Cpu, new[] { 3 }, new[] { 3 }, 7, 9, 5, ta, tb);             // tiny: one thread
            Check(Device.Cpu, new[] { 2, 2 }, new[] { 2, 2 }, 65, 70, 33, ta, tb, alpha: 0.5f, beta: 2f);
            Check(Device.Cpu, new[] { 8 }, new[] { 8 }, 64, 70, 60, ta, tb);           // small products: split over the batch
            Check(Device.Cpu, new[] { 2 }, new[] { 2 }, 150, 140, 130, ta, tb);        // large: split each product
        }
    }

    [Fact]
    public void CpuSharedTwoDimensionalOperandMatchesReference()
    {
        foreach (var ta in new[] { false, true })
        foreach (var tb in new[] { false, true })
        {
            Check(Device.Cpu, new[] { 2, 3 }, NoBatch, 33, 20, 17, ta, tb);  // x[B, L, K] · W (rows stacked when !ta)
            Check(Device.Cpu, new[] { 4 }, NoBatch, 70, 65, 40, ta, tb, alpha: 1.5f, beta: 0.5f);
            Check(Device.Cpu, NoBatch, new[] { 3 }, 33, 20, 17, ta, tb);     // W · x[b] (shared left operand)
        }
    }

    [Fact]
    public void LinearCaseMatchesReference()
    {
        // y = x Wᵀ with x[B, L, in], W[out, in].
        Check(Device.Cpu, new[] { 2 }, NoBatch, 50, 48, 64, false, true);
        Check(Device.Cpu, new[] { 1 }, NoBatch, 1, 300, 257, false, true);    // one token: matrix–vector
    }

    [Theory]
    [InlineData(3, 7, 5)]       // partial 4×4 tiles in both directions, K below one vector
    [InlineData(4, 8, 16)]      // whole tiles, K exactly one vector
    [InlineData(8, 301, 257)]   // decoding a batch of 8 through a linear layer: K tail of 1, N tail of 1
    [InlineData(13, 66, 768)]
    [InlineData(16, 1030, 100)] // the largest skinny product, parallel over column blocks
    [InlineData(17, 40, 33)]    // just past the skinny bound: the packed GEMM
    public void SkinnyLinearProductsMatchReference(int m, int n, int k)
    {
        // A few rows x against W[out, in] (x·Wᵀ) take register-tiled dot products without packing W.
        Check(Device.Cpu, NoBatch, NoBatch, m, n, k, false, true);
        Check(Device.Cpu, NoBatch, NoBatch, m, n, k, false, true, alpha: 0.5f, beta: -1.5f);
        Check(Device.Cpu, new[] { 2 }, NoBatch, m, n, k, false, true, alpha: 2f, beta: 1f);
    }

    [Fact]
    public void EmptyInnerDimensionGivesBetaTimesOutput()
    {
        var a = Tensor.Zeros(new[] { 3, 0 });
        var b = Tensor.Zeros(new[] { 0, 4 });
        Assert.All(MatMul.Compute(a, b).ToArray(), v => Assert.Equal(0f, v));
        var c = Tensor.Full(new[] { 3, 4 }, 2f);
        MatMul.Compute(a, b, output: c, beta: 0.5f);
        Assert.All(c.ToArray(), v => Assert.Equal(1f, v));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesReference(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var ta in new[] { false, true })
        foreach (var tb in new[] { false, true })
        {
            Check(dev, NoBatch, NoBatch, 7, 9, 11, ta, tb);
            Check(dev, NoBatch, NoBatch, 1, 5, 3, ta, tb, alpha: 0.5f, beta: 2f);
            Check(dev, new[] { 3 }, new[] { 3 }, 5, 6, 9, ta, tb);
            Check(dev, new[] { 2 }, NoBatch, 6, 5, 4, ta, tb, alpha: -1f, beta: 1f);
            Check(dev, NoBatch, new[] { 2 }, 5, 3, 6, ta, tb);
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpuOnLargerTile(string shape)
    {
        var dev = TestDevices.Get(shape);
        var a = Tensor.From(Data.Normal(2 * 13 * 21, 5), new[] { 2, 13, 21 }, Device.Cpu);
        var b = Tensor.From(Data.Normal(19 * 21, 6), new[] { 19, 21 }, Device.Cpu);
        var cpu = MatMul.Compute(a, b, transB: true);
        var gpu = MatMul.Compute(a.To(dev), b.To(dev), transB: true);
        Close.All(cpu.ToArray(), gpu.ToArray(), 1e-5, 1e-5, shape);
    }

    [Fact]
    public void TileEdgeFollowsGroupSize()
    {
        Assert.Equal(16, MatMulGpu.TileEdge(1024));
        Assert.Equal(4, MatMulGpu.TileEdge(16));
        Assert.Equal(2, MatMulGpu.TileEdge(8));
        Assert.Equal(16, MatMulGpu.TileEdge(256));
    }

    [Fact]
    public void BadShapesAreReportedWithBothShapes()
    {
        var a = Tensor.Zeros(new[] { 2, 3, 5 });
        var e = Assert.Throws<ArgumentException>(() => MatMul.Compute(a, Tensor.Zeros(new[] { 4, 6 })));
        Assert.Contains("[2, 3, 5]", e.Message);
        Assert.Contains("[4, 6]", e.Message);
        Assert.Contains("K 5 vs 4", e.Message);

        e = Assert.Throws<ArgumentException>(() => MatMul.Compute(a, Tensor.Zeros(new[] { 6, 4 }), transB: true));
        Assert.Contains("(transposed)", e.Message);

        e = Assert.Throws<ArgumentException>(() => MatMul.Compute(a, Tensor.Zeros(new[] { 3, 5, 4 })));
        Assert.Contains("batch dimensions differ", e.Message);

        e = Assert.Throws<ArgumentException>(() => MatMul.Compute(Tensor.Zeros(new[] { 5 }), Tensor.Zeros(new[] { 5, 2 })));
        Assert.Contains("expected rank ≥ 2", e.Message);

        e = Assert.Throws<ArgumentException>(() => MatMul.Compute(a, Tensor.Zeros(new[] { 5, 4 }), output: Tensor.Zeros(new[] { 2, 3, 5 })));
        Assert.Contains("output has shape [2, 3, 5]", e.Message);

        var c = Tensor.Zeros(new[] { 5, 5 });
        e = Assert.Throws<ArgumentException>(() => MatMul.Compute(c, Tensor.Zeros(new[] { 5, 5 }), output: c));
        Assert.Contains("overlaps", e.Message);
    }
}
