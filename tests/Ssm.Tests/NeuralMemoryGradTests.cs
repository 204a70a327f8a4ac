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

    /// <summary>
    /// The clipped backward (maxStateGradNorm) is the exact gradient with each row's upstream pair (gM, gS) scaled to
    /// norm ≤ c: for the loss Σ A⊙M′ + Σ B⊙S′ every input's gradient is the exact one times min(1, c/‖(A_r, B_r)‖).
    /// </summary>
    [Fact]
    public void ClippedMemoryChunkUpdateBackwardScalesTheExactGradientPerRow()
    {
        var rng = new Rng(6);
        var data = new[]
        {
            rng.Normal(new[] { 3, 2, 4 }), rng.Normal(new[] { 3, 2, 4 }), rng.Normal(new[] { 3, 2, 2, 4 }),
            rng.Uniform(new[] { 3 }, 0.5, 1), rng.Uniform(new[] { 3 }, 0, 2), rng.Uniform(new[] { 3 }, 0, 1),
        };
        var a = rng.Normal(new[] { 3, 2, 4 });
        var b = rng.Normal(new[] { 3, 2, 4 });
        // Upstream norm per row ‖(A_r, B_r)‖; the bound halfway between the two smallest clamps two rows, not the third.
        var av = a.ToArray();
        var bv = b.ToArray();
        var norms = Enumerable.Range(0, 3).Select(r => Math.Sqrt(Enumerable.Range(r * 8, 8).Sum(i => (double)av[i] * av[i] + (double)bv[i] * bv[i]))).ToArray();
        var sorted = norms.Order().ToArray();
        float c = (float)((sorted[0] + sorted[1]) / 2);
        var factors = norms.Select(n => Math.Min(1, c / n)).ToArray();
        Assert.Equal(2, factors.Count(f => f < 1));
        Tensor[] Grads(float? c)
        {
            var v = data.Select(Leaf).ToArray();
            var (m, s) = F.MemoryChunkUpdate(v[0], v[1], v[2], v[3], v[4], v[5], c);
            F.Add(F.Sum(F.Mul(m, new Variable(a))), F.Sum(F.Mul(s, new Variable(b)))).Backward();
            return v.Select(x => x.Grad!).ToArray();
        }
        var exact = Grads(null);
        var clipped = Grads(c);
        for (int i = 0; i < exact.Length; i++)
        {
            int perRow = exact[i].Length / 3;
            var expected = exact[i].ToArray().Select((g, j) => (float)(g * factors[j / perRow])).ToArray();
            var actual = clipped[i].ToArray();
            for (int j = 0; j < expected.Length; j++)
                Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5 + 1e-5 * Math.Abs(expected[j]), $"input {i}, element {j}: {actual[j]} vs {expected[j]}");
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => F.MemoryChunkUpdate(Leaf(data[0]), Leaf(data[1]), Leaf(data[2]), Leaf(data[3]), Leaf(data[4]), Leaf(data[5]), -1f));
    }
}
