using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using CVector = MathNet.Numerics.LinearAlgebra.Vector<System.Numerics.Complex>;
using Ssm.Checkpoints;
using Ssm.Kernels;
using Ssm.S4;

namespace Ssm.Tests;

[Collection("ilgpu")]
public sealed class HippoTests
{
    private static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    [Fact]
    public void LegSMatricesHaveTheirDefinitionAndTheRankOneCorrectionMakesThemSkew()
    {
        var a = Hippo.LegSA(3);
        double[,] expected = { { -1, 0, 0 }, { -Math.Sqrt(3), -2, 0 }, { -Math.Sqrt(5), -Math.Sqrt(15), -3 } };
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < 3; k++) Assert.Equal(expected[i, k], a[i, k], 14);
        Assert.Equal(new[] { 1, Math.Sqrt(3), Math.Sqrt(5) }, Hippo.LegSB(3));
        Assert.Equal(new[] { Math.Sqrt(0.5), Math.Sqrt(1.5), Math.Sqrt(2.5) }, Hippo.LegSP(3));

        const int n = 12;
        var big = Hippo.LegSA(n);
        var p = Hippo.LegSP(n);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
            {
                double s = big[i, k] + p[i] * p[k] + (i == k ? 0.5 : 0);
                double sT = big[k, i] + p[k] * p[i] + (i == k ? 0.5 : 0);
                Assert.True(Math.Abs(s + sT) < 1e-12, $"A + PPᵀ + I/2 is not skew at ({i}, {k})");
            }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(16)]
    [InlineData(64)]
    public void DplrFormReconstructsLegSToDoublePrecision(int n)
    {
        var dplr = Hippo.LegSDplr(n);
        Assert.Equal(n / 2, dplr.Modes);
        for (int j = 0; j < n / 2; j++)
        {
            Assert.Equal(-0.5, dplr.Lambda[j].Real, 12);
            Assert.True(dplr.Lambda[j].Imaginary < 0, $"Λ[{j}] = {dplr.Lambda[j]} should have a negative imaginary part");
            if (j > 0) Assert.True(dplr.Lambda[j].Imaginary >= dplr.Lambda[j - 1].Imaginary, "Λ should be sorted by imaginary part, most negative first");
        }
        var a = Hippo.LegSA(n);
        var rebuilt = dplr.ReconstructA();
        double worst = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                worst = Math.Max(worst, (rebuilt[i, k] - a[i, k]).Magnitude / (1 + Math.Abs(a[i, k])));
        Assert.True(worst < 1e-10, $"max relative reconstruction error {worst:G3}");

        // B = V_f·[B̃; conj B̃] and P = V_f·[P̃; conj P̃] (real).
        var b = Hippo.LegSB(n);
        var p = Hippo.LegSP(n);
        for (int i = 0; i < n; i++)
        {
            Complex bi = 0, pi = 0;
            for (int j = 0; j < n / 2; j++)
            {
                bi += 2 * (dplr.V[i, j] * dplr.B[j]).Real;
                pi += 2 * (dplr.V[i, j] * dplr.P[j]).Real;
            }
            Assert.True(Math.Abs(bi.Real - b[i]) < 1e-10 * (1 + b[i]), $"B[{i}] = {bi.Real}, expected {b[i]}");
            Assert.True(Math.Abs(pi.Real - p[i]) < 1e-10 * (1 + p[i]), $"P[{i}] = {pi.Real}, expected {p[i]}");
        }
    }

    [Fact]
    public void S4DLegSIsTheDplrSpectrumWithClippedB()
    {
        var exact = Hippo.LegSDplr(64);
        var (a, b) = Hippo.S4DLegS(64);
        Assert.Equal(exact.Lambda, a);
        Assert.All(b, x => Assert.InRange(x.Imaginary, -2.0, 2.0));
        Assert.Contains(exact.B, x => Math.Abs(x.Imaginary) > 2); // the clip is active for N = 64
        for (int j = 0; j < b.Length; j++)
        {
            Assert.Equal(exact.B[j].Real, b[j].Real);
            Assert.Equal(Math.Clamp(exact.B[j].Imaginary, -2, 2), b[j].Imaginary);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => Hippo.LegSDplr(7));
        var notNormal = Hippo.LegSA(4);
        notNormal[0, 1] = 1;
        Assert.Contains("skew", Assert.Throws<ArgumentException>(() => Hippo.Diagonalize(notNormal, Hippo.LegSP(4), Hippo.LegSB(4))).Message);
    }

    private static (Complex[] Lambda, Complex[] P, Complex[] B, Complex[] C) RandomDplr(int modes, int seed)
    {
        var rng = new Rng(seed);
        Complex Normal() => new(rng.Normal(), rng.Normal());
        var lambda = Enumerable.Range(0, modes).Select(n => new Complex(-0.5 - rng.NextDouble(), -Math.PI * (n + rng.NextDouble()))).ToArray();
        return (lambda, Enumerable.Range(0, modes).Select(_ => 0.5 * Normal()).ToArray(),
            Enumerable.Range(0, modes).Select(_ => Normal()).ToArray(), Enumerable.Range(0, modes).Select(_ => Normal()).ToArray());
    }

    /// <summary>K_l = Cᵀ Ā^l B̄ of the full conjugate-pair state by explicit matrix powers (float64).</summary>
    private static double[] MatrixPowerKernel(Complex[,] aBar, Complex[] bBar, Complex[] cFull, int length)
    {
        var a = Matrix<Complex>.Build.DenseOfArray(aBar);
        var x = CVector.Build.DenseOfArray(bBar);
        var c = CVector.Build.DenseOfArray(cFull);
        var k = new double[length];
        for (int l = 0; l < length; l++)
        {
            var y = c.DotProduct(x); // bilinear: Σ c_i x_i, no conjugation
            Assert.True(Math.Abs(y.Imaginary) < 1e-9 * (1 + y.Magnitude), $"K[{l}] = {y} should be real");
            k[l] = y.Real;
            x = a * x;
        }
        return k;
    }

    [Theory]
    [InlineData(4, 32)]
    [InlineData(8, 21)]
    public void DplrKernelMatchesMatrixPowersForRandomDplrSystems(int modes, int length)
    {
        var (lambda, p, b, c) = RandomDplr(modes, seed: modes + length);
        const double dt = 0.05;
        var (aBar, bBar) = DplrKernel.DiscretizeBilinear(lambda, p, b, dt);
        var expected = MatrixPowerKernel(aBar, bBar, DplrForm.Full(c), length);
        var cTilde = DplrKernel.CTilde(lambda, p, b, c, dt, length);
        var k = DplrKernel.Kernel(lambda, p, b, cTilde, dt, length);
        double max = expected.Max(Math.Abs);
        for (int l = 0; l < length; l++)
            Assert.True(Math.Abs(k[l] - expected[l]) < 1e-10 * max, $"K[{l}] = {k[l]:R}, expected {expected[l]:R}");

        var back = DplrKernel.CFromCTilde(lambda, p, b, cTilde, dt, length);
        for (int n = 0; n < modes; n++) Assert.True((back[n] - c[n]).Magnitude < 1e-10 * (1 + c[n].Magnitude), $"C[{n}] round trip");

        // The frequency response is the transfer function C̃ᵀ(I − Āω)⁻¹B̄ at the roots of unity.
        var (omega, _, _) = DplrKernel.Nodes(length);
        var response = DplrKernel.FrequencyResponse(lambda, p, b, cTilde, dt, length);
        var ab = Matrix<Complex>.Build.DenseOfArray(aBar);
        var ct = CVector.Build.DenseOfArray(DplrForm.Full(cTilde));
        for (int i = 0; i < omega.Length; i++)
        {
            var t = ct.DotProduct((Matrix<Complex>.Build.DenseIdentity(2 * modes) - ab * omega[i]).Solve(CVector.Build.DenseOfArray(bBar)));
            Assert.True((response[i] - t).Magnitude < 1e-9 * (1 + t.Magnitude), $"K̂[{i}] = {response[i]}, expected {t}");
        }
    }

    [Fact]
    public void DplrKernelReproducesTheHippoLegSReferenceKernel()
    {
        using var file = SafeTensorsFile.Open(DataFile("hippo_legs_kernel.safetensors"));
        int n = int.Parse(file.Metadata["N"]), length = int.Parse(file.Metadata["L"]);
        Assert.Contains("bilinear", file.Metadata["what"]);
        float[] aRef = file.ReadFloats("A"), bRef = file.ReadFloats("B"), cRef = file.ReadFloats("C"), kRef = file.ReadFloats("K");
        double dt = file.ReadFloats("dt")[0];
        Assert.Equal(length, kRef.Length);

        // The file's A is the transpose of LegSA (upper triangular: A_nk = −√((2n+1)(2k+1)) for n < k); B is LegS B.
        // Aᵀ + PPᵀ = −½I − S is again identity plus skew-symmetric, so the same diagonalization applies to it.
        var legs = Hippo.LegSA(n);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
        {
            Assert.Equal((float)Hippo.LegSB(n)[i], bRef[i]);
            for (int k = 0; k < n; k++)
            {
                a[i, k] = legs[k, i];
                Assert.Equal((float)a[i, k], aRef[i * n + k]);
            }
        }
        var dplr = Hippo.Diagonalize(a, Hippo.LegSP(n), Hippo.LegSB(n));
        var rebuilt = dplr.ReconstructA();
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++) Assert.True((rebuilt[i, k] - a[i, k]).Magnitude < 1e-10 * (1 + Math.Abs(a[i, k])));

        // Into the eigenbasis: Cᵀ Ā^l B̄ = (V_fᵀC)ᵀ Ā_f^l B̄_f, whose first half is c = VᵀC.
        int h = n / 2;
        var c = new Complex[h];
        for (int j = 0; j < h; j++)
            for (int i = 0; i < n; i++) c[j] += dplr.V[i, j] * cRef[i];
        var cTilde = DplrKernel.CTilde(dplr.Lambda, dplr.P, dplr.B, c, dt, length);
        double max = kRef.Max(Math.Abs);

        var host = DplrKernel.Kernel(dplr.Lambda, dplr.P, dplr.B, cTilde, dt, length);
        for (int l = 0; l < length; l++)
            Assert.True(Math.Abs(host[l] - kRef[l]) <= 1e-6 * max, $"host K[{l}] = {host[l]:G9}, expected {kRef[l]:G9}");

        // The same through the float32 Cauchy and Woodbury ops, on the CPU and on an ILGPU device.
        float[] Half(Complex[] x) => x.SelectMany(v => new[] { (float)v.Real, (float)v.Imaginary }).ToArray();
        foreach (var device in new[] { Device.Cpu, Device.IlgpuCpu })
        {
            Tensor T(Complex[] x) => Tensor.From(Half(x), new[] { 1, h, 2 }, device);
            var response = DplrKernel.FrequencyResponse(T(dplr.Lambda), T(dplr.P), T(dplr.B), T(cTilde),
                Tensor.From(new[] { (float)dt }, new[] { 1 }, device), length);
            Assert.Equal(new[] { 1, length / 2 + 1, 2 }, response.ShapeArray());
            var r = response.ToArray();
            var spectrum = Enumerable.Range(0, length / 2 + 1).Select(i => new Complex(r[2 * i], r[2 * i + 1])).ToArray();
            var k = DplrKernel.InverseRealDft(spectrum, length);
            for (int l = 0; l < length; l++)
                Assert.True(Math.Abs(k[l] - kRef[l]) <= 1e-4 * max, $"{device.Name} K[{l}] = {k[l]:G9}, expected {kRef[l]:G9}");
        }
    }

    [Fact]
    public void InverseRealDftInvertsTheDft()
    {
        foreach (int length in new[] { 1, 2, 7, 16 })
        {
            var x = Enumerable.Range(0, length).Select(i => Math.Sin(1.3 * i) + 0.1 * i).ToArray();
            var spectrum = Enumerable.Range(0, length / 2 + 1)
                .Select(k => Enumerable.Range(0, length).Aggregate(Complex.Zero, (s, l) => s + x[l] * Complex.Exp(new Complex(0, -2 * Math.PI * k * l / length))))
                .ToArray();
            var back = DplrKernel.InverseRealDft(spectrum, length);
            for (int l = 0; l < length; l++) Assert.Equal(x[l], back[l], 12);
        }
        Assert.Throws<ArgumentException>(() => DplrKernel.InverseRealDft(new Complex[3], 8));
    }

    [Fact]
    public void FrequencyResponseChecksItsArguments()
    {
        var x = Tensor.Zeros(new[] { 2, 3, 2 });
        var e = Assert.Throws<ArgumentException>(() => DplrKernel.FrequencyResponse(x, Tensor.Zeros(new[] { 2, 4, 2 }), x, x, Tensor.Ones(new[] { 2 }), 8));
        Assert.Contains("p has shape [2, 4, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => DplrKernel.FrequencyResponse(x, x, x, x, Tensor.Ones(new[] { 3 }), 8));
        Assert.Contains("dt has shape [3]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => DplrKernel.FrequencyResponse(x, x, x, x, Tensor.Zeros(new[] { 2 }), 8));
    }
}
