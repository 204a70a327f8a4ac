using Ssm.Kernels;

namespace Ssm.Tests;

/// <summary>Finite-difference checks of F.LinearScan, F.ActivationGrad and F.MemoryChunkUpdate.</summary>
public sealed class NeuralMemoryGradTests
{
    private static Variable Leaf(Tensor t) => new(t, requiresGrad: true);

    [Theory]
    [InlineData(false, true)]
    [InlineData(false, false)]
    [InlineData(true, false)]
    public void LinearScanGradientsMatchFiniteDifferences(bool reverse, bool withH0)
    {
        var rng = new Rng(reverse ? 3 : withH0 ? 1 : 2);
        var inputs = new List<Variable>
        {
            Leaf(rng.Uniform(new[] { 2, 6, 3 }, -0.9, 0.9)),
            Leaf(rng.Normal(new[] { 2, 6, 3 })),
        };
        if (withH0) inputs.Add(Leaf(rng.Normal(new[] { 2, 3 })));
        GradCheck.Assert(v => F.LinearScan(v[0], v[1], withH0 ? v[2] : null, reverse), inputs.ToArray());
    }

    [Theory]
    [InlineData(UnaryOp.Silu)]
    [InlineData(UnaryOp.Gelu)]
    public void ActivationGradGradientsMatchFiniteDifferences(UnaryOp op)
    {
        var rng = new Rng(4);
        var inputs = new[] { Leaf(rng.Uniform(new[] { 3, 5 }, -3, 3)), Leaf(rng.Normal(new[] { 3, 5 })) };
        GradCheck.Assert(v => F.ActivationGrad(op, v[0], v[1]), inputs, eps: 1e-3);
    }

    [Fact]
    public void MemoryChunkUpdateGradientsMatchFiniteDifferences()
    {
        var rng = new Rng(5);
        var inputs = new[]
        {
            Leaf(rng.Normal(new[] { 2, 3, 4 })), Leaf(rng.Normal(new[] { 2, 3, 4 })), Leaf(rng.Normal(new[] { 2, 2, 3, 4 })),
            Leaf(rng.Uniform(new[] { 2 }, 0.5, 1)), Leaf(rng.Uniform(new[] { 2 }, 0, 2)), Leaf(rng.Uniform(new[] { 2 }, 0, 1)),
        };
        GradCheck.Assert(v =>
        {
            var (m, s) = F.MemoryChunkUpdate(v[0], v[1], v[2], v[3], v[4], v[5]);
            return F.Concat(new[] { F.Reshape(m, -1), F.Reshape(s, -1) }, 0);
        }, inputs);
        // Only one output used: the other's gradient counts as zero.
        GradCheck.Assert(v => F.MemoryChunkUpdate(v[0], v[1], v[2], v[3], v[4], v[5]).M, inputs);
    }
}
