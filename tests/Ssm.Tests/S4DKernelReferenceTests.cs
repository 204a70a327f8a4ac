using System.Numerics;
using Ssm.Checkpoints;
using Ssm.Kernels;
using Ssm.S4;

namespace Ssm.Tests;

[Collection("ilgpu")]
public sealed class S4DKernelReferenceTests
{
    [Fact]
    public void ZohDiscretizationAndVandermondeReproduceTheS4DReferenceKernel()
    {
        using var file = SafeTensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "Data", "s4d_layer.safetensors"));
        Assert.Contains("ZOH", file.Metadata["what"]);
        float[] logDt = file.ReadFloats("kernel.log_dt"), c = file.ReadFloats("kernel.C"), logAReal = file.ReadFloats("kernel.log_A_real"),
            aImag = file.ReadFloats("kernel.A_imag"), kRef = file.ReadFloats("K");
        int h = logDt.Length, n2 = aImag.Length / h, length = kRef.Length / h;

        // s4d.py: dt = exp(log_dt), A = −exp(log_A_real) + i·A_imag, dtA = dt·A, C' = C·(e^{dtA} − 1)/A (B = 1).
        var dtA = new float[h * n2 * 2];
        var cPrime = new float[h * n2 * 2];
        for (int i = 0; i < h; i++)
            for (int n = 0; n < n2; n++)
            {
                int m = i * n2 + n;
                var a = new Complex(-Math.Exp(logAReal[m]), aImag[m]);
                var (x, cp) = DiagonalDiscretization.Zoh(a, 1, new Complex(c[2 * m], c[2 * m + 1]), Math.Exp(logDt[i]));
                (dtA[2 * m], dtA[2 * m + 1]) = ((float)x.Real, (float)x.Imaginary);
                (cPrime[2 * m], cPrime[2 * m + 1]) = ((float)cp.Real, (float)cp.Imaginary);
            }
        foreach (var device in new[] { Device.Cpu, Device.IlgpuCpu })
        {
            var k = Vandermonde.Kernel(Tensor.From(dtA, new[] { h, n2, 2 }, device), Tensor.From(cPrime, new[] { h, n2, 2 }, device), length).ToArray();
            for (int i = 0; i < h; i++)
            {
                double max = kRef.Skip(i * length).Take(length).Max(Math.Abs);
                for (int l = 0; l < length; l++)
                    Assert.True(Math.Abs(k[i * length + l] - kRef[i * length + l]) <= 1e-5 * max,
                        $"{device.Name} K[{i}, {l}] = {k[i * length + l]:G9}, expected {kRef[i * length + l]:G9}");
            }
        }
    }

    [Fact]
    public void BilinearDiscretizationMatchesItsRecurrence()
    {
        // K_l = Cᵀ Ā^l B̄ summed over conjugate pairs equals 2·Re(C'·e^{log Ā·l}).
        var a = new Complex(-0.3, 2.1);
        Complex b = new(0.7, -0.2), c = new(1.1, 0.4);
        const double dt = 0.07;
        var (logABar, cPrime) = DiagonalDiscretization.Bilinear(a, b, c, dt);
        var aBar = (1 + dt * a / 2) / (1 - dt * a / 2);
        var bBar = dt * b / (1 - dt * a / 2);
        var x = bBar;
        for (int l = 0; l < 30; l++)
        {
            double expected = 2 * (c * x).Real;
            Assert.Equal(expected, 2 * (cPrime * Complex.Exp(logABar * l)).Real, 12);
            x *= aBar;
        }
        var (dtA, zohC) = DiagonalDiscretization.Zoh(a, b, c, dt);
        Assert.Equal(dt * a, dtA);
        Assert.True((zohC - c * b * (Complex.Exp(dt * a) - 1) / a).Magnitude < 1e-15);
    }
}
