namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class RopeTests
{
    /// <summary>
    /// The rotation written out directly in float64: pair k of a row at position p is (x[k], x[k + R/2]) (half split) or
    /// (x[2k], x[2k+1]) (interleaved), rotated by p·base^(−2k/R); channels from R on pass through.
    /// </summary>
    private static float[] Direct(float[] x, int[] shape, Func<int, int, int> position, double @base, int r, bool interleaved, double sign = 1)
    {
        int b = shape[0], h = shape[1], l = shape[2], d = shape[3];
        var y = (float[])x.Clone();
        for (int bi = 0; bi < b; bi++)
            for (int hi = 0; hi < h; hi++)
                for (int li = 0; li < l; li++)
                {
                    int row = ((bi * h + hi) * l + li) * d;
                    for (int k = 0; k < r / 2; k++)
                    {
                        int ia = interleaved ? row + 2 * k : row + k, ib = interleaved ? row + 2 * k + 1 : row + k + r / 2;
                        double theta = sign * position(bi, li) * Math.Pow(@base, -2.0 * k / r);
                        double a = x[ia], c = x[ib];
                        y[ia] = (float)(a * Math.Cos(theta) - c * Math.Sin(theta));
                        y[ib] = (float)(c * Math.Cos(theta) + a * Math.Sin(theta));
                    }
                }
        return y;
    }

    public static TheoryData<int, int, bool, int> Layouts => new()
    {
        { 8, 8, false, 0 },
        { 8, 8, true, 0 },
        { 8, 4, false, 3 },
        { 7, 6, true, 5 },
        { 10, 2, false, 100000 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void MatchesTheDirectFormulaAtAnOffset(int d, int r, bool interleaved, int offset)
    {
        var shape = new[] { 2, 3, 5, d };
        var x = Data.Normal(Shapes.Numel(shape), 1);
        var y = Rope.Apply(Tensor.From(x, shape), offset, 500f, r, interleaved);
        Close.All(Direct(x, shape, (_, l) => offset + l, 500, r, interleaved), y.ToArray(), 1e-5, 1e-5);
    }

    [Fact]
    public void DefaultsAreTheHalfSplitOverTheWholeHeadWithBase10000()
    {
        var shape = new[] { 1, 2, 6, 8 };
        var x = Data.Normal(Shapes.Numel(shape), 2);
        Close.All(Direct(x, shape, (_, l) => l, 10000, 8, false), Rope.Apply(Tensor.From(x, shape)).ToArray(), 1e-5, 1e-6);
    }

    [Fact]
    public void ExplicitPositionsSharedOrPerBatch()
    {
        var shape = new[] { 2, 2, 4, 6 };
        var x = Data.Normal(Shapes.Numel(shape), 3);
        int[] shared = { 7, 0, 3, 3 };
        Close.All(Direct(x, shape, (_, l) => shared[l], 10000, 6, false), Rope.Apply(Tensor.From(x, shape), shared).ToArray(), 1e-5, 1e-6);
        int[] perBatch = { 1, 2, 3, 4, 9, 8, 1000, 0 };
        Close.All(Direct(x, shape, (b, l) => perBatch[b * 4 + l], 10000, 4, true),
            Rope.Apply(Tensor.From(x, shape), perBatch, rotaryDim: 4, interleaved: true).ToArray(), 1e-5, 1e-6);
        // positions offset + l are the same as the offset form
        Close.All(Rope.Apply(Tensor.From(x, shape), 5), Rope.Apply(Tensor.From(x, shape), new[] { 5, 6, 7, 8 }), 0, 0);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void RotationPreservesNormsAndBackwardIsTheInverse(int d, int r, bool interleaved, int offset)
    {
        var shape = new[] { 2, 3, 5, d };
        var x = Data.Normal(Shapes.Numel(shape), 4);
        var dy = Data.Normal(Shapes.Numel(shape), 5);
        var y = Rope.Apply(Tensor.From(x, shape), offset, 500f, r, interleaved).ToArray();
        for (int row = 0; row < x.Length / d; row++)
        {
            double nx = 0, ny = 0;
            for (int c = 0; c < d; c++)
            {
                nx += (double)x[row * d + c] * x[row * d + c];
                ny += (double)y[row * d + c] * y[row * d + c];
            }
            Assert.Equal(nx, ny, 4);
        }
        var back = Rope.Backward(Tensor.From(y, shape), offset, 500f, r, interleaved);
        Close.All(x, back.ToArray(), 1e-5, 1e-5, "inverse");
        // Backward is the adjoint: <Apply(x), dy> = <x, Backward(dy)>.
        var dx = Rope.Backward(Tensor.From(dy, shape), offset, 500f, r, interleaved).ToArray();
        double lhs = 0, rhs = 0;
        for (int i = 0; i < x.Length; i++)
        {
            lhs += (double)y[i] * dy[i];
            rhs += (double)x[i] * dx[i];
        }
        Assert.Equal(lhs, rhs, 3);
        Close.All(Direct(dy, shape, (_, l) => offset + l, 500, r, interleaved, sign: -1), dx, 1e-5, 1e-5, "direct inverse");
    }

    [Fact]
    public void ScoresDependOnlyOnTheRelativePosition()
    {
        var shape = new[] { 1, 1, 1, 16 };
        var q = Tensor.From(Data.Normal(16, 6), shape);
        var k = Tensor.From(Data.Normal(16, 7), shape);
        static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();
        double at(int m, int n) => Dot(Rope.Apply(q, m).ToArray(), Rope.Apply(k, n).ToArray());
        Assert.Equal(at(9, 4), at(105, 100), 4);
        Assert.Equal(at(9, 4), at(5, 0), 4);
        Assert.NotEqual(at(9, 4), at(9, 5), 2);
    }

    [Fact]
    public void TablesAreCachedPerDeviceAndGrowWithThePositions()
    {
        var a = Rope.Table(Device.Cpu, 8, 10000f, 10);
        Assert.Same(a, Rope.Table(Device.Cpu, 8, 10000f, 200));
        var big = Rope.Table(Device.Cpu, 8, 10000f, 1000);
        Assert.True(big.Capacity > 1000);
        Assert.NotSame(a, big);
        Assert.NotSame(a, Rope.Table(Device.Cpu, 8, 500f, 10));
        Assert.NotSame(a, Rope.Table(TestDevices.Get("w4x4"), 8, 10000f, 10));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        var dims = new[] { 2, 3, 5, 7 };
        var x = Data.Normal(Shapes.Numel(dims), 8);
        foreach (bool interleaved in new[] { false, true })
        {
            var cpu = Tensor.From(x, dims);
            var gpu = Tensor.From(x, dims, dev);
            Close.All(Rope.Apply(cpu, 3, 10000f, 6, interleaved), Rope.Apply(gpu, 3, 10000f, 6, interleaved), 1e-6, 1e-6, "apply");
            Close.All(Rope.Backward(cpu, 3, 10000f, 4, interleaved), Rope.Backward(gpu, 3, 10000f, 4, interleaved), 1e-6, 1e-6, "backward");
            int[] perBatch = { 1, 2, 3, 4, 5, 9, 8, 7, 600, 0 };
            Close.All(Rope.Apply(cpu, perBatch, 10000f, 6, interleaved), Rope.Apply(gpu, perBatch, 10000f, 6, interleaved), 1e-6, 1e-6, "positions");
        }
    }

    [Fact]
    public void BadArgumentsThrowClearErrors()
    {
        var x = Tensor.Zeros(new[] { 1, 2, 3, 8 });
        Assert.Equal("rotaryDim", Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(x, rotaryDim: 5)).ParamName);
        Assert.Equal("rotaryDim", Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(x, rotaryDim: 10)).ParamName);
        Assert.Equal("rotaryDim", Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(Tensor.Zeros(new[] { 1, 2, 3, 7 }))).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Rope.Apply(Tensor.Zeros(new[] { 2, 3, 8 }))).ParamName);
        Assert.Equal("offset", Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(x, -1)).ParamName);
        Assert.Equal("base", Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(x, 0, 0f)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => Rope.Apply(x, new[] { 0, 1 }));
        Assert.Equal("positions", e.ParamName);
        Assert.Contains("expected L = 3", e.Message);
        Assert.Equal("positions", Assert.Throws<ArgumentOutOfRangeException>(() => Rope.Apply(x, new[] { 0, -1, 2 })).ParamName);
    }
}
