namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class ElementwiseTests
{
    private static readonly UnaryOp[] AllUnary = Enum.GetValues<UnaryOp>();

    private static (float[] x, float p0, float p1) UnaryInput(UnaryOp op, int n)
    {
        bool positive = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.Pow;
        var x = positive ? Data.Uniform(n, 3, 0.2, 3) : Data.Normal(n, 3, 3);
        return op switch
        {
            UnaryOp.Affine => (x, 1.5f, -0.25f),
            UnaryOp.Clamp => (x, -1f, 2f),
            UnaryOp.Pow => (x, 1.7f, 0f),
            _ => (x, 0f, 0f),
        };
    }

    private static double Reference(UnaryOp op, double x, double p0, double p1) => op switch
    {
        UnaryOp.Neg => -x,
        UnaryOp.Exp => Math.Exp(x),
        UnaryOp.Log => Math.Log(x),
        UnaryOp.Sigmoid => 1 / (1 + Math.Exp(-x)),
        UnaryOp.Silu => x / (1 + Math.Exp(-x)),
        UnaryOp.Gelu => 0.5 * x * (1 + MathNetErf(x / Math.Sqrt(2))),
        UnaryOp.Softplus => x > 20 ? x : Math.Log(1 + Math.Exp(x)),
        UnaryOp.Tanh => Math.Tanh(x),
        UnaryOp.Relu => Math.Max(x, 0),
        UnaryOp.Sqrt => Math.Sqrt(x),
        UnaryOp.Rsqrt => 1 / Math.Sqrt(x),
        UnaryOp.Square => x * x,
        UnaryOp.Abs => Math.Abs(x),
        UnaryOp.Reciprocal => 1 / x,
        UnaryOp.Affine => p0 * x + p1,
        UnaryOp.Clamp => Math.Min(Math.Max(x, p0), p1),
        UnaryOp.Pow => Math.Pow(x, p0),
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    // erf in double, independent of the float kernel approximation: Maclaurin series below 3, the asymptotic
    // erfc expansion above (absolute error < 1e-9 on both sides).
    private static double MathNetErf(double x)
    {
        double ax = Math.Abs(x), sum = 0, term = ax;
        if (ax >= 3)
        {
            double z = 1 / (2 * ax * ax), series = 1 - z + 3 * z * z - 15 * z * z * z + 105 * z * z * z * z;
            return Math.Sign(x) * (1 - Math.Exp(-ax * ax) / (ax * Math.Sqrt(Math.PI)) * series);
        }
        for (int n = 0; n < 200; n++)
        {
            sum += term / (2 * n + 1);
            term *= -ax * ax / (n + 1);
        }
        return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
    }

    [Fact]
    public void CpuUnaryMatchesDoublePrecisionDefinition()
    {
        foreach (var op in AllUnary)
        {
            var (x, p0, p1) = UnaryInput(op, 1000);
            var y = Elementwise.Unary(op, Tensor.From(x, x.Length), p0, p1).ToArray();
            var expected = x.Select(v => (float)Reference(op, v, p0, p1)).ToArray();
            Close.All(expected, y, 2e-6, 2e-6, op.ToString());
        }
    }

    [Fact]
    public void CpuUnaryGradMatchesCentralDifference()
    {
        foreach (var op in AllUnary)
        {
            var (x, p0, p1) = UnaryInput(op, 200);
            if (op is UnaryOp.Relu or UnaryOp.Abs or UnaryOp.Clamp) x = x.Select(v => MathF.Abs(v) < 0.05f ? v + 0.2f : v).ToArray();
            var dy = Data.Normal(x.Length, 9);
            var dx = Elementwise.UnaryBackward(op, Tensor.From(x, x.Length), Tensor.From(dy, dy.Length), p0, p1).ToArray();
            const double h = 1e-5;
            var expected = x.Select((v, i) => (float)(dy[i] * (Reference(op, v + h, p0, p1) - Reference(op, v - h, p0, p1)) / (2 * h))).ToArray();
            Close.All(expected, dx, 1e-4, 1e-5, op.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuUnaryAndBackwardMatchCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var op in AllUnary)
        {
            var (x, p0, p1) = UnaryInput(op, 77);
            var dy = Data.Normal(77, 4);
            var cpuX = Tensor.From(x, 7, 11);
            var gpuX = cpuX.To(dev);
            Close.All(Elementwise.Unary(op, cpuX, p0, p1).ToArray(), Elementwise.Unary(op, gpuX, p0, p1).ToArray(), 1e-5, 1e-6, op + " forward");
            var cpuDy = Tensor.From(dy, 7, 11);
            Close.All(Elementwise.UnaryBackward(op, cpuX, cpuDy, p0, p1).ToArray(),
                Elementwise.UnaryBackward(op, gpuX, cpuDy.To(dev), p0, p1).ToArray(), 1e-5, 1e-6, op + " backward");
        }
    }

    public static TheoryData<int[], int[]> BroadcastShapes => new()
    {
        { new[] { 3, 5 }, new[] { 3, 5 } },
        { new[] { 2, 3, 5 }, new[] { 5 } },
        { new[] { 2, 3, 5 }, new[] { 3, 1 } },
        { new[] { 4, 1, 5 }, new[] { 1, 3, 1 } },
        { new[] { 1 }, new[] { 2, 7 } },
        { new[] { 2, 1, 3, 1, 2 }, new[] { 2, 4, 1, 5, 1 } },
        { new[] { 7 }, Array.Empty<int>() },
    };

    private static float[] NaiveBinary(BinaryOp op, float[] a, int[] sa, float[] b, int[] sb, int[] so)
    {
        int n = so.Aggregate(1, (x, y) => x * y);
        var c = new float[n];
        for (int i = 0; i < n; i++)
        {
            int rem = i, oa = 0, ob = 0, stA = 1, stB = 1;
            for (int d = so.Length - 1; d >= 0; d--)
            {
                int coord = rem % so[d]; rem /= so[d];
                int da = d - (so.Length - sa.Length), db = d - (so.Length - sb.Length);
                if (da >= 0) { if (sa[da] != 1) oa += coord * stA; stA *= sa[da]; }
                if (db >= 0) { if (sb[db] != 1) ob += coord * stB; stB *= sb[db]; }
            }
            c[i] = op switch
            {
                BinaryOp.Add => a[oa] + b[ob], BinaryOp.Sub => a[oa] - b[ob], BinaryOp.Mul => a[oa] * b[ob],
                BinaryOp.Div => a[oa] / b[ob], BinaryOp.Max => Math.Max(a[oa], b[ob]), _ => Math.Min(a[oa], b[ob]),
            };
        }
        return c;
    }

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void BinaryBroadcastMatchesNaiveOnCpuAndIlgpu(int[] sa, int[] sb)
    {
        var so = Shapes.Broadcast(sa, sb, "test");
        var a = Data.Normal(Shapes.Numel(sa), 1);
        var b = Data.Uniform(Shapes.Numel(sb), 2, 0.5, 2);
        foreach (var op in Enum.GetValues<BinaryOp>())
        {
            var expected = NaiveBinary(op, a, sa, b, sb, so);
            var cpu = Elementwise.Binary(op, Tensor.From(a, sa, Device.Cpu), Tensor.From(b, sb, Device.Cpu));
            Assert.Equal(so, cpu.ShapeArray());
            Close.All(expected, cpu.ToArray(), 1e-6, 1e-7, $"cpu {op}");
            lock (IlgpuLock)
            {
                var dev = TestDevices.Get("w4x4");
                var gpu = Elementwise.Binary(op, Tensor.From(a, sa, dev), Tensor.From(b, sb, dev));
                Close.All(expected, gpu.ToArray(), 1e-6, 1e-7, $"ilgpu {op}");
            }
        }
    }

    private static readonly object IlgpuLock = new();

    [Theory]
    [MemberData(nameof(BroadcastShapes))]
    public void SumToIsTheAdjointOfBroadcasting(int[] big, int[] small)
    {
        var outShape = Shapes.Broadcast(big, small, "test");
        var x = Data.Normal(Shapes.Numel(outShape), 5);
        // Naive: add every element of x to the element of `small` it was broadcast from.
        var expected = new float[Shapes.Numel(small)];
        var ones = Enumerable.Repeat(0f, expected.Length).ToArray();
        for (int i = 0; i < x.Length; i++)
        {
            int rem = i, off = 0, st = 1;
            for (int d = outShape.Length - 1; d >= 0; d--)
            {
                int coord = rem % outShape[d]; rem /= outShape[d];
                int ds = d - (outShape.Length - small.Length);
                if (ds >= 0) { if (small[ds] != 1) off += coord * st; st *= small[ds]; }
            }
            expected[off] += x[i];
        }
        Close.All(expected, Elementwise.SumTo(Tensor.From(x, outShape, Device.Cpu), small).ToArray(), 1e-5, 1e-5, "cpu");
        var dev = TestDevices.Get("w2x8");
        Close.All(expected, Elementwise.SumTo(Tensor.From(x, outShape, dev), small).ToArray(), 1e-5, 1e-5, "ilgpu");
    }

    [Fact]
    public void AxpyFillAndLargeParallelPathsAgree()
    {
        int n = 100_003; // several CPU chunks, odd tail
        var x = Data.Normal(n, 1);
        var y = Data.Normal(n, 2);
        var ty = Tensor.From(y, n);
        Elementwise.Axpy(0.5f, Tensor.From(x, n), ty);
        Close.All(y.Select((v, i) => v + 0.5f * x[i]).ToArray(), ty.ToArray(), 1e-6, 1e-7, "axpy");
        var f = Tensor.Full(new[] { 3, 4 }, 2.5f, TestDevices.Get("w4x4"));
        Assert.All(f.ToArray(), v => Assert.Equal(2.5f, v));
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var a = Tensor.Zeros(new[] { 2, 3 });
        var b = Tensor.Zeros(new[] { 4, 3 });
        var e = Assert.Throws<ArgumentException>(() => Elementwise.Add(a, b));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Contains("[4, 3]", e.Message);
        var idx = Tensor.From(new[] { 1, 2 }, new[] { 2 });
        Assert.Contains("dtype Int32", Assert.Throws<ArgumentException>(() => Elementwise.Unary(UnaryOp.Exp, idx)).Message);
        var onGpu = Tensor.Zeros(new[] { 2, 3 }, DType.Float32, TestDevices.Get("w4x4"));
        Assert.Contains("ilgpu-cpu", Assert.Throws<ArgumentException>(() => Elementwise.Add(a, onGpu)).Message);
        Assert.Throws<ArgumentException>(() => Elementwise.SumTo(a, new[] { 4 }));
    }
}
