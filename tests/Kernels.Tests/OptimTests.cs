namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class OptimTests
{
    private const double Lr = 1e-2, B1 = 0.9, B2 = 0.999, Eps = 1e-8, Wd = 0.1;

    /// <summary>torch.optim.AdamW's documented algorithm, in double.</summary>
    private static void AdamWReference(double[] p, double[] g, double[] m, double[] v, long t)
    {
        double bc1 = 1 - Math.Pow(B1, t), bc2 = 1 - Math.Pow(B2, t);
        for (int i = 0; i < p.Length; i++)
        {
            p[i] -= Lr * Wd * p[i];
            m[i] = B1 * m[i] + (1 - B1) * g[i];
            v[i] = B2 * v[i] + (1 - B2) * g[i] * g[i];
            p[i] -= Lr * (m[i] / bc1) / (Math.Sqrt(v[i] / bc2) + Eps);
        }
    }

    private static double[] D(float[] a) => a.Select(x => (double)x).ToArray();
    private static float[] Fl(double[] a) => a.Select(x => (float)x).ToArray();

    [Fact]
    public void CpuAdamWMatchesDoublePrecisionReferenceOverSteps()
    {
        const int n = 1037; // vector body plus a scalar tail
        var p0 = Data.Normal(n, 1);
        var p = Tensor.From(p0, n);
        var m = Tensor.Zeros(new[] { n });
        var v = Tensor.Zeros(new[] { n });
        double[] rp = D(p0), rm = new double[n], rv = new double[n];
        for (int t = 1; t <= 5; t++)
        {
            var g = Data.Normal(n, 10 + t, std: t == 3 ? 1e-3 : 1); // one step with tiny gradients (eps matters more)
            OptimizerOps.AdamW(p, Tensor.From(g, n), m, v, Lr, B1, B2, Eps, Wd, t);
            AdamWReference(rp, D(g), rm, rv, t);
        }
        Close.All(Fl(rp), p.ToArray(), 1e-5, 1e-6, "param");
        Close.All(Fl(rm), m.ToArray(), 1e-5, 1e-7, "exp_avg");
        Close.All(Fl(rv), v.ToArray(), 1e-5, 1e-9, "exp_avg_sq");
    }

    [Fact]
    public void CpuSgdMatchesReferenceForEveryVariant()
    {
        const int n = 531;
        foreach (var (momentum, dampening, wd, nesterov) in new[] { (0.0, 0.0, 0.0, false), (0.9, 0.0, 0.01, false), (0.9, 0.1, 0.0, false), (0.8, 0.0, 0.05, true) })
        {
            var p0 = Data.Normal(n, 2);
            var p = Tensor.From(p0, n);
            var b = momentum != 0 ? Tensor.Zeros(new[] { n }) : null;
            double[] rp = D(p0), rb = new double[n];
            for (int t = 1; t <= 4; t++)
            {
                var g = Data.Normal(n, 20 + t);
                OptimizerOps.Sgd(p, Tensor.From(g, n), b, 0.05, momentum, dampening, wd, nesterov, firstStep: t == 1);
                for (int i = 0; i < n; i++) // torch.optim.SGD, documented algorithm
                {
                    double d = g[i] + wd * rp[i];
                    if (momentum != 0)
                    {
                        rb[i] = t == 1 ? d : momentum * rb[i] + (1 - dampening) * d;
                        d = nesterov ? d + momentum * rb[i] : rb[i];
                    }
                    rp[i] -= 0.05 * d;
                }
            }
            string what = $"momentum {momentum}, dampening {dampening}, wd {wd}, nesterov {nesterov}";
            Close.All(Fl(rp), p.ToArray(), 1e-5, 1e-6, what);
            if (b is not null) Close.All(Fl(rb), b.ToArray(), 1e-5, 1e-6, what + " buffer");
        }
    }

    [Fact]
    public void CpuSumOfSquaresAccumulates()
    {
        var a = Data.Normal(50_001, 3);
        var b = Data.Normal(7, 4);
        var total = Tensor.Zeros(new[] { 1 });
        OptimizerOps.AddSumOfSquares(Tensor.From(a, a.Length), total);
        OptimizerOps.AddSumOfSquares(Tensor.From(b, 7), total);
        double expected = a.Sum(x => (double)x * x) + b.Sum(x => (double)x * x);
        Assert.Equal(expected, total.Item(), expected * 1e-5);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuUpdatesMatchCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        const int n = 613;
        var p0 = Data.Normal(n, 5);
        var (cp, gp) = (Tensor.From(p0, n), Tensor.From(p0, new[] { n }, dev));
        var (cm, gm) = (Tensor.Zeros(new[] { n }), Tensor.Zeros(new[] { n }, DType.Float32, dev));
        var (cv, gv) = (Tensor.Zeros(new[] { n }), Tensor.Zeros(new[] { n }, DType.Float32, dev));
        for (int t = 1; t <= 3; t++)
        {
            var g = Data.Normal(n, 30 + t);
            OptimizerOps.AdamW(cp, Tensor.From(g, n), cm, cv, Lr, B1, B2, Eps, Wd, t);
            OptimizerOps.AdamW(gp, Tensor.From(g, new[] { n }, dev), gm, gv, Lr, B1, B2, Eps, Wd, t);
        }
        Close.All(cp.ToArray(), gp.ToArray(), 1e-5, 1e-6, "AdamW param");
        Close.All(cm.ToArray(), gm.ToArray(), 1e-5, 1e-7, "AdamW exp_avg");
        Close.All(cv.ToArray(), gv.ToArray(), 1e-5, 1e-9, "AdamW exp_avg_sq");

        foreach (var (momentum, nesterov) in new[] { (0.0, false), (0.9, false), (0.9, true) })
        {
            var (sp, sgp) = (Tensor.From(p0, n), Tensor.From(p0, new[] { n }, dev));
            var (sb, sgb) = (Tensor.Zeros(new[] { n }), Tensor.Zeros(new[] { n }, DType.Float32, dev));
            for (int t = 1; t <= 3; t++)
            {
                var g = Data.Normal(n, 40 + t);
                OptimizerOps.Sgd(sp, Tensor.From(g, n), momentum != 0 ? sb : null, 0.1, momentum, 0, 0.01, nesterov, t == 1);
                OptimizerOps.Sgd(sgp, Tensor.From(g, new[] { n }, dev), momentum != 0 ? sgb : null, 0.1, momentum, 0, 0.01, nesterov, t == 1);
            }
            Close.All(sp.ToArray(), sgp.ToArray(), 1e-5, 1e-6, $"SGD momentum {momentum} nesterov {nesterov}");
            Close.All(sb.ToArray(), sgb.ToArray(), 1e-5, 1e-6, $"SGD buffer momentum {momentum}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuSumOfSquaresMatchesCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        var cpuTotal = Tensor.Zeros(new[] { 1 });
        var gpuTotal = Tensor.Zeros(new[] { 1 }, DType.Float32, dev);
        foreach (var n in new[] { 1, 15, 16, 17, 3001 }) // one element, around a group, many groups (grid stride)
        {
            var x = Data.Normal(n, n);
            OptimizerOps.AddSumOfSquares(Tensor.From(x, n), cpuTotal);
            OptimizerOps.AddSumOfSquares(Tensor.From(x, new[] { n }, dev), gpuTotal);
            Assert.Equal(cpuTotal.Item(), gpuTotal.Item(), cpuTotal.Item() * 1e-5);
        }
    }

    [Fact]
    public void BadArgumentsNameTheArgument()
    {
        var p = Tensor.Zeros(new[] { 3, 4 });
        var e = Assert.Throws<ArgumentException>(() => OptimizerOps.AdamW(p, Tensor.Zeros(new[] { 4, 3 }), p, p, Lr, B1, B2, Eps, Wd, 1));
        Assert.Contains("grad has shape [4, 3], expected [3, 4]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOps.AdamW(p, p, p, p, Lr, 1.0, B2, Eps, Wd, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => OptimizerOps.AdamW(p, p, p, p, Lr, B1, B2, Eps, Wd, 0));
        Assert.Throws<ArgumentNullException>(() => OptimizerOps.Sgd(p, p, null, 0.1, momentum: 0.9));
        Assert.Throws<ArgumentException>(() => OptimizerOps.Sgd(p, p, p, 0.1, momentum: 0.9, dampening: 0.1, nesterov: true));
        Assert.Throws<ArgumentException>(() => OptimizerOps.AddSumOfSquares(p, Tensor.Zeros(new[] { 2 })));
    }
}
