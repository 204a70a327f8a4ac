using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class GluGradTests
{
    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    public void GluGradientsMatchFiniteDifferences(int dim)
    {
        var x = new Variable(new Rng(1).Normal(new[] { 2, 4, 6 }), requiresGrad: true);
        var bias = new Variable(new Rng(2).Normal(new[] { dim == 1 ? 4 : 6 }), requiresGrad: true);
        GradCheck.Assert(v => F.Glu(v[0], v[1], dim), new[] { x, bias });
        GradCheck.Assert(v => F.Glu(v[0], dim: dim), new[] { x });
    }
}
