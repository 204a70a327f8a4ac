using Ssm.Kernels;

namespace Ssm.Tests;

/// <summary>Finite-difference checks of the differentiable S4/S4D kernel ops (F.Vandermonde, F.Cauchy, F.WoodburyRank1).</summary>
public sealed class S4KernelGradTests
{
    private static float[] Modes(int h, int n2, int seed, double reLo, double reHi)
    {
        var rng = new Rng(seed);
        var a = new float[h * n2 * 2];
        for (int m = 0; m < h * n2; m++)
        {
            a[2 * m] = (float)rng.Uniform(reLo, reHi);
            a[2 * m + 1] = (float)rng.Uniform(-1, 1);
        }
        return a;
    }

    [Fact]
    public void VandermondeGradientsMatchFiniteDifferences()
    {
        const int h = 2, n2 = 3, length = 12;
        var dtA = new Variable(Tensor.From(Modes(h, n2, 1, -0.5, -0.05), h, n2, 2), requiresGrad: true);
        var c = new Variable(new Rng(2).Normal(new[] { h, n2, 2 }), requiresGrad: true);
        GradCheck.Assert(v => F.Vandermonde(v[0], v[1], length), new[] { dtA, c }, eps: 1e-3);
        // Only one input requiring a gradient.
        var fixedC = new Variable(c.Data);
        GradCheck.Assert(v => F.Vandermonde(v[0], v[1], length), new[] { dtA, fixedC }, eps: 1e-3);
    }

    [Fact]
    public void CauchyAndWoodburyGradientsMatchFiniteDifferences()
    {
        const int r = 4, h = 2, n2 = 3, length = 10;
        // Poles at least 0.5 from the (imaginary) nodes, so that central differences with eps = 1e-2 are accurate.
        var w = new Variable(Tensor.From(Modes(h, n2, 3, -1.5, -0.5), h, n2, 2), requiresGrad: true);
        var v = new Variable(new Rng(4).Normal(new[] { r, h, n2, 2 }, 0, 0.3), requiresGrad: true);
        var nodes = Enumerable.Range(0, length / 2 + 1).SelectMany(k => new[] { 0f, (float)(-2 * Math.Tan(Math.PI * k / length)) })
            .ToArray();
        nodes[^1] = -50f; // keep the test away from the ~1e16 Nyquist node, whose sums are ~1e-16
        var z = Tensor.From(nodes, length / 2 + 1, 2);
        GradCheck.Assert(x => F.Cauchy(x[0], x[1], z), new[] { v, w });
        var scale = new Rng(5).Normal(new[] { length / 2 + 1, 2 });
        GradCheck.Assert(x => F.WoodburyRank1(F.Cauchy(x[0], x[1], z), scale), new[] { v, w });
    }
}
