using System.Numerics;

namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class SsmRecurrenceTests
{
    private static Complex At(float[] x, int m) => new(x[2 * m], x[2 * m + 1]);

    /// <summary>Stable diagonal modes: Re log Ā in [−0.3, −0.001], Im in [−1, 1].</summary>
    private static float[] LogABar(int h, int n2, int seed)
    {
        var rng = new Rng(seed);
        var x = new float[h * n2 * 2];
        for (int m = 0; m < h * n2; m++)
        {
            x[2 * m] = (float)-Math.Exp(rng.Uniform(Math.Log(1e-3), Math.Log(0.3)));
            x[2 * m + 1] = (float)rng.Uniform(-1, 1);
        }
        return x;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DiagonalMatchesTheRecurrenceInDoubleOnCpuAndIlgpu(bool homogeneous)
    {
        const int batch = 2, h = 3, n2 = 4, length = 9;
        var la = LogABar(h, n2, 1);
        var bb = Data.Normal(h * n2 * 2, 2);
        var c = Data.Normal(h * n2 * 2, 3);
        var u = Data.Normal(batch * h * length, 4);
        var x0 = Data.Normal(batch * h * n2 * 2, 5);
        var expectedY = new double[batch * h * length];
        var expectedState = new Complex[batch * h * n2];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < h; i++)
                for (int n = 0; n < n2; n++)
                {
                    int m = i * n2 + n, r = b * h + i;
                    var abar = Complex.Exp(At(la, m));
                    Complex s = At(x0, r * n2 + n), a = s;
                    for (int t = 0; t < length; t++)
                    {
                        s = abar * s + u[r * length + t] * At(bb, m);
                        a = abar * a;
                        expectedY[r * length + t] += 2 * (At(c, m) * (homogeneous ? a : s)).Real;
                    }
                    expectedState[r * n2 + n] = s;
                }
        foreach (var device in new Device[] { Device.Cpu, TestDevices.Get("w4x4"), TestDevices.Get("w2x8") })
        {
            var state = Tensor.From(x0, new[] { batch, h, n2, 2 }, device);
            var y = SsmRecurrence.Diagonal(Tensor.From(la, new[] { h, n2, 2 }, device), Tensor.From(bb, new[] { h, n2, 2 }, device),
                Tensor.From(c, new[] { h, n2, 2 }, device), Tensor.From(u, new[] { batch, h, length }, device), state, homogeneous);
            Close.All(expectedY.Select(v => (float)v).ToArray(), y.ToArray(), 1e-5, 1e-5, $"{device.Name} y");
            var s = state.ToArray();
            for (int k = 0; k < expectedState.Length; k++)
                Assert.True((At(s, k) - expectedState[k]).Magnitude <= 1e-5 * (1 + expectedState[k].Magnitude), $"{device.Name} state[{k}]");
        }
    }

    /// <summary>x′ = (2/Δ − A)⁻¹((2/Δ + A)x + 2B·u) on the full state by Gaussian elimination; y = Σ c_f·x′.</summary>
    private static double DenseStep(Complex[] x, double u, double dt, Complex[] lambda, Complex[] p, Complex[] b, Complex[] c)
    {
        int n2 = lambda.Length, n = 2 * n2;
        Complex F(Complex[] v, int i) => i < n2 ? v[i] : Complex.Conjugate(v[i - n2]);
        var m = new Complex[n, n + 1];
        for (int i = 0; i < n; i++)
        {
            Complex rhs = 2 * F(b, i) * u;
            for (int j = 0; j < n; j++)
            {
                var a = (i == j ? F(lambda, i) : 0) - F(p, i) * Complex.Conjugate(F(p, j));
                rhs += ((i == j ? 2 / dt : 0) + a) * F(x, j);
                m[i, j] = (i == j ? 2 / dt : 0) - a;
            }
            m[i, n] = rhs;
        }
        for (int col = 0; col < n; col++)
        {
            int pivot = Enumerable.Range(col, n - col).MaxBy(r => m[r, col].Magnitude);
            for (int j = 0; j <= n; j++) (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]);
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                var f = m[r, col] / m[col, col];
                for (int j = col; j <= n; j++) m[r, j] -= f * m[col, j];
            }
        }
        Complex y = 0;
        for (int i = 0; i < n; i++)
        {
            var xi = m[i, n] / m[i, i];
            if (i < n2) x[i] = xi;
            y += F(c, i) * xi;
        }
        return y.Real;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DplrMatchesDenseBilinearStepsOnCpuAndIlgpu(bool homogeneous)
    {
        const int batch = 2, h = 2, n2 = 3, length = 7;
        var rng = new Rng(9);
        var dt = Enumerable.Range(0, h).Select(_ => (float)rng.Uniform(0.01, 0.2)).ToArray();
        var ar = Enumerable.Range(0, h * n2).Select(_ => (float)-rng.Uniform(0.2, 1)).ToArray();
        var ai = Enumerable.Range(0, h * n2).Select(_ => (float)rng.Uniform(-10, 0)).ToArray();
        var p = Data.Normal(h * n2 * 2, 10, 0.5);
        var bb = Data.Normal(h * n2 * 2, 11);
        var c = Data.Normal(h * n2 * 2, 12);
        var u = Data.Normal(batch * h * length, 13);
        var x0 = Data.Normal(batch * h * n2 * 2, 14);
        var expectedY = new double[batch * h * length];
        var expectedState = new Complex[batch * h * n2];
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < h; i++)
            {
                int r = b * h + i;
                Complex[] Row(float[] x) => Enumerable.Range(0, n2).Select(n => At(x, i * n2 + n)).ToArray();
                var lambda = Enumerable.Range(0, n2).Select(n => new Complex(ar[i * n2 + n], ai[i * n2 + n])).ToArray();
                var x = Enumerable.Range(0, n2).Select(n => At(x0, r * n2 + n)).ToArray();
                var xh = (Complex[])x.Clone();
                for (int t = 0; t < length; t++)
                {
                    double y = DenseStep(x, u[r * length + t], dt[i], lambda, Row(p), Row(bb), Row(c));
                    if (homogeneous) y = DenseStep(xh, 0, dt[i], lambda, Row(p), Row(bb), Row(c));
                    expectedY[r * length + t] = y;
                }
                for (int n = 0; n < n2; n++) expectedState[r * n2 + n] = x[n];
            }
        foreach (var device in new Device[] { Device.Cpu, TestDevices.Get("w4x4"), TestDevices.Get("w2x8") })
        {
            var state = Tensor.From(x0, new[] { batch, h, n2, 2 }, device);
            Tensor T(float[] x, params int[] s) => Tensor.From(x, s, device);
            var y = SsmRecurrence.Dplr(T(dt, h), T(ar, h, n2), T(ai, h, n2), T(p, h, n2, 2), T(bb, h, n2, 2), T(c, h, n2, 2), T(u, batch, h, length), state, homogeneous);
            double scale = expectedY.Max(Math.Abs);
            Close.All(expectedY.Select(v => (float)v).ToArray(), y.ToArray(), 1e-5, 1e-5 * scale, $"{device.Name} y");
            var s = state.ToArray();
            for (int k = 0; k < expectedState.Length; k++)
                Assert.True((At(s, k) - expectedState[k]).Magnitude <= 1e-5 * (1 + expectedState[k].Magnitude), $"{device.Name} state[{k}]: {At(s, k)} vs {expectedState[k]}");
        }
    }

    [Fact]
    public void BadArgumentsAreReported()
    {
        var x = Tensor.Zeros(new[] { 2, 3, 2 });
        var e = Assert.Throws<ArgumentException>(() => SsmRecurrence.Diagonal(x, x, x, Tensor.Zeros(new[] { 1, 3, 4 }), Tensor.Zeros(new[] { 1, 2, 3, 2 })));
        Assert.Contains("u has shape [1, 3, 4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsmRecurrence.Diagonal(x, x, x, Tensor.Zeros(new[] { 1, 2, 4 }), Tensor.Zeros(new[] { 2, 2, 3, 2 })));
        Assert.Contains("state has shape [2, 2, 3, 2]", e.Message);
        Assert.Equal(new[] { 1, 2, 0 }, SsmRecurrence.Diagonal(x, x, x, Tensor.Zeros(new[] { 1, 2, 0 }), Tensor.Zeros(new[] { 1, 2, 3, 2 })).ShapeArray());
    }
}
