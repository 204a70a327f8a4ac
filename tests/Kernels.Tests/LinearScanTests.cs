namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class LinearScanTests
{
    /// <summary>One scan: a, x [B, T, N] (a in (−1, 1) plus a few exact zeros: resets), optional h0, upstream g.</summary>
    private sealed record Case(int B, int T, int N, bool H0, bool Reverse, float[] A, float[] X, float[]? State, float[] G)
    {
        public int[] Shape => new[] { B, T, N };

        public static Case Make(int b, int t, int n, bool h0, bool reverse, int seed)
        {
            var a = Data.Uniform(b * t * n, seed, -0.95, 0.95);
            for (int i = 0; i < a.Length; i += 7) a[i] = 0f;
            return new(b, t, n, h0, reverse, a, Data.Normal(b * t * n, seed + 1), h0 ? Data.Normal(b * n, seed + 2) : null,
                Data.Normal(b * t * n, seed + 3));
        }
    }

    /// <summary>The definition in float64: h_t = a_t h_{t−1} + x_t (or h_t = a_{t+1} h_{t+1} + x_t in reverse).</summary>
    private static double[] Reference(Case k, double[] a, double[] x, double[]? h0)
    {
        var h = new double[x.Length];
        for (int b = 0; b < k.B; b++)
            for (int n = 0; n < k.N; n++)
            {
                int At(int t) => (b * k.T + t) * k.N + n;
                if (!k.Reverse)
                    for (int t = 0; t < k.T; t++)
                        h[At(t)] = a[At(t)] * (t > 0 ? h[At(t - 1)] : h0?[b * k.N + n] ?? 0) + x[At(t)];
                else
                    for (int t = k.T - 1; t >= 0; t--)
                        h[At(t)] = (t + 1 < k.T ? a[At(t + 1)] * h[At(t + 1)] : 0) + x[At(t)];
            }
        return h;
    }

    private static double[] D64(float[] v) => v.Select(f => (double)f).ToArray();
    private static float[] F32(double[] v) => v.Select(d => (float)d).ToArray();

    /// <summary>dL/da, dL/dx, dL/dh0 of L = Σ h·g by central differences of the float64 definition (it is linear in x and h0).</summary>
    private static (double[] da, double[] dx, double[]? dh0) ReferenceGrads(Case k)
    {
        double[] a = D64(k.A), x = D64(k.X), g = D64(k.G);
        double[]? h0 = k.State is null ? null : D64(k.State);
        double Loss() => Reference(k, a, x, h0).Select((v, i) => v * g[i]).Sum();
        double[] Diff(double[] p) => FiniteDifference.Gradient(p, Loss, h: 1e-6);
        return (Diff(a), Diff(x), h0 is null ? null : Diff(h0));
    }

    private static (Tensor h, LinearScanGradients g) Run(Case k, Device dev, bool needA = true, bool needX = true)
    {
        var a = Tensor.From(k.A, k.Shape, dev);
        var x = Tensor.From(k.X, k.Shape, dev);
        var h0 = k.State is null ? null : Tensor.From(k.State, new[] { k.B, k.N }, dev);
        var h = LinearScan.Forward(a, x, h0, k.Reverse);
        return (h, LinearScan.Backward(a, h, Tensor.From(k.G, k.Shape, dev), h0, k.Reverse, needA, needX));
    }

    public static TheoryData<int, int, int, bool, bool> Cases => new()
    {
        // B, T, N, h0, reverse
        { 2, 9, 5, true, false },
        { 2, 9, 5, false, false },
        { 3, 6, 4, false, true },
        { 1, 1, 3, true, false },   // one step
        { 1, 1, 3, false, true },
        { 1, 12, 600, true, false }, // inner wider than one CPU work block
        { 2, 5, 1, false, true },    // scalar sequences
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CpuMatchesDoublePrecisionDefinition(int b, int t, int n, bool h0, bool reverse)
    {
        var k = Case.Make(b, t, n, h0, reverse, seed: b + 10 * t + n);
        var (h, g) = Run(k, Device.Cpu);
        Close.All(F32(Reference(k, D64(k.A), D64(k.X), k.State is null ? null : D64(k.State))), h.ToArray(), 1e-5, 1e-6, "h");
        var (da, dx, dh0) = ReferenceGrads(k);
        Close.All(F32(da), g.Da!.ToArray(), 1e-4, 1e-5, "da");
        Close.All(F32(dx), g.Dx!.ToArray(), 1e-4, 1e-5, "dx");
        if (dh0 is null) Assert.Null(g.Dh0);
        else Close.All(F32(dh0), g.Dh0!.ToArray(), 1e-4, 1e-5, "dh0");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var k in new[]
        {
            Case.Make(3, 7, 5, true, false, seed: 1),
            Case.Make(2, 8, 6, false, false, seed: 2),
            Case.Make(2, 8, 6, false, true, seed: 3),
            Case.Make(1, 1, 9, true, false, seed: 4),
        })
        {
            var (ch, cg) = Run(k, Device.Cpu);
            var (gh, gg) = Run(k, dev);
            string what = $"B{k.B} T{k.T} N{k.N} reverse {k.Reverse}";
            Close.All(ch, gh, 1e-5, 1e-6, what + " h");
            Close.All(cg.Da!, gg.Da!, 1e-5, 1e-6, what + " da");
            Close.All(cg.Dx!, gg.Dx!, 1e-5, 1e-6, what + " dx");
            if (k.H0) Close.All(cg.Dh0!, gg.Dh0!, 1e-5, 1e-6, what + " dh0");
        }
    }

    [Fact]
    public void BackwardReturnsOnlyTheRequestedGradients()
    {
        var k = Case.Make(2, 5, 3, true, false, seed: 5);
        var (_, all) = Run(k, Device.Cpu);
        var (_, xOnly) = Run(k, Device.Cpu, needA: false);
        Assert.Null(xOnly.Da);
        Close.All(all.Dx!, xOnly.Dx!, 0, 0, "dx");
        var (_, aOnly) = Run(k, Device.Cpu, needX: false);
        Assert.Null(aOnly.Dx);
        Close.All(all.Da!, aOnly.Da!, 0, 0, "da");
    }

    [Fact]
    public void EmptyTimeAxisGivesEmptyResultsAndAZeroStateGradient()
    {
        var a = Tensor.Zeros(new[] { 2, 0, 3 });
        var h0 = Tensor.Ones(new[] { 2, 3 });
        var h = LinearScan.Forward(a, a, h0);
        Assert.Equal(new[] { 2, 0, 3 }, h.ShapeArray());
        var g = LinearScan.Backward(a, h, h, h0);
        Close.All(new float[6], g.Dh0!.ToArray(), 0, 0, "dh0");
    }

    [Fact]
    public void BadInputsAreRejectedWithTheirShapes()
    {
        var x = Tensor.Zeros(new[] { 2, 4, 3 });
        var e = Assert.Throws<ArgumentException>(() => LinearScan.Forward(Tensor.Zeros(new[] { 2, 4, 1 }), x));
        Assert.Contains("a has shape [2, 4, 1], expected [2, 4, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => LinearScan.Forward(x, x, Tensor.Zeros(new[] { 2, 4 })));
        Assert.Contains("h0 has shape [2, 4], expected [2, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => LinearScan.Forward(x, x, Tensor.Zeros(new[] { 2, 3 }), reverse: true));
        Assert.Contains("h0 must be null", e.Message);
        e = Assert.Throws<ArgumentException>(() => LinearScan.Forward(Tensor.Zeros(new[] { 8, 3 }), Tensor.Zeros(new[] { 8, 3 })));
        Assert.Contains("expected rank 3 [batch, time, inner]", e.Message);
    }
}
