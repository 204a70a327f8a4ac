using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class Conv1dGradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);

    [Theory]
    [InlineData(4, true)]
    [InlineData(4, false)]
    [InlineData(1, true)]
    [InlineData(6, false)] // wider than the sequence
    public void GradientsForInputWeightAndBias(int width, bool silu)
        => GradCheck.Assert(v => F.CausalConv1d(v[0], v[1], v[2], silu), new[] { Leaf(1, 2, 5, 3), Leaf(2, 3, width), Leaf(3, 3) });

    [Fact]
    public void GradientsWithoutBiasAndFromAnInitialState()
    {
        GradCheck.Assert(v => F.CausalConv1d(v[0], v[1], silu: true), new[] { Leaf(4, 2, 4, 3), Leaf(5, 3, 3) });
        var state = new Rng(6).Normal(new[] { 2, 3, 3 });
        GradCheck.Assert(v => F.CausalConv1d(v[0], v[1], v[2], silu: true, initialState: state),
            new[] { Leaf(7, 2, 4, 3), Leaf(8, 3, 3), Leaf(9, 3) });
    }

    [Fact]
    public void FrozenWeightGetsNoGradientButInputDoes()
    {
        var x = Leaf(10, 1, 6, 2);
        var w = new Variable(new Rng(11).Normal(new[] { 2, 4 }));
        GradCheck.Assert(v => F.CausalConv1d(v[0], v[1], silu: true), new[] { x, w });
        Assert.Null(w.Grad);
    }
}
