namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class CrossEntropyTests
{
    private sealed record Reference(double[] Lse, double[] RowLoss, double Loss, int Count, float[] Grad);

    /// <summary>Double-precision cross-entropy with label smoothing ε and the gradient of Σ loss·g.</summary>
    private static Reference Naive(float[] x, int[] t, int vocab, int ignore, LossReduction reduction, double eps, float[] g)
    {
        int rows = t.Length, count = t.Count(v => v != ignore);
        var lse = new double[rows];
        var rowLoss = new double[rows];
        var grad = new float[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double m = double.NegativeInfinity, s = 0, mean = 0;
            for (int v = 0; v < vocab; v++) m = Math.Max(m, x[r * vocab + v]);
            for (int v = 0; v < vocab; v++) { s += Math.Exp(x[r * vocab + v] - m); mean += x[r * vocab + v]; }
            mean /= vocab;
            lse[r] = m + Math.Log(s);
            if (t[r] == ignore) continue;
            rowLoss[r] = lse[r] - (1 - eps) * x[r * vocab + t[r]] - eps * mean;
            double scale = reduction switch
            {
                LossReduction.None => g[r],
                LossReduction.Sum => g[0],
                _ => g[0] / count,
            };
            for (int v = 0; v < vocab; v++)
            {
                double p = Math.Exp(x[r * vocab + v] - lse[r]);
                double q = (v == t[r] ? 1 - eps : 0) + eps / vocab;
                grad[r * vocab + v] = (float)((p - q) * scale);
            }
        }
        double total = rowLoss.Sum();
        double loss = reduction == LossReduction.Mean ? (count > 0 ? total / count : 0) : total;
        return new Reference(lse, rowLoss, loss, count, grad);
    }

    /// <summary>Logits with every other row at ±80 (stability), targets with some ignored rows.</summary>
    private static (float[] X, int[] T) Batch(int rows, int vocab, int seed, int ignore = -100)
    {
        var x = Data.Normal(rows * vocab, seed, 2);
        for (int r = 0; r < rows; r += 2)
            for (int v = 0; v < vocab; v++) x[r * vocab + v] = (v * 7 + r) % 3 == 0 ? 80f - v % 4 : -80f + v % 3;
        var rng = new Rng(seed + 1);
        var t = Enumerable.Range(0, rows).Select(r => r % 5 == 3 ? ignore : rng.Next(vocab)).ToArray();
        return (x, t);
    }

    private static float[] Upstream(LossReduction reduction, int rows, int seed)
        => reduction == LossReduction.None ? Data.Normal(rows, seed) : new[] { 0.7f };

    private static Tensor UpstreamTensor(float[] g, LossReduction reduction, int[] targetShape, Device device)
        => reduction == LossReduction.None ? Tensor.From(g, targetShape, device) : Tensor.From(g, Array.Empty<int>(), device);

    public static TheoryData<int, int, LossReduction, float> Cases => new()
    {
        { 7, 5, LossReduction.Mean, 0f }, { 7, 5, LossReduction.Sum, 0f }, { 7, 5, LossReduction.None, 0f },
        { 13, 1000, LossReduction.Mean, 0f }, { 13, 1000, LossReduction.None, 0.1f }, { 9, 33, LossReduction.Mean, 0.25f },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CpuMatchesDoubleReference(int rows, int vocab, LossReduction reduction, float eps)
    {
        var (x, t) = Batch(rows, vocab, rows * vocab);
        var g = Upstream(reduction, rows, 5);
        var expected = Naive(x, t, vocab, -100, reduction, eps, g);
        var logits = Tensor.From(x, rows, vocab);
        var targets = Tensor.From(t, new[] { rows });
        var result = CrossEntropy.Forward(logits, targets, reduction: reduction, labelSmoothing: eps);
        Close.All(expected.Lse.Select(v => (float)v).ToArray(), result.LogSumExp.ToArray(), 1e-6, 1e-5, "lse");
        Assert.Equal(expected.Count, result.ValidCount.Item());
        if (reduction == LossReduction.None)
        {
            Assert.Equal(new[] { rows }, result.Loss.ShapeArray());
            Close.All(expected.RowLoss.Select(v => (float)v).ToArray(), result.Loss.ToArray(), 1e-5, 1e-5, "row loss");
        }
        else
        {
            Assert.Empty(result.Loss.ShapeArray());
            Assert.Equal(expected.Loss, result.Loss.Item(), Math.Max(1e-5 * Math.Abs(expected.Loss), 1e-5));
        }
        var dx = CrossEntropy.Backward(logits, targets, result, UpstreamTensor(g, reduction, new[] { rows }, Device.Cpu));
        Close.All(expected.Grad, dx.ToArray(), 1e-4, 1e-6, "dlogits");
    }

    [Fact]
    public void Int64TargetsBatchedLogitsAndCustomIgnoreIndex()
    {
        var (x, t) = Batch(12, 9, 3, ignore: 0);
        var logits = Tensor.From(x, 3, 4, 9);
        var t64 = Tensor.From(t.Select(v => (long)v).ToArray(), new[] { 3, 4 });
        var expected = Naive(x, t, 9, 0, LossReduction.Mean, 0, new[] { 1f });
        var result = CrossEntropy.Forward(logits, t64, ignoreIndex: 0);
        Assert.Equal(expected.Loss, result.Loss.Item(), 1e-5);
        var dx = CrossEntropy.Backward(logits, t64, result, Tensor.Scalar(1f));
        Assert.Equal(new[] { 3, 4, 9 }, dx.ShapeArray());
        Close.All(expected.Grad, dx.ToArray(), 1e-4, 1e-6);
        var none = CrossEntropy.Forward(logits, Tensor.From(t, new[] { 3, 4 }), ignoreIndex: 0, reduction: LossReduction.None);
        Assert.Equal(new[] { 3, 4 }, none.Loss.ShapeArray());
    }

    public static TheoryData<string> AllDevices => new() { "cpu", "w4x4", "w2x8" };

    private static Device Get(string name) => name == "cpu" ? Device.Cpu : TestDevices.Get(name);

    [Theory]
    [MemberData(nameof(AllDevices))]
    public void AllIgnoredBatchGivesZeroLossAndZeroGradient(string device)
    {
        var dev = Get(device);
        var logits = Tensor.From(Data.Normal(4 * 6, 7), new[] { 4, 6 }, dev);
        var targets = Tensor.From(new[] { -100, -100, -100, -100 }, new[] { 4 }, dev);
        foreach (var reduction in new[] { LossReduction.Mean, LossReduction.Sum, LossReduction.None })
        {
            var result = CrossEntropy.Forward(logits, targets, reduction: reduction);
            Assert.All(result.Loss.ToArray(), v => Assert.Equal(0f, v));
            Assert.Equal(0f, result.ValidCount.Item());
            var g = reduction == LossReduction.None ? Tensor.Ones(new[] { 4 }, dev) : Tensor.Full(Array.Empty<int>(), 1f, dev);
            Assert.All(CrossEntropy.Backward(logits, targets, result, g).ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string deviceShape)
    {
        var dev = TestDevices.Get(deviceShape);
        foreach (var (rows, vocab, reduction, eps, int64) in new[]
                 {
                     (6, 37, LossReduction.Mean, 0f, false), (5, 3, LossReduction.Sum, 0f, true),
                     (4, 200, LossReduction.None, 0.1f, false), (23, 7, LossReduction.Mean, 0.2f, true),
                 })
        {
            string what = $"{rows}x{vocab} {reduction} eps={eps} int64={int64}";
            var (x, t) = Batch(rows, vocab, rows + vocab);
            var logits = Tensor.From(x, rows, vocab);
            var targets = int64 ? Tensor.From(t.Select(v => (long)v).ToArray(), new[] { rows }) : Tensor.From(t, new[] { rows });
            var g = Upstream(reduction, rows, 3);
            var cpu = CrossEntropy.Forward(logits, targets, reduction: reduction, labelSmoothing: eps);
            var gpuLogits = logits.To(dev);
            var gpuTargets = targets.To(dev);
            var gpu = CrossEntropy.Forward(gpuLogits, gpuTargets, reduction: reduction, labelSmoothing: eps);
            Close.All(cpu.Loss.ToArray(), gpu.Loss.ToArray(), 1e-5, 1e-5, "loss " + what);
            Close.All(cpu.LogSumExp.ToArray(), gpu.LogSumExp.ToArray(), 1e-6, 1e-5, "lse " + what);
            Assert.Equal(cpu.ValidCount.Item(), gpu.ValidCount.Item());
            var cdx = CrossEntropy.Backward(logits, targets, cpu, UpstreamTensor(g, reduction, new[] { rows }, Device.Cpu));
            var gdx = CrossEntropy.Backward(gpuLogits, gpuTargets, gpu, UpstreamTensor(g, reduction, new[] { rows }, dev));
            Close.All(cdx.ToArray(), gdx.ToArray(), 1e-4, 1e-6, "dlogits " + what);
        }
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var logits = Tensor.Zeros(new[] { 3, 10 });
        var e = Assert.Throws<ArgumentException>(() => CrossEntropy.Forward(logits, Tensor.Zeros(new[] { 3 })));
        Assert.Contains("targets has dtype Float32, expected Int32 or Int64", e.Message);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Forward(logits, Tensor.From(new[] { 1, 10, 2 }, new[] { 3 })));
        Assert.Contains("targets[1]", range.Message);
        Assert.Contains("[0, 10)", range.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Forward(logits, Tensor.From(new[] { 1, -1, 2 }, new[] { 3 })));
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Forward(logits, Tensor.From(new[] { 1L, 1L << 40, 2L }, new[] { 3 })));
        var shape = Assert.Throws<ArgumentException>(() => CrossEntropy.Forward(logits, Tensor.From(new[] { 1, 2 }, new[] { 2 })));
        Assert.Contains("expected [3]", shape.Message);
        Assert.Throws<ArgumentException>(() => CrossEntropy.Forward(Tensor.Zeros(new[] { 10 }), Tensor.From(new[] { 1 }, Array.Empty<int>())));
        Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Forward(logits, Tensor.From(new[] { 1, 2, 3 }, new[] { 3 }), labelSmoothing: 1.5f));
        Assert.Contains("\"mean\"", Assert.Throws<ArgumentException>(() => CrossEntropy.ParseReduction("avg")).Message);
        var ok = CrossEntropy.Forward(logits, Tensor.From(new[] { 1, 2, 3 }, new[] { 3 }));
        Assert.Throws<ArgumentException>(() => CrossEntropy.Backward(logits, Tensor.From(new[] { 1, 2, 3 }, new[] { 3 }), ok, Tensor.Zeros(new[] { 3 })));
    }

    [Fact]
    public void IlgpuOutOfRangeTargetsThrowWhenCheckedAndGiveNaNOtherwise()
    {
        var dev = TestDevices.Get("w4x4");
        var logits = Tensor.Zeros(new[] { 3, 10 }, DType.Float32, dev);
        var targets = Tensor.From(new[] { 1, 12, 2 }, new[] { 3 }, dev);
        bool saved = IndexValidation.CheckOnIlgpu;
        try
        {
            IndexValidation.CheckOnIlgpu = true;
            Assert.Contains("targets[1]", Assert.Throws<ArgumentOutOfRangeException>(() => CrossEntropy.Forward(logits, targets)).Message);
            IndexValidation.CheckOnIlgpu = false;
            var result = CrossEntropy.Forward(logits, targets, reduction: LossReduction.None);
            var loss = result.Loss.ToArray();
            Assert.True(float.IsNaN(loss[1]));
            Assert.Equal(MathF.Log(10), loss[0], 5);
            var dx = CrossEntropy.Backward(logits, targets, result, Tensor.Ones(new[] { 3 }, dev)).ToArray();
            Assert.All(dx.Skip(10).Take(10), v => Assert.True(float.IsNaN(v)));
            Assert.All(dx.Take(10), v => Assert.False(float.IsNaN(v)));
        }
        finally
        {
            IndexValidation.CheckOnIlgpu = saved;
        }
    }
}
