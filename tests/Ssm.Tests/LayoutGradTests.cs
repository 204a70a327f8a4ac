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
}
