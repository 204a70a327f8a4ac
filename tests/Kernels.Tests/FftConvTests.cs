namespace Ssm.Kernels.Tests;

/// <summary>
/// Causal FFT convolution and its backward against O(L²) double-precision loops. Tolerance: max |error| ≤
/// 2e-7·log2(2n)·max |reference| over the tensor (n the FFT length; float32 FFT error grows like log n).
/// </summary>
[Collection("ilgpu")]
public sealed class FftConvTests
{
    public static TheoryData<int> Lengths => new() { 1, 5, 64, 100, 513 };

    private static double Tolerance(int len) => 2e-7 * Math.Log2(2 * FftConv.TransformLength(len));

    /// <summary>y[b,h,t] = Σ_{s≤t} k[h or b,h, t−s]·u[b,h,s].</summary>
    private static double[] NaiveConv(float[] u, float[] k, int b, int h, int len, bool batchedK)
    {
        var y = new double[b * h * len];
        for (int r = 0; r < b * h; r++)
        {
            int kr = batchedK ? r : r % h;
            for (int t = 0; t < len; t++)
            {
                double sum = 0;
                for (int s = 0; s <= t; s++) sum += (double)k[kr * len + t - s] * u[r * len + s];
                y[r * len + t] = sum;
            }
        }
        return y;
    }

