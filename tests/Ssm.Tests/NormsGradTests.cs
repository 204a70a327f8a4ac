using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class NormsGradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);
    private static Variable Weight(int seed, int d) => new(new Rng(seed).Uniform(new[] { d }, 0.5, 1.5), requiresGrad: true);

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(12)]
    public void LayerNormGradientsForInputWeightAndBias(int d)
    {
        var x = Leaf(1, 3, d);
        GradCheck.Assert(v => F.LayerNorm(v[0], v[1], v[2]), new[] { x, Weight(2, d), Leaf(3, d) });
    }

    [Fact]
    public void LayerNormWithoutAffineAndWithFrozenWeight()
    {
        GradCheck.Assert(v => F.LayerNorm(v[0]), new[] { Leaf(4, 2, 3, 5) });
        var frozen = new Variable(new Rng(5).Uniform(new[] { 5 }, 0.5, 1.5));
        GradCheck.Assert(v => F.LayerNorm(v[0], v[1], v[2]), new[] { Leaf(6, 4, 5), frozen, Leaf(7, 5) });
    }

    // Single-channel RMS groups (y ≈ sign(x)·w, with a kink of width √eps at 0) are left to the float64 kernel tests:
    // a central difference with step 1e-2 cannot resolve them.
    [Theory]
    [InlineData(2)]
    [InlineData(9)]
    public void RmsNormGradientsForInputAndWeight(int d)
        => GradCheck.Assert(v => F.RmsNorm(v[0], v[1]), new[] { Leaf(8, 2, 2, d), Weight(9, d) });

    [Theory]
    [InlineData(8, 8)]
    [InlineData(12, 4)]
    [InlineData(6, 2)]
    public void GatedRmsNormGradientsForInputGateAndWeight(int d, int groupSize)
        => GradCheck.Assert(v => F.GatedRmsNorm(v[0], v[1], v[2], groupSize), new[] { Leaf(10, 3, d), Leaf(11, 3, d), Weight(12, d) });

    [Fact]
    public void GatedRmsNormGateOnlyGradient()
    {
        var x = new Variable(new Rng(13).Normal(new[] { 2, 6 }));
        GradCheck.Assert(v => F.GatedRmsNorm(v[0], v[1], v[2], 3), new[] { x, Leaf(14, 2, 6), new Variable(Tensor.Ones(new[] { 6 })) });
    }
}
