using Ssm.Kernels;

namespace Ssm.Tests;

/// <summary>Gradient checks (central differences) of the FFT ops' hand-written backward passes.</summary>
public sealed class FftConvGradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(16)]
    public void FftConvGradientsForInputAndSharedKernel(int len)
    {
        var u = Leaf(1, 2, 3, len);
        var k = Leaf(2, 3, len);
        GradCheck.Assert(v => F.FftConv(v[0], v[1]), new[] { u, k });
    }

    [Fact]
    public void FftConvGradientsForPerRowKernel()
    {
        var u = Leaf(3, 2, 2, 9);
        var k = Leaf(4, 2, 2, 9);
        GradCheck.Assert(v => F.FftConv(v[0], v[1]), new[] { u, k });
    }

    [Fact]
    public void FftConvGradientFlowsOnlyWhereRequired()
    {
        var u = Leaf(5, 1, 2, 6);
        var k = new Variable(new Rng(6).Normal(new[] { 2, 6 }));
        GradCheck.Assert(v => F.FftConv(v[0], v[1]), new[] { u, k });
        Assert.Null(k.Grad);
        var u2 = new Variable(new Rng(7).Normal(new[] { 1, 2, 6 }));
        var k2 = Leaf(8, 2, 6);
        GradCheck.Assert(v => F.FftConv(v[0], v[1]), new[] { u2, k2 });
    }

    [Theory]
    [InlineData(8, null)]   // radix-2
    [InlineData(9, null)]   // Bluestein
    [InlineData(6, 8)]      // zero-padded
    [InlineData(10, 8)]     // truncated
    [InlineData(7, 12)]     // zero-padded, Bluestein
    public void RfftGradients(int len, int? n)
    {
        GradCheck.Assert(v => F.Rfft(v[0], n), new[] { Leaf(9, 2, len) });
    }

    [Theory]
    [InlineData(5, null)]   // n = 8
    [InlineData(5, 9)]      // odd n
    [InlineData(3, 8)]      // fewer bins than n/2+1
    [InlineData(7, 8)]      // more bins: the extra ones get zero gradient
    public void IrfftGradients(int bins, int? n)
    {
        var entries = GradCheck.Assert(v => F.Irfft(v[0], n), new[] { Leaf(10, 2, bins, 2) }, maxElements: 64);
        int size = n ?? 2 * (bins - 1);
        // Entries the forward ignores (imaginary parts of the edge bins, bins beyond n/2) must have gradient 0.
        foreach (var e in entries)
        {
            int k = e.Element / 2 % bins, part = e.Element % 2;
            bool ignored = k > size / 2 || part == 1 && (k == 0 || 2 * k == size);
            if (ignored) Assert.Equal(0.0, e.Analytic);
        }
    }

    [Fact]
    public void RfftThenIrfftComposeToIdentityGradient()
    {
        var x = Leaf(11, 3, 12);
        GradCheck.Assert(v => F.Irfft(F.Rfft(v[0]), 12), new[] { x });
    }
}
