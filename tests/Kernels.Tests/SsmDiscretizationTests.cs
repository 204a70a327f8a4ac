using System.Numerics;

namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class SsmDiscretizationTests
{
    [Fact]
    public void DoubleMathLogAtan2AndExpm1MatchTheRuntime()
    {
        var rng = new Rng(7);
        for (int i = 0; i < 4000; i++)
        {
            double x = Math.Exp(rng.Uniform(-710, 700));
            Assert.True(Math.Abs(DoubleMath.Log(x) - Math.Log(x)) <= 4e-16 * Math.Abs(Math.Log(x)) + 1e-300, $"Log({x:R})");
            double y = rng.Uniform(-3, 3) * Math.Exp(rng.Uniform(-20, 20)), z = rng.Uniform(-3, 3) * Math.Exp(rng.Uniform(-20, 20));
            Assert.True(Math.Abs(DoubleMath.Atan2(y, z) - Math.Atan2(y, z)) <= 1e-15, $"Atan2({y:R}, {z:R})");
            double s = rng.Uniform(-1, 1) * Math.Exp(rng.Uniform(-30, 0));
            double log1p = Math.Abs(s) < 1e-2 ? Series(s, k => (k % 2 == 1 ? 1.0 : -1.0) / k) : Math.Log(1 + s);
            Assert.True(Math.Abs(DoubleMath.Log1p(s) - log1p) <= 1e-12 * Math.Abs(log1p), $"Log1p({s:R})");
            double expm1 = Math.Abs(s) < 1e-2 ? Series(s, k => 1.0 / Enumerable.Range(1, k).Aggregate(1.0, (f, j) => f * j)) : Math.Exp(s) - 1;
            Assert.True(Math.Abs(DoubleMath.Expm1(s) - expm1) <= 1e-12 * Math.Abs(expm1), $"Expm1({s:R})");
        }
        Assert.Equal(double.NegativeInfinity, DoubleMath.Log(0));
        Assert.True(double.IsNaN(DoubleMath.Log(-1)));
        Assert.Equal(Math.Log(5e-320), DoubleMath.Log(5e-320), 12); // subnormal
        Assert.Equal(double.NegativeInfinity, DoubleMath.Log1p(-1));
        foreach (var (y, x) in new[] { (0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0), (1.0, 1.0), (-1.0, -1.0), (2.0, -1e-300) })
            Assert.Equal(Math.Atan2(y, x), DoubleMath.Atan2(y, x), 15);
    }

    /// <summary>Σ_{k=1..12} coefficient(k)·x^k.</summary>
    private static double Series(double x, Func<int, double> coefficient)
    {
        double sum = 0, power = 1;
        for (int k = 1; k <= 12; k++) { power *= x; sum += coefficient(k) * power; }
        return sum;
    }

    /// <summary>S4D-like modes: Δ log-uniform in [1e-3, 1e-1], Re A = −exp(U[ln 1e-3, ln 10]), Im A in [0, 200], plus edge modes (tiny |A|, huge decay, large Im).</summary>
    internal static (float[] Dt, float[] ARe, float[] AIm) Modes(int h, int n2, int seed)
    {
        var rng = new Rng(seed);
        var dt = new float[h];
        var ar = new float[h * n2];
        var ai = new float[h * n2];
        for (int i = 0; i < h; i++)
        {
            dt[i] = (float)Math.Exp(rng.Uniform(Math.Log(1e-3), Math.Log(1e-1)));
            for (int n = 0; n < n2; n++)
            {
                ar[i * n2 + n] = (float)-Math.Exp(rng.Uniform(Math.Log(1e-3), Math.Log(10)));
                ai[i * n2 + n] = (float)rng.Uniform(0, 200);
            }
        }
        ar[0] = -1e-6f; ai[0] = 0f;             // |ΔA| ~ 1e-8: e^{ΔA} − 1 must not cancel
        ar[1] = -3e4f; ai[1] = 5f;              // e^{ΔA} underflows for every Δ
        ar[2] = -0.5f; ai[2] = 3000f;           // |ΔA| up to 300: bilinear Ā goes around the circle
        return (dt, ar, ai);
    }

    private static Complex At(float[] x, int m) => new(x[2 * m], x[2 * m + 1]);

    /// <summary>(e^z − 1)/z·dt without cancellation (series for small |z|).</summary>
    private static Complex ZohG(Complex z, double dt)
    {
        if (z.Magnitude > 1e-3) return (Complex.Exp(z) - 1) / z * dt;
        Complex sum = 1, term = 1;
        for (int k = 2; k < 9; k++) { term *= z / k; sum += term; }
        return sum * dt;
    }

    private static void Reference(float dt, float ar, float ai, Discretization method, out Complex x, out Complex g)
    {
        var a = new Complex(ar, ai);
        var z = (double)dt * a;
        if (method == Discretization.Zoh) { x = z; g = ZohG(z, dt); }
        else { x = Complex.Log((1 + z / 2) / (1 - z / 2)); g = dt / (1 - z / 2); }
    }

    private static void AssertComplexClose(Complex expected, Complex actual, double rtol, string what)
        => Assert.True((expected - actual).Magnitude <= rtol * expected.Magnitude + 1e-30, $"{what}: {actual}, expected {expected}");

    [Theory]
    [InlineData(Discretization.Zoh)]
    [InlineData(Discretization.Bilinear)]
    public void DiagonalMatchesTheDoublePrecisionFormulasOnCpuAndIlgpu(Discretization method)
    {
        const int h = 3, n2 = 7, channels = 2;
        var (dt, ar, ai) = Modes(h, n2, 11);
        var c = Data.Normal(channels * h * n2 * 2, 12);
        foreach (var device in new Device[] { Device.Cpu, TestDevices.Get("w4x4"), TestDevices.Get("w2x8") })
        {
            var (x, cPrime) = SsmDiscretization.Diagonal(Tensor.From(dt, new[] { h }, device), Tensor.From(ar, new[] { h, n2 }, device),
                Tensor.From(ai, new[] { h, n2 }, device), Tensor.From(c, new[] { channels, h, n2, 2 }, device), method);
            var (_, g) = SsmDiscretization.Diagonal(Tensor.From(dt, new[] { h }, device), Tensor.From(ar, new[] { h, n2 }, device),
                Tensor.From(ai, new[] { h, n2 }, device), null, method);
            Assert.Equal(new[] { channels, h, n2, 2 }, cPrime.ShapeArray());
            Assert.Equal(new[] { 1, h, n2, 2 }, g.ShapeArray());
            float[] xa = x.ToArray(), cpa = cPrime.ToArray(), ga = g.ToArray();
            for (int i = 0; i < h; i++)
                for (int n = 0; n < n2; n++)
                {
                    int m = i * n2 + n;
                    Reference(dt[i], ar[m], ai[m], method, out var xe, out var ge);
                    AssertComplexClose(xe, At(xa, m), 2e-7, $"{device.Name} x[{i}, {n}]");
                    AssertComplexClose(ge, At(ga, m), 2e-7, $"{device.Name} g[{i}, {n}]");
                    for (int ch = 0; ch < channels; ch++)
                        AssertComplexClose(At(c, ch * h * n2 + m) * ge, At(cpa, ch * h * n2 + m), 3e-7, $"{device.Name} C′[{ch}, {i}, {n}]");
                }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void DiagonalBackwardMathMatchesCentralDifferencesInDouble(int bilinear)
    {
        var rng = new Rng(5 + bilinear);
        for (int trial = 0; trial < 200; trial++)
        {
            double dt = Math.Exp(rng.Uniform(Math.Log(1e-3), Math.Log(1e-1)));
            var a = new Complex64(-Math.Exp(rng.Uniform(Math.Log(1e-2), Math.Log(5))), rng.Uniform(0, 100));
            var gx = new Complex64(rng.Normal(), rng.Normal());
            var gg = new Complex64(rng.Normal(), rng.Normal());
            double Loss(double t, Complex64 av)
            {
                SsmDiscretizationMath.Diagonal(bilinear, t, av, out var x, out var g);
                return Complex64.Dot(gx, x) + Complex64.Dot(gg, g);
            }
            SsmDiscretizationMath.DiagonalBackward(bilinear, dt, a, gx, gg, out var ga, out double gdt);
            double hr = 1e-6 * Math.Max(1, Math.Abs(a.Re)), hi = 1e-6 * Math.Max(1, Math.Abs(a.Im)), ht = 1e-6 * dt;
            double nRe = (Loss(dt, new Complex64(a.Re + hr, a.Im)) - Loss(dt, new Complex64(a.Re - hr, a.Im))) / (2 * hr);
            double nIm = (Loss(dt, new Complex64(a.Re, a.Im + hi)) - Loss(dt, new Complex64(a.Re, a.Im - hi))) / (2 * hi);
            double nDt = (Loss(dt + ht, a) - Loss(dt - ht, a)) / (2 * ht);
            double scale = Math.Abs(ga.Re) + Math.Abs(ga.Im) + Math.Abs(nRe) + Math.Abs(nIm) + 1e-3;
            Assert.True(Math.Abs(ga.Re - nRe) <= 1e-6 * scale, $"dRe A: {ga.Re:R} vs {nRe:R}");
            Assert.True(Math.Abs(ga.Im - nIm) <= 1e-6 * scale, $"dIm A: {ga.Im:R} vs {nIm:R}");
            Assert.True(Math.Abs(gdt - nDt) <= 1e-6 * (Math.Abs(nDt) + 1e-3), $"dΔ: {gdt:R} vs {nDt:R}");
        }
    }

    [Theory]
    [InlineData(Discretization.Zoh)]
    [InlineData(Discretization.Bilinear)]
    public void DiagonalBackwardAgreesOnCpuAndIlgpu(Discretization method)
    {
        const int h = 3, n2 = 5, channels = 2;
        var (dt, ar, ai) = Modes(h, n2, 21);
        var c = Data.Normal(channels * h * n2 * 2, 22);
        var gx = Data.Normal(h * n2 * 2, 23);
        var gc = Data.Normal(channels * h * n2 * 2, 24);
        DiagonalDiscretizationGradients Run(Device d, bool withC) => SsmDiscretization.DiagonalBackward(Tensor.From(dt, new[] { h }, d),
            Tensor.From(ar, new[] { h, n2 }, d), Tensor.From(ai, new[] { h, n2 }, d), withC ? Tensor.From(c, new[] { channels, h, n2, 2 }, d) : null,
            method, Tensor.From(gx, new[] { h, n2, 2 }, d), withC ? Tensor.From(gc, new[] { channels, h, n2, 2 }, d) : Tensor.From(gc.AsSpan(0, h * n2 * 2), new[] { 1, h, n2, 2 }, d));
        foreach (bool withC in new[] { true, false })
        {
            var cpu = Run(Device.Cpu, withC);
            Assert.Equal(withC, cpu.DC is not null);
            foreach (var shape in new[] { "w4x4", "w2x8" })
            {
                var gpu = Run(TestDevices.Get(shape), withC);
                Close.All(cpu.DDt, gpu.DDt, 1e-5, 1e-6, $"{shape} dDt");
                Close.All(cpu.DAReal, gpu.DAReal, 1e-5, 1e-6, $"{shape} dARe");
                Close.All(cpu.DAImag, gpu.DAImag, 1e-5, 1e-6, $"{shape} dAIm");
                if (withC) Close.All(cpu.DC!, gpu.DC!, 1e-5, 1e-6, $"{shape} dC");
            }
        }
        // Channel sums: the gradient of Δ with two channels is the sum of the single-channel ones (C′ is linear in C).
        var one = SsmDiscretization.DiagonalBackward(Tensor.From(dt, h), Tensor.From(ar, h, n2), Tensor.From(ai, h, n2),
            Tensor.From(c.AsSpan(0, h * n2 * 2).ToArray(), 1, h, n2, 2), method, null, Tensor.From(gc.AsSpan(0, h * n2 * 2).ToArray(), 1, h, n2, 2));
        var other = SsmDiscretization.DiagonalBackward(Tensor.From(dt, h), Tensor.From(ar, h, n2), Tensor.From(ai, h, n2),
            Tensor.From(c.AsSpan(h * n2 * 2).ToArray(), 1, h, n2, 2), method, null, Tensor.From(gc.AsSpan(h * n2 * 2).ToArray(), 1, h, n2, 2));
        var both = SsmDiscretization.DiagonalBackward(Tensor.From(dt, h), Tensor.From(ar, h, n2), Tensor.From(ai, h, n2),
            Tensor.From(c, channels, h, n2, 2), method, null, Tensor.From(gc, channels, h, n2, 2));
        Close.All(one.DDt.ToArray().Zip(other.DDt.ToArray(), (p, q) => p + q).ToArray(), both.DDt.ToArray(), 1e-5, 1e-6, "dDt channel sum");
    }

    private static float[] Complexes(int count, int seed, double std = 1) => Data.Normal(2 * count, seed, std);

    /// <summary>Σ Re(conj(G)·out) over W and V for the DPLR inputs, in double, for central differences.</summary>
    private static double DplrLoss(double[] dt, double[] ar, double[] ai, Complex[] p, Complex[] b, Complex[] c, float[] gw, float[] gv, int h, int n2, int channels)
    {
        double sum = 0;
        int plane = h * n2, vPlane = channels * plane;
        for (int ch = 0; ch < channels; ch++)
            for (int i = 0; i < h; i++)
                for (int n = 0; n < n2; n++)
                {
                    int m = i * n2 + n, k = ch * plane + m;
                    var v = new[] { c[k] * b[m], c[k] * p[m], Complex.Conjugate(p[m]) * b[m], Complex.Conjugate(p[m]) * p[m] };
                    var w = dt[i] * new Complex(ar[m], ai[m]);
                    sum += gw[2 * k] * w.Real + gw[2 * k + 1] * w.Imaginary;
                    for (int a = 0; a < 4; a++)
                        sum += gv[2 * (a * vPlane + k)] * (dt[i] * v[a]).Real + gv[2 * (a * vPlane + k) + 1] * (dt[i] * v[a]).Imaginary;
                }
        return sum;
    }

    [Fact]
    public void DplrCauchyInputsMatchTheirDefinitionAndCentralDifferences()
    {
        const int h = 2, n2 = 3, channels = 2;
        var (dt, ar, ai) = Modes(h, n2, 31);
        float[] p = Complexes(h * n2, 32), b = Complexes(h * n2, 33), c = Complexes(channels * h * n2, 34);
        float[] gw = Complexes(channels * h * n2, 35), gv = Complexes(4 * channels * h * n2, 36);
        Tensor T(float[] x, params int[] s) => Tensor.From(x, s);
        var (w, v) = SsmDiscretization.DplrCauchyInputs(T(dt, h), T(ar, h, n2), T(ai, h, n2), T(p, h, n2, 2), T(b, h, n2, 2), T(c, channels, h, n2, 2));
        Assert.Equal(new[] { channels * h, n2, 2 }, w.ShapeArray());
        Assert.Equal(new[] { 4, channels * h, n2, 2 }, v.ShapeArray());
        float[] wa = w.ToArray(), va = v.ToArray();
        int plane = h * n2, vPlane = channels * plane;
        for (int ch = 0; ch < channels; ch++)
            for (int m = 0; m < plane; m++)
            {
                int k = ch * plane + m;
                double step = dt[m / n2];
                AssertComplexClose(step * new Complex(ar[m], ai[m]), At(wa, k), 2e-7, "w");
                AssertComplexClose(step * At(c, k) * At(b, m), At(va, k), 3e-7, "v0");
                AssertComplexClose(step * At(c, k) * At(p, m), At(va, vPlane + k), 3e-7, "v1");
                AssertComplexClose(step * Complex.Conjugate(At(p, m)) * At(b, m), At(va, 2 * vPlane + k), 3e-7, "v2");
                AssertComplexClose(step * At(p, m).Magnitude * At(p, m).Magnitude, At(va, 3 * vPlane + k), 3e-7, "v3");
            }

        var grads = SsmDiscretization.DplrCauchyInputsBackward(T(dt, h), T(ar, h, n2), T(ai, h, n2), T(p, h, n2, 2), T(b, h, n2, 2), T(c, channels, h, n2, 2),
            T(gw, channels * h, n2, 2), T(gv, 4, channels * h, n2, 2));
        double[] D(float[] x) => x.Select(f => (double)f).ToArray();
        Complex[] Cx(float[] x) => Enumerable.Range(0, x.Length / 2).Select(m => At(x, m)).ToArray();
        double Loss(double[] dtv, double[] arv, double[] aiv, Complex[] pv, Complex[] bv, Complex[] cv) => DplrLoss(dtv, arv, aiv, pv, bv, cv, gw, gv, h, n2, channels);
        const double eps = 1e-6;
        void Check(float actual, Func<double, double> loss, string what)
        {
            double numeric = (loss(eps) - loss(-eps)) / (2 * eps);
            Assert.True(Math.Abs(actual - numeric) <= 1e-5 * (Math.Abs(numeric) + 1), $"{what}: {actual} vs {numeric}");
        }
        var (dtd, ard, aid, pc, bc, cc) = (D(dt), D(ar), D(ai), Cx(p), Cx(b), Cx(c));
        double[] With(double[] x, int i, double e) { var y = (double[])x.Clone(); y[i] += e; return y; }
        Complex[] WithC(Complex[] x, int i, Complex e) { var y = (Complex[])x.Clone(); y[i] += e; return y; }
        float[] gdt = grads.DDt.ToArray(), gar = grads.DAReal.ToArray(), gai = grads.DAImag.ToArray(), gp = grads.DP.ToArray(), gb = grads.DB.ToArray(), gc = grads.DC.ToArray();
        for (int i = 0; i < h; i++) Check(gdt[i], e => Loss(With(dtd, i, e), ard, aid, pc, bc, cc), $"dt[{i}]");
        for (int m = 0; m < plane; m++)
        {
            Check(gar[m], e => Loss(dtd, With(ard, m, e), aid, pc, bc, cc), $"aRe[{m}]");
            Check(gai[m], e => Loss(dtd, ard, With(aid, m, e), pc, bc, cc), $"aIm[{m}]");
            Check(gp[2 * m], e => Loss(dtd, ard, aid, WithC(pc, m, e), bc, cc), $"p[{m}].re");
            Check(gp[2 * m + 1], e => Loss(dtd, ard, aid, WithC(pc, m, new Complex(0, e)), bc, cc), $"p[{m}].im");
            Check(gb[2 * m], e => Loss(dtd, ard, aid, pc, WithC(bc, m, e), cc), $"b[{m}].re");
            Check(gb[2 * m + 1], e => Loss(dtd, ard, aid, pc, WithC(bc, m, new Complex(0, e)), cc), $"b[{m}].im");
        }
        for (int k = 0; k < channels * plane; k++)
        {
            Check(gc[2 * k], e => Loss(dtd, ard, aid, pc, bc, WithC(cc, k, e)), $"c[{k}].re");
            Check(gc[2 * k + 1], e => Loss(dtd, ard, aid, pc, bc, WithC(cc, k, new Complex(0, e))), $"c[{k}].im");
        }

        foreach (var shape in new[] { "w4x4", "w2x8" })
        {
            var d = TestDevices.Get(shape);
            Tensor G(float[] x, params int[] s) => Tensor.From(x, s, d);
            var (wg, vg) = SsmDiscretization.DplrCauchyInputs(G(dt, h), G(ar, h, n2), G(ai, h, n2), G(p, h, n2, 2), G(b, h, n2, 2), G(c, channels, h, n2, 2));
            Close.All(w, wg, 1e-6, 1e-7, $"{shape} W");
            Close.All(v, vg, 1e-6, 1e-7, $"{shape} V");
            var gg = SsmDiscretization.DplrCauchyInputsBackward(G(dt, h), G(ar, h, n2), G(ai, h, n2), G(p, h, n2, 2), G(b, h, n2, 2), G(c, channels, h, n2, 2),
                G(gw, channels * h, n2, 2), G(gv, 4, channels * h, n2, 2));
            Close.All(grads.DDt, gg.DDt, 1e-5, 1e-6, $"{shape} dDt");
            Close.All(grads.DAReal, gg.DAReal, 1e-5, 1e-6, $"{shape} dARe");
            Close.All(grads.DAImag, gg.DAImag, 1e-5, 1e-6, $"{shape} dAIm");
            Close.All(grads.DP, gg.DP, 1e-5, 1e-6, $"{shape} dP");
            Close.All(grads.DB, gg.DB, 1e-5, 1e-6, $"{shape} dB");
            Close.All(grads.DC, gg.DC, 1e-5, 1e-6, $"{shape} dC");
        }
    }

    [Fact]
    public void BadArgumentsAreReported()
    {
        var dt = Tensor.Ones(new[] { 2 });
        var a = Tensor.Zeros(new[] { 2, 3 });
        var e = Assert.Throws<ArgumentException>(() => SsmDiscretization.Diagonal(dt, Tensor.Zeros(new[] { 3, 3 }), a, null, Discretization.Zoh));
        Assert.Contains("aReal has shape [3, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsmDiscretization.Diagonal(dt, a, a, Tensor.Zeros(new[] { 1, 2, 4, 2 }), Discretization.Zoh));
        Assert.Contains("c has shape [1, 2, 4, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsmDiscretization.DplrCauchyInputs(dt, a, a, Tensor.Zeros(new[] { 2, 3 }), Tensor.Zeros(new[] { 2, 3, 2 }), Tensor.Zeros(new[] { 1, 2, 3, 2 })));
        Assert.Contains("p has shape [2, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsmDiscretization.DiagonalBackward(dt, a, a, null, Discretization.Bilinear, Tensor.Zeros(new[] { 2, 3 }), null));
        Assert.Contains("dX has shape [2, 3]", e.Message);
    }
}
