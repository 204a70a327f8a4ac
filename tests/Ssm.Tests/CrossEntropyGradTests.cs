using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class CrossEntropyGradTests
{
    private static Variable Logits(int seed, params int[] shape) => new(new Rng(seed).Normal(shape, 0, 2), requiresGrad: true);

    [Theory]
    [InlineData("mean", 0f)]
    [InlineData("sum", 0f)]
    [InlineData("none", 0f)]
    [InlineData("mean", 0.1f)]
    public void LogitsGradientMatchesFiniteDifferences(string reduction, float smoothing)
    {
        var targets = Tensor.From(new[] { 2, -100, 0, 6, 3, 6 }, new[] { 6 });
        var logits = Logits(1, 6, 7);
        GradCheck.Assert(v => F.CrossEntropy(v[0], targets, reduction: reduction, labelSmoothing: smoothing), new[] { logits }, maxElements: 42);
        var loss = F.CrossEntropy(logits, targets, reduction: reduction);
        Assert.Equal(reduction == "none" ? new[] { 6 } : Array.Empty<int>(), loss.Shape.ToArray());
    }

    [Fact]
    public void BatchedLogitsWithInt64TargetsAndCustomIgnoreIndex()
    {
        var targets = Tensor.From(new long[] { 1, 0, 4, 4, 0, 2 }, new[] { 2, 3 });
        GradCheck.Assert(v => F.CrossEntropy(v[0], targets, ignoreIndex: 0), new[] { Logits(2, 2, 3, 5) }, maxElements: 30);
    }

    [Fact]
    public void LossMatchesLogSoftmaxComposition()
    {
        var logits = Logits(3, 4, 5);
        var targets = new[] { 1, 4, -100, 0 };
        var fused = F.CrossEntropy(logits, Tensor.From(targets, new[] { 4 })).Item();
        var logp = F.LogSoftmax(logits).Data.ToArray();
        double expected = -(logp[0 * 5 + 1] + logp[1 * 5 + 4] + logp[3 * 5 + 0]) / 3;
        Assert.Equal(expected, fused, 5);
    }

    [Fact]
    public void AllIgnoredBatchGivesZeroLossAndZeroGradient()
    {
        var logits = Logits(4, 3, 5);
        var loss = F.CrossEntropy(logits, Tensor.From(new[] { -100, -100, -100 }, new[] { 3 }));
        Assert.Equal(0f, loss.Item());
        loss.Backward();
        Assert.All(logits.Grad!.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void BadReductionIsRejected()
        => Assert.Throws<ArgumentException>(() => F.CrossEntropy(Logits(5, 2, 3), Tensor.From(new[] { 0, 1 }, new[] { 2 }), reduction: "avg"));
}
