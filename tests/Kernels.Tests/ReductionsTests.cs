namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class ReductionsTests
{
    /// <summary>Double-precision reference over dim: sums, and the first index of the max (NaN counts as largest).</summary>
    private static (double[] Sum, float[] Max, int[] ArgMax) Naive(float[] x, int[] shape, int dim)
    {
        int outer = 1, inner = 1, n = shape[dim];
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.Length; i++) inner *= shape[i];
        var sum = new double[outer * inner];
        var max = new float[outer * inner];
        var arg = new int[outer * inner];
        for (int o = 0; o < outer; o++)
            for (int j = 0; j < inner; j++)
            {
                double s = 0;
                int best = 0;
                for (int k = 0; k < n; k++)
                {
                    float v = x[(o * n + k) * inner + j], b = x[(o * n + best) * inner + j];
                    s += v;
                    if (!float.IsNaN(b) && (float.IsNaN(v) || v > b)) best = k;
                }
                sum[o * inner + j] = s;
                arg[o * inner + j] = best;
                max[o * inner + j] = n > 0 ? x[(o * n + best) * inner + j] : 0;
            }
        return (sum, max, arg);
    }

    public static TheoryData<int[]> Shapes => new()
    {
        new[] { 7 }, new[] { 3, 5 }, new[] { 2, 3, 5 }, new[] { 4, 1, 33 }, new[] { 2, 3, 4, 5 }, new[] { 5, 37 },
    };

    private static int[] Reduced(int[] shape, int dim, bool keep)
        => keep ? shape.Select((s, i) => i == dim ? 1 : s).ToArray() : shape.Where((_, i) => i != dim).ToArray();

    [Theory]
    [MemberData(nameof(Shapes))]
    public void CpuSumMeanMaxOverEachDimMatchDoubleReference(int[] shape)
    {
        var x = Data.Normal(Kernels.Shapes.Numel(shape), 11, 2);
        var t = Tensor.From(x, shape, Device.Cpu);
        for (int dim = -shape.Length; dim < shape.Length; dim++)
        {
            int d = dim < 0 ? dim + shape.Length : dim;
            var (sum, max, arg) = Naive(x, shape, d);
            foreach (bool keep in new[] { false, true })
            {
                var s = Reductions.Sum(t, dim, keep);
                Assert.Equal(Reduced(shape, d, keep), s.ShapeArray());
                Close.All(sum.Select(v => (float)v).ToArray(), s.ToArray(), 1e-5, 1e-5, $"sum dim {dim}");
                Close.All(sum.Select(v => (float)(v / shape[d])).ToArray(), Reductions.Mean(t, dim, keep).ToArray(), 1e-5, 1e-5, $"mean dim {dim}");
                var (mv, mi) = Reductions.Max(t, dim, keep);
                Assert.Equal(Reduced(shape, d, keep), mv.ShapeArray());
                Assert.Equal(Reduced(shape, d, keep), mi.ShapeArray());
                Assert.Equal(max, mv.ToArray());
                Assert.Equal(arg, mi.ToInt32Array());
            }
        }
    }

    [Fact]
    public void CpuLargeReductionsCrossChunksAndColumnUnits()
    {
        // inner 5000 spans three column units; 100003 elements span several whole-sum blocks.
        int[] shape = { 3, 4, 5000 };
        var x = Data.Normal(60000, 12);
        var t = Tensor.From(x, shape, Device.Cpu);
        foreach (int d in new[] { 0, 1, 2 })
        {
            var (sum, max, arg) = Naive(x, shape, d);
            Close.All(sum.Select(v => (float)v).ToArray(), Reductions.Sum(t, d).ToArray(), 1e-5, 1e-4, $"sum {d}");
            var (mv, mi) = Reductions.Max(t, d);
            Assert.Equal(max, mv.ToArray());
            Assert.Equal(arg, mi.ToInt32Array());
        }
        var big = Data.Uniform(100_003, 13, -1, 2);
        double total = big.Sum(v => (double)v);
        Assert.Equal(total, Reductions.Sum(Tensor.From(big, big.Length)).Item(), 1e-2);
        Assert.Equal(total / big.Length, Reductions.Mean(Tensor.From(big, 1, big.Length)).Item(), 1e-6);
        Assert.Empty(Reductions.Sum(Tensor.From(big, big.Length)).ShapeArray());
    }

    [Fact]
    public void MaxBreaksTiesToTheFirstIndexAndPropagatesNaN()
    {
        // Rows (last dim) and columns (dim 0) with repeated maxima and NaNs, on CPU and both ILGPU shapes.
        var rows = new float[]
        {
            1, 5, 5, 2, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 5,      // max 5 first at 1
            3, float.NaN, 9, float.NaN, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, // NaN first at 1
            float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity,
            float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity,
            float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity,
            float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity, float.NegativeInfinity,
        };
        int[] shape = { 3, 19 };
        foreach (var dev in new Device[] { Device.Cpu, TestDevices.Get("w4x4"), TestDevices.Get("w2x8") })
        {
            var t = Tensor.From(rows, shape, dev);
            var (v, i) = Reductions.Max(t, -1);
            Assert.Equal(new[] { 1, 1, 0 }, i.ToInt32Array());
            var values = v.ToArray();
            Assert.Equal(5f, values[0]);
            Assert.True(float.IsNaN(values[1]));
            Assert.Equal(float.NegativeInfinity, values[2]);

            // Over dim 0 of the transposed layout [19, 3] (strided path on ILGPU, vector path on CPU for wide rows).
            var transposed = new float[rows.Length];
            for (int r = 0; r < 3; r++) for (int c = 0; c < 19; c++) transposed[c * 3 + r] = rows[r * 19 + c];
            var (vt, it) = Reductions.Max(Tensor.From(transposed, new[] { 19, 3 }, dev), 0);
            Assert.Equal(new[] { 1, 1, 0 }, it.ToInt32Array());
            Assert.True(float.IsNaN(vt.ToArray()[1]));
        }
        // CPU vector path: 16 columns reduced over dim 0 with ties and NaNs in several lanes.
        var wide = new float[4 * 16];
        for (int c = 0; c < 16; c++) { wide[c] = 1; wide[16 + c] = c % 3 == 0 ? 1 : 2; wide[32 + c] = c % 5 == 0 ? float.NaN : 2; wide[48 + c] = float.NaN; }
        var (_, wi) = Reductions.Max(Tensor.From(wide, new[] { 4, 16 }, Device.Cpu), 0);
        var (_, _, arg) = Naive(wide, new[] { 4, 16 }, 0);
        Assert.Equal(arg, wi.ToInt32Array());
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuReductionsAndBackwardsMatchCpu(string deviceShape)
    {
        var dev = TestDevices.Get(deviceShape);
        foreach (var shape in new[] { new[] { 5, 37 }, new[] { 2, 3, 5 }, new[] { 3, 1, 7 }, new[] { 9 } })
        {
            var x = Data.Normal(Kernels.Shapes.Numel(shape), 21, 3);
            var cpu = Tensor.From(x, shape, Device.Cpu);
            var gpu = cpu.To(dev);
            for (int d = 0; d < shape.Length; d++)
            {
                string what = $"{Kernels.Shapes.Format(shape)} dim {d}";
                Close.All(Reductions.Sum(cpu, d).ToArray(), Reductions.Sum(gpu, d).ToArray(), 1e-5, 1e-5, "sum " + what);
                Close.All(Reductions.Mean(cpu, d, true).ToArray(), Reductions.Mean(gpu, d, true).ToArray(), 1e-5, 1e-5, "mean " + what);
                var (cv, ci) = Reductions.Max(cpu, d);
                var (gv, gi) = Reductions.Max(gpu, d);
                Assert.Equal(cv.ToArray(), gv.ToArray());
                Assert.Equal(ci.ToInt32Array(), gi.ToInt32Array());

                var dy = Data.Normal(cv.Length, 22);
                var cdy = Tensor.From(dy, cv.ShapeArray(), Device.Cpu);
                var gdy = cdy.To(dev);
                Assert.Equal(Reductions.SumBackward(cdy, shape, d, 0.5f).ToArray(), Reductions.SumBackward(gdy, shape, d, 0.5f).ToArray());
                Assert.Equal(Reductions.MaxBackward(cdy, ci, shape, d).ToArray(), Reductions.MaxBackward(gdy, gi, shape, d).ToArray());
            }
        }
        // Whole-tensor sums: one group, and a grid-stride pass with several groups followed by a one-group pass.
        foreach (int n in new[] { 5, 1000, 4099 })
        {
            var x = Data.Normal(n, 23);
            double expected = x.Sum(v => (double)v);
            Assert.Equal(expected, Reductions.Sum(Tensor.From(x, new[] { n }, dev)).Item(), 1e-3);
            Assert.Equal(expected / n, Reductions.Mean(Tensor.From(x, new[] { n }, dev)).Item(), 1e-6);
        }
    }

    [Fact]
    public void BackwardKernelsMatchNaiveDefinitions()
    {
        int[] shape = { 2, 3, 4 };
        var dy = Data.Normal(2 * 4, 31);
        var dx = Reductions.SumBackward(Tensor.From(dy, 2, 1, 4), shape, 1, 0.25f).ToArray();
        for (int o = 0; o < 2; o++) for (int k = 0; k < 3; k++) for (int j = 0; j < 4; j++)
            Assert.Equal(0.25f * dy[o * 4 + j], dx[(o * 3 + k) * 4 + j]);

        var idx = new[] { 2, 0, 1, 1, 0, 2, 2, 1 };
        var mx = Reductions.MaxBackward(Tensor.From(dy, 2, 4), Tensor.From(idx, new[] { 2, 4 }), shape, -2).ToArray();
        for (int o = 0; o < 2; o++) for (int k = 0; k < 3; k++) for (int j = 0; j < 4; j++)
            Assert.Equal(idx[o * 4 + j] == k ? dy[o * 4 + j] : 0f, mx[(o * 3 + k) * 4 + j]);

        var whole = Reductions.SumAllBackward(Tensor.Scalar(3f), shape, 0.5f);
        Assert.Equal(shape, whole.ShapeArray());
        Assert.All(whole.ToArray(), v => Assert.Equal(1.5f, v));
    }

    [Fact]
    public void EmptyDimensionsFollowPyTorch()
    {
        var t = Tensor.Zeros(new[] { 2, 0, 3 });
        Assert.All(Reductions.Sum(t, 1).ToArray(), v => Assert.Equal(0f, v));
        Assert.All(Reductions.Mean(t, 1).ToArray(), v => Assert.True(float.IsNaN(v)));
        Assert.Equal(new[] { 2, 0 }, Reductions.Sum(t, 2).ShapeArray());
        Assert.Equal(0f, Reductions.Sum(t).Item());
        Assert.True(float.IsNaN(Reductions.Mean(t).Item()));
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var x = Tensor.Zeros(new[] { 2, 3 });
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Reductions.Sum(x, 2));
        Assert.Contains("[2, 3]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Reductions.Max(x, -3));
        Assert.Contains("dtype Int32", Assert.Throws<ArgumentException>(() => Reductions.Sum(Tensor.From(new[] { 1, 2 }, new[] { 2 }))).Message);
        Assert.Contains("empty dimension", Assert.Throws<ArgumentException>(() => Reductions.Max(Tensor.Zeros(new[] { 2, 0 }), 1)).Message);
        var bad = Assert.Throws<ArgumentException>(() => Reductions.SumBackward(Tensor.Zeros(new[] { 3 }), new[] { 2, 3 }, 1));
        Assert.Contains("expected [2] or [2, 1]", bad.Message);
        Assert.Throws<ArgumentException>(() => Reductions.MaxBackward(Tensor.Zeros(new[] { 2 }), Tensor.Zeros(new[] { 2 }), new[] { 2, 3 }, 1));
    }
}
