using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class SoftmaxGradTests
{
    private static Variable Leaf(int seed, double std, params int[] shape) => new(new Rng(seed).Normal(shape, 0, std), requiresGrad: true);

    [Fact]
    public void SoftmaxGradient()
    {
        GradCheck.Assert(v => F.Softmax(v[0]), new[] { Leaf(1, 1, 3, 7) });
        GradCheck.Assert(v => F.Softmax(v[0]), new[] { Leaf(2, 2, 2, 3, 5) });
    }

    [Fact]
    public void LogSoftmaxGradient()
    {
        GradCheck.Assert(v => F.LogSoftmax(v[0]), new[] { Leaf(3, 1, 3, 7) });
        GradCheck.Assert(v => F.LogSoftmax(v[0]), new[] { Leaf(4, 2, 2, 3, 5) });
    }

    [Fact]
    public void LogSoftmaxIsLogOfSoftmax()
    {
        var x = Leaf(5, 3, 4, 9);
        var a = F.LogSoftmax(x).Data.ToArray();
        var b = F.Log(F.Softmax(x)).Data.ToArray();
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 4);
        // Composition: softmax feeding a weighted sum over the last dim.
        GradCheck.Assert(v => F.Sum(F.Softmax(v[0]) * v[0], -1), new[] { x });
    }
}
