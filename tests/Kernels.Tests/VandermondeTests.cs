using System.Numerics;

namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class VandermondeTests
{
    /// <summary>
    /// Realistic S4D modes: per channel Δ log-uniform in [1e-3, 1e-1], Re(ΔA) = −exp(U[ln 1e-4, 0]) (so in [−1, −1e-4]),
    /// Im(ΔA) uniform in ±π·N·Δ (N = 2·N2), coefficients complex normal.
    /// </summary>
    internal static (float[] DtA, float[] C) Modes(int h, int n2, int seed, double dtMin = 1e-3, double dtMax = 1e-1)
    {
        var rng = new Rng(seed);
        var dtA = new float[h * n2 * 2];
        var c = new float[h * n2 * 2];
        for (int i = 0; i < h; i++)
        {
            double dt = Math.Exp(rng.Uniform(Math.Log(dtMin), Math.Log(dtMax)));
            for (int n = 0; n < n2; n++)
            {
                int m = 2 * (i * n2 + n);
                dtA[m] = (float)-Math.Exp(rng.Uniform(Math.Log(1e-4), 0));
                dtA[m + 1] = (float)rng.Uniform(-Math.PI * 2 * n2 * dt, Math.PI * 2 * n2 * dt);
                c[m] = (float)rng.Normal();
                c[m + 1] = (float)rng.Normal();
            }
        }
        return (dtA, c);
    }

    private static Complex At(float[] x, int m) => new(x[2 * m], x[2 * m + 1]);

    /// <summary>K[h, l] = 2·Re Σ c·e^{a·l} in double, and the magnitude scale Σ 2|c·e^{a·l}| of each element.</summary>
    internal static (double[] K, double[] Scale) Reference(float[] dtA, float[] c, int h, int n2, int length)
    {
        var k = new double[h * length];
        var scale = new double[h * length];
        for (int i = 0; i < h; i++)
            for (int n = 0; n < n2; n++)
            {
                var a = At(dtA, i * n2 + n);
                var cv = At(c, i * n2 + n);
                for (int l = 0; l < length; l++)
                {
                    var term = cv * Complex.Exp(a * l);
                    k[i * length + l] += 2 * term.Real;
                    scale[i * length + l] += 2 * term.Magnitude;
                }
            }
        return (k, scale);
    }

    private static void AssertClose(double[] expected, double[] scale, float[] actual, double rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            Assert.False(double.IsNaN(actual[i]), $"{what}: element {i} is NaN");
            Assert.True(err <= rtol * scale[i] + 1e-30,
                $"{what}: element {i}: actual {actual[i]:G9}, expected {expected[i]:G9} (|diff| {err:G3} > {rtol}·{scale[i]:G3})");
        }
    }

    public static TheoryData<int, int, int> Sizes => new()
    {
        { 3, 8, 1000 },
        { 2, 32, 4096 },
        { 1, 4, 1 },
        { 2, 3, 63 },
        { 4, 16, 129 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void CpuKernelMatchesDoublePrecisionSum(int h, int n2, int length)
    {
        var (dtA, c) = Modes(h, n2, seed: 10 + length);
        var k = Vandermonde.Kernel(Tensor.From(dtA, h, n2, 2), Tensor.From(c, h, n2, 2), length);
        Assert.Equal(new[] { h, length }, k.ShapeArray());
        var (expected, scale) = Reference(dtA, c, h, n2, length);
        AssertClose(expected, scale, k.ToArray(), 1e-5, $"K [{h}, {n2}, {length}]");
    }

    [Fact]
    public void LargeNegativeRealPartsUnderflowToZeroWithoutNaN()
    {
        // Modes decaying by e^-50, e^-1000 and e^-1e30 per step, next to a slow one; and a zero coefficient.
        var dtA = new[] { -50f, 3f, -1000f, -1f, -1e30f, 0.5f, -1e-4f, 0.01f, -2f, 1f };
        var c = new[] { 1f, 2f, -3f, 1f, 0.5f, 0.5f, 1f, -1f, 0f, 0f };
        var (expected, scale) = Reference(dtA, c, 1, 5, 300);
        AssertClose(expected, scale, Vandermonde.Kernel(Tensor.From(dtA, 1, 5, 2), Tensor.From(c, 1, 5, 2), 300).ToArray(), 1e-5, "cpu");
        var dev = TestDevices.Get("w4x4");
        AssertClose(expected, scale, Vandermonde.Kernel(Tensor.From(dtA, new[] { 1, 5, 2 }, dev), Tensor.From(c, new[] { 1, 5, 2 }, dev), 300).ToArray(), 1e-5, "ilgpu");
        var dK = Tensor.From(Data.Normal(300, 3), 1, 300);
        foreach (var d in new Device[] { Device.Cpu, dev })
        {
            var (dA, dC) = Vandermonde.Backward(Tensor.From(dtA, new[] { 1, 5, 2 }, d), Tensor.From(c, new[] { 1, 5, 2 }, d), dK.To(d));
            Assert.All(dA.ToArray().Concat(dC.ToArray()), v => Assert.True(float.IsFinite(v), $"{d.Name}: non-finite gradient"));
        }
    }

    /// <summary>Gradients in double: dC = 2Σ dK·conj(E), dDtA = 2·conj(c)·Σ l·dK·conj(E), with magnitude scales.</summary>
    private static (double[] DA, double[] ScaleA, double[] DC, double[] ScaleC) ReferenceBackward(float[] dtA, float[] c, float[] dK, int h, int n2, int length)
    {
        int modes = h * n2;
        double[] da = new double[2 * modes], dc = new double[2 * modes], sa = new double[2 * modes], sc = new double[2 * modes];
        for (int m = 0; m < modes; m++)
        {
            int i = m / n2;
            var a = At(dtA, m);
            Complex s0 = 0, s1 = 0;
            double m0 = 0, m1 = 0;
            for (int l = 0; l < length; l++)
            {
                var e = Complex.Conjugate(Complex.Exp(a * l));
                double g = dK[i * length + l];
                s0 += g * e;
                s1 += g * l * e;
                m0 += Math.Abs(g) * e.Magnitude;
                m1 += Math.Abs(g) * l * e.Magnitude;
            }
            var dcv = 2 * s0;
            var dav = 2 * Complex.Conjugate(At(c, m)) * s1;
            (dc[2 * m], dc[2 * m + 1]) = (dcv.Real, dcv.Imaginary);
            (da[2 * m], da[2 * m + 1]) = (dav.Real, dav.Imaginary);
            sc[2 * m] = sc[2 * m + 1] = 2 * m0;
            sa[2 * m] = sa[2 * m + 1] = 2 * At(c, m).Magnitude * m1;
        }
        return (da, sa, dc, sc);
    }

    [Theory]
    [InlineData(3, 8, 1000)]
    [InlineData(2, 32, 4096)]
    [InlineData(2, 3, 1)]
    [InlineData(1, 5, 70)]
    public void CpuBackwardMatchesDoublePrecisionSums(int h, int n2, int length)
    {
        var (dtA, c) = Modes(h, n2, seed: 20 + length);
        var dK = Data.Normal(h * length, 21);
        var (dA, dC) = Vandermonde.Backward(Tensor.From(dtA, h, n2, 2), Tensor.From(c, h, n2, 2), Tensor.From(dK, h, length));
        var (ea, sa, ec, sc) = ReferenceBackward(dtA, c, dK, h, n2, length);
        AssertClose(ec, sc, dC.ToArray(), 2e-5, "dC");
        AssertClose(ea, sa, dA.ToArray(), 2e-5, "dDtA");
    }

    [Fact]
    public void BackwardMatchesCentralDifferencesOfTheForward()
    {
        // Independent of the closed-form gradient: d/dx Σ_l dK_l·K_l(x) by central differences of the double-precision
        // forward, for each real and imaginary part of dtA and c (checks the real-view gradient convention).
        const int h = 2, n2 = 3, length = 50;
        var (dtA, c) = Modes(h, n2, seed: 31);
        var dK = Data.Normal(h * length, 32);
        var (dA, dC) = Vandermonde.Backward(Tensor.From(dtA, h, n2, 2), Tensor.From(c, h, n2, 2), Tensor.From(dK, h, length));
        double Loss(double[] a, double[] cc)
        {
            double sum = 0;
            for (int m = 0; m < h * n2; m++)
            {
                int i = m / n2;
                var av = new Complex(a[2 * m], a[2 * m + 1]);
                var cv = new Complex(cc[2 * m], cc[2 * m + 1]);
                for (int l = 0; l < length; l++) sum += dK[i * length + l] * 2 * (cv * Complex.Exp(av * l)).Real;
            }
            return sum;
        }
        double[] a0 = dtA.Select(v => (double)v).ToArray(), c0 = c.Select(v => (double)v).ToArray();
        const double eps = 1e-6;
        for (int e = 0; e < a0.Length; e++)
        {
            foreach (var (x, grad, name) in new[] { (a0, dA.ToArray(), "dDtA"), (c0, dC.ToArray(), "dC") })
            {
                double keep = x[e];
                x[e] = keep + eps; double plus = Loss(a0, c0);
                x[e] = keep - eps; double minus = Loss(a0, c0);
                x[e] = keep;
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(grad[e] - numeric) <= 1e-4 * (1 + Math.Abs(numeric)), $"{name}[{e}]: analytic {grad[e]:G7}, numeric {numeric:G7}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpuAndReference(string shape)
    {
        var dev = TestDevices.Get(shape);
        // The last case has Δ = 0.1 and L = 2048: phases Im(ΔA)·l reach thousands of radians.
        foreach (var (h, n2, length, dtMin) in new[] { (2, 5, 100, 1e-3), (3, 4, 37, 1e-3), (1, 2, 1, 1e-3), (1, 8, 600, 1e-3), (1, 4, 2048, 0.1) })
        {
            var (dtA, c) = Modes(h, n2, seed: 40 + length, dtMin);
            var dK = Data.Normal(h * length, 41);
            Tensor ca = Tensor.From(dtA, h, n2, 2), cc = Tensor.From(c, h, n2, 2), cg = Tensor.From(dK, h, length);
            Tensor ga = ca.To(dev), gc = cc.To(dev), gg = cg.To(dev);
            var (expected, scale) = Reference(dtA, c, h, n2, length);
            var kGpu = Vandermonde.Kernel(ga, gc, length).ToArray();
            AssertClose(expected, scale, kGpu, 1e-5, $"{shape} K [{h}, {n2}, {length}]");
            Close.All(Vandermonde.Kernel(ca, cc, length).ToArray(), kGpu, 1e-5, 1e-5, "cpu vs ilgpu K");

            var (ea, sa, ec, sc) = ReferenceBackward(dtA, c, dK, h, n2, length);
            var (dA, dC) = Vandermonde.Backward(ga, gc, gg);
            AssertClose(ec, sc, dC.ToArray(), 2e-5, $"{shape} dC");
            AssertClose(ea, sa, dA.ToArray(), 2e-5, $"{shape} dDtA");
            var (cpuA, cpuC) = Vandermonde.Backward(ca, cc, cg);
            Close.All(cpuC.ToArray(), dC.ToArray(), 1e-4, 1e-4, "cpu vs ilgpu dC");
            Close.All(cpuA.ToArray(), dA.ToArray(), 1e-4, 1e-3, "cpu vs ilgpu dDtA");
        }
    }

    [Fact]
    public void ArgumentErrorsNameTheArgumentAndShapes()
    {
        var a = Tensor.Zeros(new[] { 2, 3, 2 });
        var e = Assert.Throws<ArgumentException>(() => Vandermonde.Kernel(a, Tensor.Zeros(new[] { 2, 4, 2 }), 8));
        Assert.Contains("c has shape [2, 4, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Vandermonde.Kernel(Tensor.Zeros(new[] { 2, 3 }), Tensor.Zeros(new[] { 2, 3 }), 8));
        Assert.Contains("dtA has shape [2, 3]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Vandermonde.Kernel(a, a, 0));
        e = Assert.Throws<ArgumentException>(() => Vandermonde.Backward(a, a, Tensor.Zeros(new[] { 3, 8 })));
        Assert.Contains("dK has shape [3, 8]", e.Message);
    }

    [Fact]
    public void DoubleMathMatchesSystemMath()
    {
        var rng = new Rng(5);
        for (int i = 0; i < 20000; i++)
        {
            double x = rng.Uniform(-740, 700);
            double e = Math.Exp(x);
            Assert.True(Math.Abs(DoubleMath.Exp(x) - e) <= 4e-16 * e, $"exp({x:R}) = {DoubleMath.Exp(x):R}, expected {e:R}");
            // Angles up to ~1e6 rad (|k| < 2^20 quarter turns): the error stays at the level of |x|·1e-22 + 1e-16.
            double y = rng.Uniform(-1, 1) * Math.Pow(10, rng.Uniform(-3, 6));
            DoubleMath.SinCos(y, out double s, out double c);
            Assert.True(Math.Abs(s - Math.Sin(y)) <= 3e-16 + 1e-21 * Math.Abs(y), $"sin({y:R}) = {s:R}, expected {Math.Sin(y):R}");
            Assert.True(Math.Abs(c - Math.Cos(y)) <= 3e-16 + 1e-21 * Math.Abs(y), $"cos({y:R}) = {c:R}, expected {Math.Cos(y):R}");
        }
        Assert.Equal(0.0, DoubleMath.Exp(-800));
        Assert.Equal(0.0, DoubleMath.Exp(-1e30));
        Assert.Equal(double.PositiveInfinity, DoubleMath.Exp(710));
        Assert.Equal(1.0, DoubleMath.Exp(0));
        Assert.True(Math.Abs(DoubleMath.Exp(-745) - Math.Exp(-745)) <= 1e-323);
        Assert.True(Math.Abs(DoubleMath.Exp(709.7) - Math.Exp(709.7)) <= 4e-16 * Math.Exp(709.7));
    }
}