    /// <summary>du[b,h,s] = Σ_{t≥s} k[t−s]·dy[t]; dk[h,j] = Σ_b Σ_t dy[b,h,t]·u[b,h,t−j] (per row when batched).</summary>
    private static (double[] du, double[] dk) NaiveBackward(float[] u, float[] k, float[] dy, int b, int h, int len, bool batchedK)
    {
        var du = new double[b * h * len];
        var dk = new double[(batchedK ? b * h : h) * len];
        for (int r = 0; r < b * h; r++)
        {
            int kr = batchedK ? r : r % h;
            for (int s = 0; s < len; s++)
                for (int t = s; t < len; t++)
                {
                    du[r * len + s] += (double)k[kr * len + t - s] * dy[r * len + t];
                    dk[kr * len + t - s] += (double)dy[r * len + t] * u[r * len + s];
                }
        }
        return (du, dk);
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void CpuCausalMatchesDirectConvolution(int len)
    {
        var u = Data.Normal(2 * 3 * len, len);
        var k = Data.Normal(3 * len, len + 1);
        var y = FftConv.Causal(Tensor.From(u, 2, 3, len), Tensor.From(k, 3, len));
        Assert.Equal(new[] { 2, 3, len }, y.ShapeArray());
        FftTests.AssertNear(NaiveConv(u, k, 2, 3, len, false), y.ToArray(), Tolerance(len), $"conv L={len}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void CpuBackwardMatchesDirectCorrelations(int len)
    {
        var u = Data.Normal(2 * 3 * len, len);
        var k = Data.Normal(3 * len, len + 1);
        var dy = Data.Normal(2 * 3 * len, len + 2);
        var (du, dk) = FftConv.CausalBackward(Tensor.From(u, 2, 3, len), Tensor.From(k, 3, len), Tensor.From(dy, 2, 3, len));
        var (edu, edk) = NaiveBackward(u, k, dy, 2, 3, len, false);
        FftTests.AssertNear(edu, du!.ToArray(), Tolerance(len), $"du L={len}");
        Assert.Equal(new[] { 3, len }, dk!.ShapeArray());
        FftTests.AssertNear(edk, dk.ToArray(), Tolerance(len), $"dk L={len}");
    }

    [Fact]
    public void CpuPerRowKernelsAndPartialGradients()
    {
        const int b = 2, h = 3, len = 37;
        var u = Data.Normal(b * h * len, 1);
        var k = Data.Normal(b * h * len, 2);
        var dy = Data.Normal(b * h * len, 3);
        var ut = Tensor.From(u, b, h, len);
        var kt = Tensor.From(k, b, h, len);
        FftTests.AssertNear(NaiveConv(u, k, b, h, len, true), FftConv.Causal(ut, kt).ToArray(), Tolerance(len), "batched-k conv");
        var (edu, edk) = NaiveBackward(u, k, dy, b, h, len, true);
        var (du, dk) = FftConv.CausalBackward(ut, kt, Tensor.From(dy, b, h, len));
        FftTests.AssertNear(edu, du!.ToArray(), Tolerance(len), "batched-k du");
        Assert.Equal(new[] { b, h, len }, dk!.ShapeArray());
        FftTests.AssertNear(edk, dk.ToArray(), Tolerance(len), "batched-k dk");
        var (onlyU, noK) = FftConv.CausalBackward(ut, kt, Tensor.From(dy, b, h, len), needK: false);
        Assert.Null(noK);
        Assert.Equal(du.ToArray(), onlyU!.ToArray());
        var (noU, onlyK) = FftConv.CausalBackward(ut, kt, Tensor.From(dy, b, h, len), needU: false);
        Assert.Null(noU);
        Assert.Equal(dk.ToArray(), onlyK!.ToArray());
    }

    public static TheoryData<string, int> GpuCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var shape in new[] { "w4x4", "w2x8" })
            foreach (var len in new[] { 1, 5, 64, 100 })
                data.Add(shape, len);
        return data;
    }

    private static void CheckDevice(IlgpuDevice dev, int b, int h, int len, bool batchedK, string what)
    {
        var u = Data.Normal(b * h * len, len + 10);
        var k = Data.Normal((batchedK ? b * h : h) * len, len + 11);
        var dy = Data.Normal(b * h * len, len + 12);
        var kShape = batchedK ? new[] { b, h, len } : new[] { h, len };
        var ut = Tensor.From(u, new[] { b, h, len }, dev);
        var kt = Tensor.From(k, kShape, dev);
        FftTests.AssertNear(NaiveConv(u, k, b, h, len, batchedK), FftConv.Causal(ut, kt).ToArray(), Tolerance(len), $"{what} y L={len}");
        var (edu, edk) = NaiveBackward(u, k, dy, b, h, len, batchedK);
        var dyt = Tensor.From(dy, new[] { b, h, len }, dev);
        var (du, dk) = FftConv.CausalBackward(ut, kt, dyt);
        FftTests.AssertNear(edu, du!.ToArray(), Tolerance(len), $"{what} du L={len}");
        FftTests.AssertNear(edk, dk!.ToArray(), Tolerance(len), $"{what} dk L={len}");
        var (noU, onlyK) = FftConv.CausalBackward(ut, kt, dyt, needU: false);
        Assert.Null(noU);
        FftTests.AssertNear(edk, onlyK!.ToArray(), Tolerance(len), $"{what} dk only L={len}");
        var (onlyU, noK) = FftConv.CausalBackward(ut, kt, dyt, needK: false);
        Assert.Null(noK);
        FftTests.AssertNear(edu, onlyU!.ToArray(), Tolerance(len), $"{what} du only L={len}");
    }

    [Theory]
    [MemberData(nameof(GpuCases))]
    public void IlgpuCausalAndBackwardMatchDirectLoops(string shape, int len)
    {
        var dev = TestDevices.Get(shape);
        CheckDevice(dev, 2, 2, len, false, "shared");
        if (len == 5) CheckDevice(dev, 2, 2, len, true, "shared batched-k");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuGlobalMemoryPathMatchesDirectLoops(string shape)
    {
        var dev = TestDevices.Get(shape);
        FftGpu.SharedLimitOverride = 4; // n = 64 for L = 20: m = 32 > 4 takes the global-memory passes
        try
        {
            CheckDevice(dev, 2, 2, 20, false, "global");
            CheckDevice(dev, 2, 2, 20, true, "global batched-k");
        }
        finally { FftGpu.SharedLimitOverride = 0; }
    }

    [Fact]
    public void BadInputsThrowNamingTheArgument()
    {
        var u = Tensor.Zeros(new[] { 2, 3, 8 });
        var e = Assert.Throws<ArgumentException>(() => FftConv.Causal(u, Tensor.Zeros(new[] { 4, 8 })));
        Assert.Contains("k has shape [4, 8], expected [3, 8]", e.Message);
        e = Assert.Throws<ArgumentException>(() => FftConv.Causal(u, Tensor.Zeros(new[] { 3, 7 })));
        Assert.Contains("k has shape [3, 7], expected [3, 8]", e.Message);
        e = Assert.Throws<ArgumentException>(() => FftConv.Causal(u, Tensor.Zeros(new[] { 1, 3, 8 })));
        Assert.Contains("k has shape [1, 3, 8], expected [2, 3, 8]", e.Message);
        e = Assert.Throws<ArgumentException>(() => FftConv.Causal(Tensor.Zeros(new[] { 2, 3, 0 }), Tensor.Zeros(new[] { 3, 0 })));
        Assert.Contains("u has shape [2, 3, 0], expected length ≥ 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => FftConv.Causal(Tensor.Zeros(new[] { 3, 8 }), Tensor.Zeros(new[] { 3, 8 })));
        Assert.Contains("u has shape [3, 8], expected rank 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => FftConv.CausalBackward(u, Tensor.Zeros(new[] { 3, 8 }), Tensor.Zeros(new[] { 2, 3, 9 })));
        Assert.Contains("dy has shape [2, 3, 9], expected [2, 3, 8]", e.Message);
        e = Assert.Throws<ArgumentException>(() => FftConv.Causal(u, Tensor.Zeros(new[] { 3, 8 }, device: TestDevices.Get("w4x4"))));
        Assert.Contains("ilgpu-cpu", e.Message);
        Assert.Equal(new[] { 0, 3, 8 }, FftConv.Causal(Tensor.Zeros(new[] { 0, 3, 8 }), Tensor.Zeros(new[] { 3, 8 })).ShapeArray());
        var (du, dk) = FftConv.CausalBackward(Tensor.Zeros(new[] { 0, 3, 8 }), Tensor.Zeros(new[] { 3, 8 }), Tensor.Zeros(new[] { 0, 3, 8 }));
        Assert.Equal(new float[24], dk!.ToArray());
        Assert.Equal(0, du!.Length);
    }

    [Fact]
    public void TransformLengthIsThePowerOfTwoAtLeastTwiceTheLengthMinusOne()
    {
        Assert.Equal(new[] { 2, 4, 8, 8, 128, 256, 2048 }, new[] { 1, 2, 3, 4, 64, 100, 513 }.Select(FftConv.TransformLength).ToArray());
    }
}
