using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class ReductionsGradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);

    [Fact]
    public void WholeTensorSumAndMeanGradients()
    {
        var x = Leaf(1, 3, 4, 5);
        GradCheck.Assert(v => F.Sum(v[0]), new[] { x });
        GradCheck.Assert(v => F.Mean(v[0]), new[] { x });
        GradCheck.Assert(v => F.Mean(F.Square(v[0])), new[] { x });
        Assert.Empty(F.Sum(x).Shape.ToArray());
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(2, false)]
    [InlineData(-1, true)]
    [InlineData(-3, false)]
    public void SumAndMeanOverADimGradients(int dim, bool keepDim)
    {
        var x = Leaf(2, 3, 4, 5);
        GradCheck.Assert(v => F.Sum(v[0], dim, keepDim), new[] { x });
        GradCheck.Assert(v => F.Mean(v[0], dim, keepDim), new[] { x });
        GradCheck.Assert(v => F.Sum(F.Square(v[0]), dim, keepDim), new[] { x });
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(-1, false)]
    public void MaxGradientGoesToTheArgmax(int dim, bool keepDim)
    {
        // Distinct values at least 0.1 apart, so the argmax is stable under the finite-difference step.
        var values = Enumerable.Range(0, 60).Select(i => (float)((i * 37 % 60) * 0.1 - 3)).ToArray();
        var x = new Variable(Tensor.From(values, 3, 4, 5), requiresGrad: true);
        GradCheck.Assert(v => F.Max(v[0], dim, keepDim), new[] { x }, eps: 1e-2, maxElements: 60);
        var y = F.Max(x, dim, keepDim);
        Assert.Equal(Reductions.ReducedShape(new[] { 3, 4, 5 }, dim, keepDim), y.Shape.ToArray());
    }

    [Fact]
    public void MaxWithoutGradDoesNotRecord()
    {
        var x = new Variable(new Rng(3).Normal(new[] { 2, 3 }));
        Assert.False(F.Max(x, 1).RequiresGrad);
        Assert.Throws<ArgumentOutOfRangeException>(() => F.Sum(x, 2));
    }
}
