namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class DropoutTests
{
    // Reference built from the scalar definition (DropoutOps.Draw), independent of the vectorized CPU path.
    private static float[] Reference(float[] x, float p, ulong seed)
    {
        ulong key = DropoutOps.Mix(seed);
        uint threshold = DropoutOps.Threshold(p);
        float scale = (float)(1.0 / (1.0 - p));
        return x.Select((v, i) => DropoutOps.Draw(key, i) >= threshold ? v * scale : 0f).ToArray();
    }

    [Fact]
    public void CpuMatchesScalarDefinitionIncludingTailAndViews()
    {
        var x = Data.Normal(1003, 1);
        var y = DropoutOps.Apply(Tensor.From(x, 17, 59), 0.3f, 42).ToArray();
        Assert.Equal(Reference(x, 0.3f, 42), y);

        // A slice view: element indices are flat indices within the view.
        var full = Tensor.From(Data.Normal(40 * 9, 2), 40, 9);
        var view = full.Slice(5, 11);
        Assert.Equal(Reference(view.ToArray(), 0.5f, 7), DropoutOps.Apply(view, 0.5f, 7).ToArray());
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMaskIsIdenticalToCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        var x = Data.Normal(2051, 3);
        foreach (var (p, seed) in new[] { (0.1f, 1UL), (0.5f, 0xDEADBEEFCAFEUL), (0.9f, ulong.MaxValue) })
        {
            var cpu = DropoutOps.Apply(Tensor.From(x, x.Length), p, seed).ToArray();
            var gpu = DropoutOps.Apply(Tensor.From(x, new[] { x.Length }, dev), p, seed).ToArray();
            Assert.Equal(cpu, gpu); // bit-identical: the mask is integer arithmetic, the scaling one multiply
        }
    }

    [Fact]
    public void KeptFractionAndMeanMatchExpectation()
    {
        const int n = 200_000;
        var ones = Tensor.Ones(new[] { n });
        foreach (var p in new[] { 0.1f, 0.3f, 0.5f, 0.8f })
        {
            var y = DropoutOps.Apply(ones, p, 1234).ToArray();
            int kept = y.Count(v => v != 0f);
            double q = 1 - p, sigma = Math.Sqrt(n * p * q);
            Assert.InRange(kept, n * q - 5 * sigma, n * q + 5 * sigma);
            Assert.All(y, v => Assert.True(v == 0f || v == (float)(1.0 / q)));
            // E[y] = E[x] = 1; the standard error of the mean is sqrt(p/q)/sqrt(n).
            double mean = y.Average(v => (double)v);
            Assert.InRange(mean, 1 - 5 * Math.Sqrt(p / q / n), 1 + 5 * Math.Sqrt(p / q / n));
        }
    }

    [Fact]
    public void DifferentSeedsGiveIndependentMasks()
    {
        const int n = 100_000;
        const float p = 0.5f;
        var ones = Tensor.Ones(new[] { n });
        // Neighbouring seeds and seeds one gamma apart (a shifted SplitMix64 stream without the key mix) must not correlate.
        foreach (var (s1, s2) in new[] { (1UL, 2UL), (0UL, DropoutOps.Gamma) })
        {
            var a = DropoutOps.Apply(ones, p, s1).ToArray();
            var b = DropoutOps.Apply(ones, p, s2).ToArray();
            int agree = 0, agreeShifted = 0;
            for (int i = 0; i + 1 < n; i++)
            {
                agree += (a[i] != 0) == (b[i] != 0) ? 1 : 0;
                agreeShifted += (a[i + 1] != 0) == (b[i] != 0) ? 1 : 0;
            }
            double sigma = Math.Sqrt(n * 0.25);
            Assert.InRange(agree, n * 0.5 - 5 * sigma, n * 0.5 + 5 * sigma);
            Assert.InRange(agreeShifted, n * 0.5 - 5 * sigma, n * 0.5 + 5 * sigma);
        }
        // Neighbouring elements are independent too: agreement of element i with element i+1.
        var m = DropoutOps.Apply(ones, p, 99).ToArray();
        int same = 0;
        for (int i = 0; i + 1 < n; i++) same += (m[i] != 0) == (m[i + 1] != 0) ? 1 : 0;
        Assert.InRange(same, (n - 1) * 0.5 - 5 * Math.Sqrt(n * 0.25), (n - 1) * 0.5 + 5 * Math.Sqrt(n * 0.25));
    }

    [Fact]
    public void EdgeProbabilitiesInPlaceAndErrors()
    {
        var x = Data.Normal(100, 4);
        Assert.Equal(x, DropoutOps.Apply(Tensor.From(x, 100), 0f, 5).ToArray());
        Assert.All(DropoutOps.Apply(Tensor.From(x, 100), 1f, 5).ToArray(), v => Assert.Equal(0f, v));

        var t = Tensor.From(x, 100);
        var expected = DropoutOps.Apply(t, 0.25f, 6).ToArray();
        DropoutOps.Apply(t, 0.25f, 6, output: t);
        Assert.Equal(expected, t.ToArray());

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => DropoutOps.Apply(t, 1.5f, 1));
        Assert.Contains("p must be in [0, 1]", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => DropoutOps.Apply(t, 0.5f, 1, Tensor.Empty(new[] { 99 })));
        Assert.Contains("output has shape [99]", e2.Message);
    }
}
