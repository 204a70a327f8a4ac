using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class EmbeddingGradTests
{
    [Fact]
    public void WeightGradientWithRepeatedIds()
    {
        var weight = new Variable(new Rng(1).Normal(new[] { 6, 4 }), requiresGrad: true);
        var ids = Tensor.From(new[] { 2, 5, 2, 0, 2, 5 }, new[] { 2, 3 });
        GradCheck.Assert(v => F.Embedding(ids, v[0]), new[] { weight }, maxElements: 24);
        Assert.Equal(new[] { 2, 3, 4 }, F.Embedding(ids, weight).Shape.ToArray());
    }

    [Fact]
    public void WeightGradientThroughALossWithInt64Ids()
    {
        // Embedding → sum over the feature dim → squared mean: repeated ids accumulate.
        var weight = new Variable(new Rng(2).Normal(new[] { 5, 3 }), requiresGrad: true);
        var ids = Tensor.From(new long[] { 4, 4, 1, 4, 0 }, new[] { 5 });
        GradCheck.Assert(v => F.Mean(F.Square(F.Sum(F.Embedding(ids, v[0]), -1))), new[] { weight });
        var loss = F.Sum(F.Embedding(ids, weight));
        loss.Backward();
        var grad = weight.Grad!.ToArray();
        float[] counts = { 1, 1, 0, 0, 3 };
        for (int v = 0; v < 5; v++) for (int d = 0; d < 3; d++) Assert.Equal(counts[v], grad[v * 3 + d]);
    }
}
