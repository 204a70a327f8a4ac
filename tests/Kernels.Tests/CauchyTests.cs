using System.Numerics;

namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class CauchyTests
{
    /// <summary>
    /// S4-like inputs: poles w = Δ·Λ with Δ log-uniform in [1e-3, 1e-1], Re Λ·Δ = −exp(U[ln 1e-4, 0]), Im in [−π·N·Δ, 0];
    /// coefficients complex normal; nodes z_k = 2(1 − ω_k)/(1 + ω_k), ω_k = e^{−2πik/L}, k = 0..L/2 (computed in double,
    /// including the ~1e16 node at ω = −1).
    /// </summary>
    private static (float[] V, float[] W, float[] Z) Inputs(int r, int h, int n2, int length, int seed)
    {
        var rng = new Rng(seed);
        var w = new float[h * n2 * 2];
        for (int i = 0; i < h; i++)
        {
            double dt = Math.Exp(rng.Uniform(Math.Log(1e-3), Math.Log(1e-1)));
            for (int n = 0; n < n2; n++)
            {
                w[2 * (i * n2 + n)] = (float)-Math.Exp(rng.Uniform(Math.Log(1e-4), 0));
                w[2 * (i * n2 + n) + 1] = (float)rng.Uniform(-Math.PI * 2 * n2 * dt, 0);
            }
        }
        var v = new float[r * h * n2 * 2];
        rng.FillNormal(v);
        return (v, w, Nodes(length));
    }

    internal static float[] Nodes(int length)
    {
        int k = length / 2 + 1;
        var z = new float[2 * k];
        for (int i = 0; i < k; i++)
        {
            var omega = Complex.Exp(new Complex(0, -2 * Math.PI * i / length));
            var zi = 2 * (1 - omega) / (1 + omega);
            z[2 * i] = (float)zi.Real;
            z[2 * i + 1] = (float)zi.Imaginary;
        }
        return z;
    }

    private static Complex At(float[] x, int m) => new(x[2 * m], x[2 * m + 1]);

    private static (double[] R, double[] Scale) Reference(float[] v, float[] w, float[] z, int r, int h, int n2)
    {
        int k = z.Length / 2;
        var y = new double[r * h * k * 2];
        var scale = new double[r * h * k * 2];
        for (int b = 0; b < r; b++)
            for (int i = 0; i < h; i++)
                for (int kk = 0; kk < k; kk++)
                {
                    Complex sum = 0;
                    double mag = 0;
                    var zk = At(z, kk);
                    for (int n = 0; n < n2; n++)
                    {
                        var vn = At(v, (b * h + i) * n2 + n);
                        var wn = At(w, i * n2 + n);
                        var t1 = vn / (zk - wn);
                        var t2 = Complex.Conjugate(vn) / (zk - Complex.Conjugate(wn));
                        sum += t1 + t2;
                        mag += t1.Magnitude + t2.Magnitude;
                    }
                    int o = 2 * ((b * h + i) * k + kk);
                    (y[o], y[o + 1]) = (sum.Real, sum.Imaginary);
                    scale[o] = scale[o + 1] = mag;
                }
        return (y, scale);
    }

    private static void AssertClose(double[] expected, double[] scale, float[] actual, double rtol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            Assert.True(err <= rtol * scale[i] + 1e-35,
                $"{what}: element {i}: actual {actual[i]:G9}, expected {expected[i]:G9} (|diff| {err:G3} > {rtol}·{scale[i]:G3})");
        }
    }

    public static TheoryData<int, int, int, int> Sizes => new()
    {
        { 4, 3, 8, 64 },
        { 4, 2, 32, 4096 },
        { 1, 1, 1, 1 },
        { 2, 2, 5, 37 },
        { 3, 1, 16, 200 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void CpuMultiplyMatchesDoublePrecisionSum(int r, int h, int n2, int length)
    {
        var (v, w, z) = Inputs(r, h, n2, length, seed: length + r);
        int k = z.Length / 2;
        var y = Cauchy.Multiply(Tensor.From(v, r, h, n2, 2), Tensor.From(w, h, n2, 2), Tensor.From(z, k, 2));
        Assert.Equal(new[] { r, h, k, 2 }, y.ShapeArray());
        var (expected, scale) = Reference(v, w, z, r, h, n2);
        AssertClose(expected, scale, y.ToArray(), 1e-5, $"r [{r}, {h}, {n2}, L={length}]");
    }

    /// <summary>dv = Σ_k dr·q + conj(dr)·p, dw = Σ_b conj(v)·Σ_k (dr·q² + conj(dr)·p²) in double, with magnitude scales.</summary>
    private static (double[] DV, double[] SV, double[] DW, double[] SW) ReferenceBackward(float[] v, float[] w, float[] z, float[] dr, int r, int h, int n2)
    {
        int k = z.Length / 2;
        double[] dv = new double[v.Length], sv = new double[v.Length], dw = new double[w.Length], sw = new double[w.Length];
        for (int i = 0; i < h; i++)
            for (int n = 0; n < n2; n++)
            {
                var wn = At(w, i * n2 + n);
                Complex dwSum = 0;
                double dwMag = 0;
                for (int b = 0; b < r; b++)
                {
                    Complex s1 = 0, s2 = 0;
                    double m1 = 0, m2 = 0;
                    for (int kk = 0; kk < k; kk++)
                    {
                        var g = At(dr, (b * h + i) * k + kk);
                        var zk = At(z, kk);
                        var p = 1 / (zk - Complex.Conjugate(wn));
                        var q = 1 / (Complex.Conjugate(zk) - Complex.Conjugate(wn));
                        s1 += g * q + Complex.Conjugate(g) * p;
                        s2 += g * q * q + Complex.Conjugate(g) * p * p;
                        m1 += g.Magnitude * (q.Magnitude + p.Magnitude);
                        m2 += g.Magnitude * (q.Magnitude * q.Magnitude + p.Magnitude * p.Magnitude);
                    }
                    int vm = 2 * ((b * h + i) * n2 + n);
                    (dv[vm], dv[vm + 1]) = (s1.Real, s1.Imaginary);
                    sv[vm] = sv[vm + 1] = m1;
                    var vb = At(v, (b * h + i) * n2 + n);
                    dwSum += Complex.Conjugate(vb) * s2;
                    dwMag += vb.Magnitude * m2;
                }
                int wm = 2 * (i * n2 + n);
                (dw[wm], dw[wm + 1]) = (dwSum.Real, dwSum.Imaginary);
                sw[wm] = sw[wm + 1] = dwMag;
            }
        return (dv, sv, dw, sw);
    }

    [Theory]
    [InlineData(4, 3, 8, 64)]
    [InlineData(4, 2, 32, 4096)]
    [InlineData(1, 1, 1, 1)]
    [InlineData(2, 2, 5, 37)]
    public void CpuBackwardMatchesDoublePrecisionSums(int r, int h, int n2, int length)
    {
        var (v, w, z) = Inputs(r, h, n2, length, seed: 7 + length);
        int k = z.Length / 2;
        var dr = Data.Normal(r * h * k * 2, 8);
        var (dv, dw) = Cauchy.Backward(Tensor.From(v, r, h, n2, 2), Tensor.From(w, h, n2, 2), Tensor.From(z, k, 2), Tensor.From(dr, r, h, k, 2));
        var (ev, sv, ew, sw) = ReferenceBackward(v, w, z, dr, r, h, n2);
        AssertClose(ev, sv, dv.ToArray(), 2e-5, "dv");
        AssertClose(ew, sw, dw.ToArray(), 2e-5, "dw");
    }

    [Fact]
    public void BackwardMatchesCentralDifferencesOfTheForward()
    {
        // Independent of the closed-form gradients: central differences of Σ dr·r with r summed in double.
        const int r = 2, h = 2, n2 = 3, length = 16;
        var (v, w, z) = Inputs(r, h, n2, length, seed: 3);
        int k = z.Length / 2;
        var dr = Data.Normal(r * h * k * 2, 4);
        var (dv, dw) = Cauchy.Backward(Tensor.From(v, r, h, n2, 2), Tensor.From(w, h, n2, 2), Tensor.From(z, k, 2), Tensor.From(dr, r, h, k, 2));
        double[] vd = v.Select(x => (double)x).ToArray(), wd = w.Select(x => (double)x).ToArray();
        double Loss()
        {
            double sum = 0;
            for (int b = 0; b < r; b++)
                for (int i = 0; i < h; i++)
                    for (int kk = 0; kk < k; kk++)
                    {
                        Complex y = 0, zk = At(z, kk);
                        for (int n = 0; n < n2; n++)
                        {
                            int vm = 2 * ((b * h + i) * n2 + n), wm = 2 * (i * n2 + n);
                            Complex vn = new(vd[vm], vd[vm + 1]), wn = new(wd[wm], wd[wm + 1]);
                            y += vn / (zk - wn) + Complex.Conjugate(vn) / (zk - Complex.Conjugate(wn));
                        }
                        int o = 2 * ((b * h + i) * k + kk);
                        sum += dr[o] * y.Real + dr[o + 1] * y.Imaginary;
                    }
            return sum;
        }
        const double eps = 1e-7;
        foreach (var (x, grad, name) in new[] { (vd, dv.ToArray(), "dv"), (wd, dw.ToArray(), "dw") })
            for (int e = 0; e < x.Length; e++)
            {
                double keep = x[e];
                x[e] = keep + eps; double plus = Loss();
                x[e] = keep - eps; double minus = Loss();
                x[e] = keep;
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(grad[e] - numeric) <= 1e-4 * (1 + Math.Abs(numeric)), $"{name}[{e}]: analytic {grad[e]:G7}, numeric {numeric:G7}");
            }
    }

    private static (float[] R, float[] S) WoodburyInputs(int h, int k, int seed)
    {
        var r = Data.Normal(4 * h * k * 2, seed, 0.5);
        var s = Data.Normal(k * 2, seed + 1);
        return (r, s);
    }

    private static Complex WoodburyReference(double[] r, float[] s, int h, int k, int i)
    {
        int plane = 2 * h * k;
        Complex R(int q) => new(r[q * plane + 2 * i], r[q * plane + 2 * i + 1]);
        return At(s, i % k) * (R(0) - R(1) * R(2) / (1 + R(3)));
    }

    [Fact]
    public void WoodburyMatchesDefinitionAndItsBackwardMatchesCentralDifferences()
    {
        const int h = 3, k = 7;
        var (r, s) = WoodburyInputs(h, k, 50);
        var rd = r.Select(x => (double)x).ToArray();
        var y = Cauchy.WoodburyRank1(Tensor.From(r, 4, h, k, 2), Tensor.From(s, k, 2)).ToArray();
        for (int i = 0; i < h * k; i++)
        {
            var e = WoodburyReference(rd, s, h, k, i);
            Assert.True(Math.Abs(y[2 * i] - e.Real) <= 1e-5 * (1 + e.Magnitude) && Math.Abs(y[2 * i + 1] - e.Imaginary) <= 1e-5 * (1 + e.Magnitude),
                $"out[{i}] = ({y[2 * i]}, {y[2 * i + 1]}), expected {e}");
        }
        var g = Data.Normal(h * k * 2, 51);
        var dr = Cauchy.WoodburyRank1Backward(Tensor.From(r, 4, h, k, 2), Tensor.From(s, k, 2), Tensor.From(g, h, k, 2)).ToArray();
        double Loss()
        {
            double sum = 0;
            for (int i = 0; i < h * k; i++)
            {
                var o = WoodburyReference(rd, s, h, k, i);
                sum += g[2 * i] * o.Real + g[2 * i + 1] * o.Imaginary;
            }
            return sum;
        }
        const double eps = 1e-7;
        for (int e = 0; e < rd.Length; e++)
        {
            double keep = rd[e];
            rd[e] = keep + eps; double plus = Loss();
            rd[e] = keep - eps; double minus = Loss();
            rd[e] = keep;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(dr[e] - numeric) <= 1e-4 * (1 + Math.Abs(numeric)), $"dr[{e}]: analytic {dr[e]:G7}, numeric {numeric:G7}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpuAndReference(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var (r, h, n2, length) in new[] { (4, 2, 5, 32), (1, 1, 3, 1), (2, 3, 4, 25), (4, 1, 8, 300) })
        {
            var (v, w, z) = Inputs(r, h, n2, length, seed: 60 + length);
            int k = z.Length / 2;
            var dr = Data.Normal(r * h * k * 2, 61);
            Tensor cv = Tensor.From(v, r, h, n2, 2), cw = Tensor.From(w, h, n2, 2), cz = Tensor.From(z, k, 2), cd = Tensor.From(dr, r, h, k, 2);
            Tensor gv = cv.To(dev), gw = cw.To(dev), gz = cz.To(dev), gd = cd.To(dev);
            var (expected, scale) = Reference(v, w, z, r, h, n2);
            var y = Cauchy.Multiply(gv, gw, gz).ToArray();
            AssertClose(expected, scale, y, 1e-5, $"{shape} r");
            Close.All(Cauchy.Multiply(cv, cw, cz).ToArray(), y, 1e-4, 1e-5, $"{shape} cpu vs ilgpu r");

            var (ev, sv, ew, sw) = ReferenceBackward(v, w, z, dr, r, h, n2);
            var (dv, dw) = Cauchy.Backward(gv, gw, gz, gd);
            AssertClose(ev, sv, dv.ToArray(), 2e-5, $"{shape} dv");
            AssertClose(ew, sw, dw.ToArray(), 2e-5, $"{shape} dw");
        }
        {
            const int h = 2, k = 9;
            var (r, s) = WoodburyInputs(h, k, 70);
            var g = Data.Normal(h * k * 2, 71);
            Tensor cr = Tensor.From(r, 4, h, k, 2), cs = Tensor.From(s, k, 2), cg = Tensor.From(g, h, k, 2);
            Close.All(Cauchy.WoodburyRank1(cr, cs).ToArray(), Cauchy.WoodburyRank1(cr.To(dev), cs.To(dev)).ToArray(), 1e-5, 1e-6, $"{shape} woodbury");
            Close.All(Cauchy.WoodburyRank1Backward(cr, cs, cg).ToArray(),
                Cauchy.WoodburyRank1Backward(cr.To(dev), cs.To(dev), cg.To(dev)).ToArray(), 1e-5, 1e-6, $"{shape} woodbury backward");
        }
    }

    [Fact]
    public void ArgumentErrorsNameTheArgumentAndShapes()
    {
        var w = Tensor.Zeros(new[] { 2, 3, 2 });
        var z = Tensor.Zeros(new[] { 5, 2 });
        var e = Assert.Throws<ArgumentException>(() => Cauchy.Multiply(Tensor.Zeros(new[] { 4, 2, 4, 2 }), w, z));
        Assert.Contains("v has shape [4, 2, 4, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Cauchy.Multiply(Tensor.Zeros(new[] { 4, 2, 3, 2 }), w, Tensor.Zeros(new[] { 5 })));
        Assert.Contains("z has shape [5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Cauchy.Backward(Tensor.Zeros(new[] { 4, 2, 3, 2 }), w, z, Tensor.Zeros(new[] { 4, 2, 6, 2 })));
        Assert.Contains("dr has shape [4, 2, 6, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Cauchy.WoodburyRank1(Tensor.Zeros(new[] { 3, 2, 5, 2 }), z));
        Assert.Contains("r has shape [3, 2, 5, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => Cauchy.WoodburyRank1(Tensor.Zeros(new[] { 4, 2, 5, 2 }), Tensor.Zeros(new[] { 4, 2 })));
        Assert.Contains("scale has shape [4, 2]", e.Message);
    }
}
