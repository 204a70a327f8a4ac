namespace Ssm.Kernels.Tests;

/// <summary>
/// Real FFTs against a double-precision DFT. Tolerance: max |error| ≤ 2e-7·log2(2n)·max |reference| over the whole
/// result (float32 FFT error grows like log n; measured errors are 5–20× below this bound).
/// </summary>
[Collection("ilgpu")]
public sealed class FftTests
{
    public static TheoryData<int> Lengths => new() { 1, 2, 3, 5, 8, 12, 17, 64, 100, 256, 1000, 1024, 4096 };

    internal static double Tolerance(int n) => 2e-7 * Math.Log2(2 * n);

    /// <summary>Double-precision one-sided DFT of each row of x [rows, len], zero-padded/truncated to n.</summary>
    internal static double[] NaiveRfft(float[] x, int rows, int len, int n)
    {
        int bins = n / 2 + 1;
        var y = new double[rows * bins * 2];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < bins; k++)
            {
                double re = 0, im = 0;
                for (int t = 0; t < Math.Min(n, len); t++)
                {
                    double a = -2 * Math.PI * ((long)k * t % n) / n;
                    re += x[r * len + t] * Math.Cos(a);
                    im += x[r * len + t] * Math.Sin(a);
                }
                y[(r * bins + k) * 2] = re;
                y[(r * bins + k) * 2 + 1] = im;
            }
        return y;
    }

    /// <summary>
    /// Double-precision inverse of a one-sided spectrum X [rows, bins, 2] to length n, NumPy semantics: missing bins are
    /// zero, extra bins ignored, imaginary parts of bin 0 and (n even) bin n/2 ignored.
    /// </summary>
    internal static double[] NaiveIrfft(float[] spec, int rows, int bins, int n)
    {
        var y = new double[rows * n];
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < n; t++)
            {
                double sum = 0;
                for (int k = 0; k <= n / 2 && k < bins; k++)
                {
                    double re = spec[(r * bins + k) * 2], im = spec[(r * bins + k) * 2 + 1];
                    bool edge = k == 0 || 2 * k == n;
                    double a = 2 * Math.PI * ((long)k * t % n) / n;
                    sum += edge ? re * Math.Cos(a) : 2 * (re * Math.Cos(a) - im * Math.Sin(a));
                }
                y[r * n + t] = sum / n;
            }
        return y;
    }

    internal static void AssertNear(double[] expected, float[] actual, double relTol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Length == 0 ? 0 : expected.Max(Math.Abs), worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= worst)) { worst = err; at = i; }
        }
        Assert.True(worst <= relTol * scale,
            $"{what}: max |error| {worst:G3} at {at} (actual {actual[Math.Max(at, 0)]:G9}, expected {expected[Math.Max(at, 0)]:G9}) exceeds {relTol:G3}·max|expected| = {relTol * scale:G3}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void CpuRfftMatchesDoubleDft(int n)
    {
        var x = Data.Normal(3 * n, n);
        var y = Fft.Rfft(Tensor.From(x, 3, n));
        Assert.Equal(new[] { 3, n / 2 + 1, 2 }, y.ShapeArray());
        AssertNear(NaiveRfft(x, 3, n, n), y.ToArray(), Tolerance(n), $"rfft n={n}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void CpuIrfftMatchesDoubleInverseDft(int n)
    {
        int bins = n / 2 + 1;
        var spec = Data.Normal(2 * bins * 2, 100 + n); // random imaginary parts at bin 0 and n/2 too: they must be ignored
        var y = Fft.Irfft(Tensor.From(spec, 2, bins, 2), n);
        Assert.Equal(new[] { 2, n }, y.ShapeArray());
        AssertNear(NaiveIrfft(spec, 2, bins, n), y.ToArray(), Tolerance(n), $"irfft n={n}");
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public void CpuIrfftOfRfftIsIdentity(int n)
    {
        var x = Data.Normal(4 * n, 200 + n);
        var back = Fft.Irfft(Fft.Rfft(Tensor.From(x, 2, 2, n)), n);
        Assert.Equal(new[] { 2, 2, n }, back.ShapeArray());
        AssertNear(x.Select(v => (double)v).ToArray(), back.ToArray(), 2 * Tolerance(n), $"round trip n={n}");
    }

    [Theory]
    [InlineData(10, 16)]  // zero-padded, power of two
    [InlineData(10, 21)]  // zero-padded, Bluestein
    [InlineData(40, 32)]  // truncated, power of two
    [InlineData(40, 30)]  // truncated, Bluestein
    public void CpuRfftPadsOrTruncatesToN(int len, int n)
    {
        var x = Data.Normal(2 * len, len + n);
        var y = Fft.Rfft(Tensor.From(x, 2, len), n);
        Assert.Equal(new[] { 2, n / 2 + 1, 2 }, y.ShapeArray());
        AssertNear(NaiveRfft(x, 2, len, n), y.ToArray(), Tolerance(n), $"rfft len={len} n={n}");
    }

    [Theory]
    [InlineData(5, 16)]   // fewer bins than n/2+1: the rest are zero
    [InlineData(20, 16)]  // more bins: the extra ones are ignored
    [InlineData(4, 15)]
    [InlineData(12, 15)]
    public void CpuIrfftPadsOrTruncatesBins(int bins, int n)
    {
        var spec = Data.Normal(2 * bins * 2, bins * n);
        var y = Fft.Irfft(Tensor.From(spec, 2, bins, 2), n);
        AssertNear(NaiveIrfft(spec, 2, bins, n), y.ToArray(), Tolerance(n), $"irfft bins={bins} n={n}");
    }

    [Fact]
    public void IrfftDefaultLengthIsTwiceBinsMinusOne()
    {
        var spec = Data.Normal(9 * 2, 5);
        var y = Fft.Irfft(Tensor.From(spec, 9, 2));
        Assert.Equal(new[] { 16 }, y.ShapeArray());
        AssertNear(NaiveIrfft(spec, 1, 9, 16), y.ToArray(), Tolerance(16), "irfft default n");
    }

    [Theory]
    [InlineData(16)]
    [InlineData(15)]
    public void ScaledTransformsAreEachOthersAdjoints(int n)
    {
        // ⟨rfft(x), Y⟩ = ⟨x, irfft(Y; edge n, mid n/2)⟩ and ⟨irfft(X), y⟩ = ⟨X, rfft(y; edge 1/n, mid 2/n)⟩ (real inner
        // products of the float data): the backward passes of the two transforms.
        int bins = n / 2 + 1;
        var x = Data.Normal(3 * n, 1);
        var spec = Data.Normal(3 * bins * 2, 2);
        var xt = Tensor.From(x, 3, n);
        var st = Tensor.From(spec, 3, bins, 2);
        double Dot(float[] a, float[] b) => a.Zip(b, (p, q) => (double)p * q).Sum();
        double lhs = Dot(Fft.Rfft(xt).ToArray(), spec), rhs = Dot(x, Fft.Irfft(st, n, n, n, n / 2f).ToArray());
        Assert.True(Math.Abs(lhs - rhs) <= 1e-5 * Math.Abs(lhs) + 1e-4, $"rfft adjoint: {lhs} vs {rhs}");
        lhs = Dot(Fft.Irfft(st, n).ToArray(), x);
        rhs = Dot(spec, Fft.Rfft(xt, n, n / 2 + 1, 1f / n, 2f / n).ToArray());
        Assert.True(Math.Abs(lhs - rhs) <= 1e-5 * Math.Abs(lhs) + 1e-5, $"irfft adjoint: {lhs} vs {rhs}");
    }

    [Fact]
    public void LeadingDimensionsAreBatchedAndEmptyBatchesWork()
    {
        var x = Data.Normal(2 * 3 * 12, 7);
        var y = Fft.Rfft(Tensor.From(x, 2, 3, 12));
        Assert.Equal(new[] { 2, 3, 7, 2 }, y.ShapeArray());
        AssertNear(NaiveRfft(x, 6, 12, 12), y.ToArray(), Tolerance(12), "batched rfft");
        Assert.Equal(new[] { 0, 5, 2 }, Fft.Rfft(Tensor.Zeros(new[] { 0, 8 })).ShapeArray());
        Assert.Equal(new[] { 0, 8 }, Fft.Irfft(Tensor.Zeros(new[] { 0, 5, 2 })).ShapeArray());
        Assert.Equal(new float[] { 0, 0, 0, 0 }, Fft.Irfft(Tensor.Zeros(new[] { 0, 2 }), 4).ToArray());
    }

    public static TheoryData<string, int> GpuCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var shape in new[] { "w4x4", "w2x8" })
            foreach (var n in new[] { 1, 2, 3, 8, 12, 17, 64, 100 })
                data.Add(shape, n);
        return data;
    }

    [Theory]
    [MemberData(nameof(GpuCases))]
    public void IlgpuRfftAndIrfftMatchDoubleDft(string shape, int n)
    {
        var dev = TestDevices.Get(shape);
        int bins = n / 2 + 1;
        var x = Data.Normal(3 * n, n);
        var y = Fft.Rfft(Tensor.From(x, new[] { 3, n }, dev));
        Assert.Equal(new[] { 3, bins, 2 }, y.ShapeArray());
        AssertNear(NaiveRfft(x, 3, n, n), y.ToArray(), Tolerance(n), $"ilgpu rfft n={n}");
        var spec = Data.Normal(2 * bins * 2, 100 + n);
        AssertNear(NaiveIrfft(spec, 2, bins, n), Fft.Irfft(Tensor.From(spec, new[] { 2, bins, 2 }, dev), n).ToArray(), Tolerance(n), $"ilgpu irfft n={n}");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuGlobalMemoryPassesMatchDoubleDft(string shape)
    {
        // Shared-memory blocks of 4 complex values force global radix-2 stages: n = 64 (m = 32: 3 global stages),
        // Bluestein n = 17 (M = 64), and padding/truncation.
        var dev = TestDevices.Get(shape);
        FftGpu.SharedLimitOverride = 4;
        try
        {
            foreach (var (len, n) in new[] { (64, 64), (17, 17), (50, 64), (70, 64), (10, 17) })
            {
                int bins = n / 2 + 1;
                var x = Data.Normal(2 * len, len + n);
                AssertNear(NaiveRfft(x, 2, len, n), Fft.Rfft(Tensor.From(x, new[] { 2, len }, dev), n).ToArray(), Tolerance(n), $"global rfft len={len} n={n}");
                var spec = Data.Normal(2 * bins * 2, 3 * n);
                AssertNear(NaiveIrfft(spec, 2, bins, n), Fft.Irfft(Tensor.From(spec, new[] { 2, bins, 2 }, dev), n).ToArray(), Tolerance(n), $"global irfft n={n}");
            }
        }
        finally { FftGpu.SharedLimitOverride = 0; }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuPaddingAndBinCountsMatchCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var (len, n) in new[] { (10, 16), (40, 32), (10, 21), (40, 30) })
        {
            var x = Tensor.From(Data.Normal(2 * len, len * n), 2, len);
            Close.All(Fft.Rfft(x, n), Fft.Rfft(x.To(dev), n), 1e-5, 1e-5, $"rfft len={len} n={n}");
        }
        foreach (var (bins, n) in new[] { (5, 16), (20, 16), (4, 15), (12, 15) })
        {
            var spec = Tensor.From(Data.Normal(2 * bins * 2, bins + n), 2, bins, 2);
            Close.All(Fft.Irfft(spec, n), Fft.Irfft(spec.To(dev), n), 1e-5, 1e-6, $"irfft bins={bins} n={n}");
            Close.All(Fft.Irfft(spec, n, n, n, n / 2f), Fft.Irfft(spec.To(dev), n, n, n, n / 2f), 1e-5, 1e-5, $"scaled irfft bins={bins} n={n}");
            var y = Tensor.From(Data.Normal(2 * n, n), 2, n);
            Close.All(Fft.Rfft(y, n, n / 2 + 1, 1f / n, 2f / n), Fft.Rfft(y.To(dev), n, n / 2 + 1, 1f / n, 2f / n), 1e-5, 1e-6, $"scaled rfft n={n}");
        }
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("w4x4")]
    [InlineData("w2x8")]
    public void InternalOutputLengthsTruncateOrZeroFill(string device)
    {
        // The autograd backward passes ask for other output lengths than n/2+1 bins and n samples: a prefix, or the
        // full result followed by zeros (edge imaginary parts exactly zero).
        Device dev = device == "cpu" ? Device.Cpu : TestDevices.Get(device);
        foreach (int n in new[] { 16, 15 })
        {
            int bins = n / 2 + 1;
            var x = Tensor.From(Data.Normal(2 * n, n), new[] { 2, n }, dev);
            var full = Fft.Rfft(x).ToArray();
            foreach (int count in new[] { 3, bins + 4 })
            {
                var y = Fft.Rfft(x, n, count, 1f, 1f).ToArray();
                var expected = new float[2 * count * 2];
                for (int r = 0; r < 2; r++)
                    for (int k = 0; k < Math.Min(count, bins); k++)
                        for (int c = 0; c < 2; c++) expected[(r * count + k) * 2 + c] = full[(r * bins + k) * 2 + c];
                Assert.Equal(0f, y[1]);
                if (n % 2 == 0 && count > n / 2) Assert.Equal(0f, y[2 * (n / 2) + 1]);
                Close.All(expected, y, 0, 0, $"rfft n={n} bins={count}");
            }
            var spec = Tensor.From(Data.Normal(2 * bins * 2, n + 1), new[] { 2, bins, 2 }, dev);
            var inv = Fft.Irfft(spec, n).ToArray();
            foreach (int length in new[] { 5, n + 3 })
            {
                var y = Fft.Irfft(spec, n, length, 1f, 1f).ToArray();
                var expected = new float[2 * length];
                for (int r = 0; r < 2; r++)
                    for (int t = 0; t < Math.Min(length, n); t++) expected[r * length + t] = inv[r * n + t];
                Close.All(expected, y, 0, 0, $"irfft n={n} length={length}");
            }
        }
    }

    [Fact]
    public void BadInputsThrowNamingTheArgument()
    {
        var e = Assert.Throws<ArgumentException>(() => Fft.Rfft(Tensor.Scalar(1f)));
        Assert.Contains("x has shape []", e.Message);
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => Fft.Rfft(Tensor.Zeros(new[] { 2, 0 })));
        Assert.Contains("must be positive, got 0", r.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Fft.Rfft(Tensor.Zeros(new[] { 2, 4 }), -3));
        e = Assert.Throws<ArgumentException>(() => Fft.Irfft(Tensor.Zeros(new[] { 4, 3 })));
        Assert.Contains("spectrum has shape [4, 3], expected [..., bins, 2]", e.Message);
        r = Assert.Throws<ArgumentOutOfRangeException>(() => Fft.Irfft(Tensor.Zeros(new[] { 1, 2 })));
        Assert.Contains("2·(bins − 1)", r.Message);
        e = Assert.Throws<ArgumentException>(() => Fft.Rfft(Tensor.From(new[] { 1, 2 }, new[] { 2 })));
        Assert.Contains("dtype Int32", e.Message);
    }
}
