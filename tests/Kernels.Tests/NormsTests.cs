namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class NormsTests
{
    public enum Kind { LayerNorm, LayerNormNoAffine, LayerNormWeightOnly, RmsNorm, GatedRmsNorm }

    /// <summary>Inputs of one norm case: x, z (gated only), weight, bias, dy, and the group size.</summary>
    private sealed record Case(Kind Kind, int[] Shape, int GroupSize, float[] X, float[]? Z, float[]? W, float[]? B, float[] Dy)
    {
        public int D => Shape[^1];
        public bool Center => Kind is Kind.LayerNorm or Kind.LayerNormNoAffine or Kind.LayerNormWeightOnly;

        public static Case Make(Kind kind, int[] shape, int groupSize = 0, int seed = 1)
        {
            int n = Shapes.Numel(shape), d = shape[^1];
            var x = Data.Normal(n, seed, 1.5);
            // An offset per row so LayerNorm's centering matters.
            for (int i = 0; i < n; i++) x[i] += 0.5f * (i / d % 3);
            return new Case(kind, shape, groupSize == 0 ? d : groupSize, x,
                kind == Kind.GatedRmsNorm ? Data.Normal(n, seed + 1, 1.5) : null,
                kind is Kind.LayerNormNoAffine ? null : Data.Uniform(d, seed + 2, 0.5, 1.5),
                kind is Kind.LayerNorm ? Data.Normal(d, seed + 3, 0.5) : null,
                Data.Normal(n, seed + 4));
        }
    }

    private const double Eps = 1e-5;

    // ---- double-precision reference ------------------------------------------------------------------------------

    private static double Silu(double v) => v / (1 + Math.Exp(-v));

    /// <summary>Forward in float64; also returns the mean (LayerNorm) and rstd per row and group.</summary>
    private static (double[] y, double[] mean, double[] rstd) Reference(Case c, double[] x, double[]? z, double[]? w, double[]? b)
    {
        int d = c.D, n = c.GroupSize, groups = d / n, rows = x.Length / d;
        var y = new double[x.Length];
        var mean = new double[rows * groups];
        var rstd = new double[rows * groups];
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < groups; g++)
            {
                var v = new double[n];
                for (int j = 0; j < n; j++)
                {
                    int i = r * d + g * n + j;
                    v[j] = z is null ? x[i] : x[i] * Silu(z[i]);
                }
                double mu = c.Center ? v.Average() : 0;
                double variance = v.Select(e => (e - mu) * (e - mu)).Average();
                double rs = 1 / Math.Sqrt(variance + Eps);
                mean[r * groups + g] = mu;
                rstd[r * groups + g] = rs;
                for (int j = 0; j < n; j++)
                {
                    int col = g * n + j;
                    y[r * d + col] = (v[j] - mu) * rs * (w?[col] ?? 1) + (b?[col] ?? 0);
                }
            }
        return (y, mean, rstd);
    }

    private static double[] D64(float[] a) => a.Select(v => (double)v).ToArray();

    /// <summary>Gradients of L = Σ y·dy by central differences of the float64 forward (independent of the analytic backward).</summary>
    private static (double[] dx, double[]? dz, double[]? dw, double[]? db) ReferenceGrads(Case c)
    {
        double[] x = D64(c.X), dy = D64(c.Dy);
        double[]? z = c.Z is null ? null : D64(c.Z), w = c.W is null ? null : D64(c.W), b = c.B is null ? null : D64(c.B);
        double Loss() => Reference(c, x, z, w, b).y.Select((v, i) => v * dy[i]).Sum();
        double[] Diff(double[] p) => FiniteDifference.Gradient(p, Loss);
        return (Diff(x), z is null ? null : Diff(z), w is null ? null : Diff(w), b is null ? null : Diff(b));
    }

    private static float[] F32(double[] a) => a.Select(v => (float)v).ToArray();

    // ---- running the op ------------------------------------------------------------------------------------------

    private static Tensor? T(float[]? a, int[] shape, Device dev) => a is null ? null : Tensor.From(a, shape, dev);

    private static (NormOutput fwd, NormGradients grads) Run(Case c, Device dev, bool inputGrad = true, bool weightGrad = true, bool biasGrad = true)
    {
        var x = Tensor.From(c.X, c.Shape, dev);
        var dy = Tensor.From(c.Dy, c.Shape, dev);
        var w = T(c.W, new[] { c.D }, dev);
        var b = T(c.B, new[] { c.D }, dev);
        switch (c.Kind)
        {
            case Kind.RmsNorm:
            {
                var f = Norms.RmsNorm(x, w!, (float)Eps);
                return (f, Norms.RmsNormBackward(dy, x, w!, f.Rstd, inputGrad, weightGrad));
            }
            case Kind.GatedRmsNorm:
            {
                var z = Tensor.From(c.Z!, c.Shape, dev);
                var f = Norms.GatedRmsNorm(x, z, w!, c.GroupSize, (float)Eps);
                return (f, Norms.GatedRmsNormBackward(dy, x, z, w!, f.Rstd, c.GroupSize, inputGrad, weightGrad));
            }
            default:
            {
                var f = Norms.LayerNorm(x, w, b, (float)Eps);
                return (f, Norms.LayerNormBackward(dy, x, w, f.Mean!, f.Rstd, inputGrad, weightGrad, biasGrad && b is not null));
            }
        }
    }

    public static TheoryData<Kind, int[], int> ReferenceCases => new()
    {
        { Kind.LayerNorm, new[] { 3, 1 }, 0 },
        { Kind.LayerNorm, new[] { 2, 2, 7 }, 0 },
        { Kind.LayerNorm, new[] { 4, 33 }, 0 },
        { Kind.LayerNorm, new[] { 3, 130 }, 0 },
        { Kind.LayerNormNoAffine, new[] { 5, 33 }, 0 },
        { Kind.LayerNormWeightOnly, new[] { 33 }, 0 },
        { Kind.RmsNorm, new[] { 3, 1 }, 0 },
        { Kind.RmsNorm, new[] { 5, 7 }, 0 },
        { Kind.RmsNorm, new[] { 2, 2, 33 }, 0 },
        { Kind.RmsNorm, new[] { 3, 130 }, 0 },
        { Kind.GatedRmsNorm, new[] { 4, 7 }, 0 },
        { Kind.GatedRmsNorm, new[] { 4, 7 }, 1 },
        { Kind.GatedRmsNorm, new[] { 2, 2, 33 }, 11 },
        { Kind.GatedRmsNorm, new[] { 3, 130 }, 65 },
        { Kind.GatedRmsNorm, new[] { 3, 130 }, 13 },
    };

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void CpuMatchesDoublePrecisionReference(Kind kind, int[] shape, int groupSize)
    {
        var c = Case.Make(kind, shape, groupSize);
        var (fwd, grads) = Run(c, Device.Cpu);
        var (y, mean, rstd) = Reference(c, D64(c.X), c.Z is null ? null : D64(c.Z), c.W is null ? null : D64(c.W), c.B is null ? null : D64(c.B));
        Close.All(F32(y), fwd.Output.ToArray(), 1e-5, 1e-5, "y");
        Close.All(F32(rstd), fwd.Rstd.ToArray(), 1e-5, 1e-5, "rstd");
        var statShape = c.Shape.ToArray();
        statShape[^1] = c.D / c.GroupSize;
        Assert.Equal(statShape, fwd.Rstd.ShapeArray());
        if (c.Center) Close.All(F32(mean), fwd.Mean!.ToArray(), 1e-5, 1e-5, "mean");
        else Assert.Null(fwd.Mean);

        var (dx, dz, dw, db) = ReferenceGrads(c);
        Close.All(F32(dx), grads.Dx!.ToArray(), 1e-4, 1e-4, "dx");
        if (dz is null) Assert.Null(grads.Dz); else Close.All(F32(dz), grads.Dz!.ToArray(), 1e-4, 1e-4, "dz");
        if (dw is null) Assert.Null(grads.Dweight); else Close.All(F32(dw), grads.Dweight!.ToArray(), 1e-4, 1e-4, "dweight");
        if (db is null) Assert.Null(grads.Dbias); else Close.All(F32(db), grads.Dbias!.ToArray(), 1e-4, 1e-4, "dbias");
    }

    public static TheoryData<string, Kind, int[], int> ParityCases()
    {
        var data = new TheoryData<string, Kind, int[], int>();
        foreach (var shape in new[] { "w4x4", "w2x8" })
        {
            data.Add(shape, Kind.LayerNorm, new[] { 15, 33 }, 0);     // 15 rows over several row blocks
            data.Add(shape, Kind.LayerNormNoAffine, new[] { 3, 7 }, 0);
            data.Add(shape, Kind.RmsNorm, new[] { 2, 5, 1 }, 0);
            data.Add(shape, Kind.RmsNorm, new[] { 4, 130 }, 0);
            data.Add(shape, Kind.GatedRmsNorm, new[] { 15, 33 }, 11);
            data.Add(shape, Kind.GatedRmsNorm, new[] { 3, 7 }, 7);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ParityCases))]
    public void IlgpuMatchesCpu(string shape, Kind kind, int[] dims, int groupSize)
    {
        var dev = TestDevices.Get(shape);
        var c = Case.Make(kind, dims, groupSize, seed: 7);
        var (cf, cg) = Run(c, Device.Cpu);
        var (gf, gg) = Run(c, dev);
        Close.All(cf.Output, gf.Output, 1e-5, 1e-5, "y");
        Close.All(cf.Rstd, gf.Rstd, 1e-5, 1e-5, "rstd");
        if (c.Center) Close.All(cf.Mean!, gf.Mean!, 1e-5, 1e-5, "mean");
        Close.All(cg.Dx!, gg.Dx!, 1e-4, 1e-5, "dx");
        if (cg.Dz is not null) Close.All(cg.Dz, gg.Dz!, 1e-4, 1e-5, "dz");
        if (cg.Dweight is not null) Close.All(cg.Dweight, gg.Dweight!, 1e-4, 1e-5, "dweight");
        if (cg.Dbias is not null) Close.All(cg.Dbias, gg.Dbias!, 1e-4, 1e-5, "dbias");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void BackwardComputesOnlyTheRequestedGradients(string shape)
    {
        foreach (var dev in new Device[] { Device.Cpu, TestDevices.Get(shape) })
        {
            var c = Case.Make(Kind.LayerNorm, new[] { 9, 7 }, seed: 3);
            var (_, all) = Run(c, dev);
            var (_, paramsOnly) = Run(c, dev, inputGrad: false);
            Assert.Null(paramsOnly.Dx);
            Close.All(all.Dweight!, paramsOnly.Dweight!, 1e-6, 1e-7, $"{dev} dweight");
            Close.All(all.Dbias!, paramsOnly.Dbias!, 1e-6, 1e-7, $"{dev} dbias");
            var (_, inputOnly) = Run(c, dev, weightGrad: false, biasGrad: false);
            Assert.Null(inputOnly.Dweight);
            Assert.Null(inputOnly.Dbias);
            Close.All(all.Dx!, inputOnly.Dx!, 1e-6, 1e-7, $"{dev} dx");

            var gated = Case.Make(Kind.GatedRmsNorm, new[] { 5, 12 }, 4, seed: 4);
            var (_, g) = Run(gated, dev, weightGrad: false);
            Assert.Null(g.Dweight);
            Assert.NotNull(g.Dz);
        }
    }

    [Fact]
    public void BadArgumentsThrowNamingTheArgument()
    {
        var x = Tensor.Zeros(new[] { 2, 6 });
        var w6 = Tensor.Ones(new[] { 6 });
        var e = Assert.Throws<ArgumentException>(() => Norms.RmsNorm(x, Tensor.Ones(new[] { 5 })));
        Assert.Equal("weight", e.ParamName);
        Assert.Contains("[5]", e.Message);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Norms.LayerNorm(x, w6, Tensor.Ones(new[] { 2, 6 }))).ParamName);
        var g = Assert.Throws<ArgumentOutOfRangeException>(() => Norms.GatedRmsNorm(x, x, w6, 4));
        Assert.Equal("groupSize", g.ParamName);
        Assert.Contains("divisor of D = 6", g.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Norms.GatedRmsNorm(x, x, w6, 0));
        Assert.Equal("z", Assert.Throws<ArgumentException>(() => Norms.GatedRmsNorm(x, Tensor.Zeros(new[] { 3, 6 }), w6, 3)).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Norms.RmsNorm(Tensor.Zeros(new[] { 2, 0 }), Tensor.Zeros(new[] { 0 }))).ParamName);
        var f = Norms.GatedRmsNorm(x, x, w6, 3);
        Assert.Equal("rstd", Assert.Throws<ArgumentException>(() => Norms.GatedRmsNormBackward(x, x, x, w6, f.Rstd, 2)).ParamName);
        Assert.Equal("dy", Assert.Throws<ArgumentException>(() => Norms.RmsNormBackward(Tensor.Zeros(new[] { 6 }), x, w6, f.Rstd)).ParamName);
        Assert.Equal("weight", Assert.Throws<ArgumentException>(() => Norms.RmsNorm(x, w6.To(TestDevices.Get("w4x4")))).ParamName);
    }
}
