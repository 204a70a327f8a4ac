using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class LayoutGradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);

    [Fact]
    public void PermuteNarrowSplitConcatGradients()
    {
        var a = Leaf(1, 2, 3, 4);
        var b = Leaf(2, 2, 2, 4);
        GradCheck.Assert(v => F.Permute(v[0], 2, 0, 1), new[] { a });
        GradCheck.Assert(v => F.Transpose(v[0], 1, 2), new[] { a });
        GradCheck.Assert(v => F.Narrow(v[0], 1, 1, 2), new[] { a });
        GradCheck.Assert(v => F.Split(v[0], new[] { 1, 3 }, -1)[1], new[] { a });
        GradCheck.Assert(v => F.Concat(new[] { v[0], v[1] }, 1), new[] { a, b });
    }

    [Fact]
    public void SplitPiecesUsedInAnyOrderOrTwiceGetTheirGradients()
    {
        var a = Leaf(3, 2, 7, 3);
        GradCheck.Assert(v =>
        {
            var p = F.Split(v[0], new[] { 2, 1, 3, 1 }, 1);
            return F.Concat(new[] { p[2], F.Mul(p[0], p[0]), p[3], p[0] }, 1);
        }, new[] { a });
    }
}
