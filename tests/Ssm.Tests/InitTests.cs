using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class InitTests
{
    [Fact]
    public void SameSeedSameValuesAndBoundsLikeTorch()
    {
        var w = Init.KaimingUniform(Tensor.Empty(new[] { 64, 16, 2 }), new Rng(3), Math.Sqrt(5));
        var again = Init.KaimingUniform(Tensor.Empty(new[] { 64, 16, 2 }), new Rng(3), Math.Sqrt(5));
        Assert.Equal(w.ToArray(), again.ToArray());
        double bound = 1 / Math.Sqrt(32); // torch.nn.Linear / Conv1d: 1/sqrt(fan_in), fan_in = in·kernel
        var values = w.ToArray();
        Assert.All(values, v => Assert.InRange(v, -bound, bound));
        Assert.True(values.Max() > 0.9 * bound && values.Min() < -0.9 * bound, "samples should fill the range");
        Assert.Equal(32, Init.FanIn(new[] { 64, 16, 2 }));

        // a = 0 (torch's default): bound √6/√fan_in.
        var k = Init.KaimingUniform(Tensor.Empty(new[] { 200, 24 }), new Rng(4)).ToArray();
        Assert.All(k, v => Assert.InRange(v, -Math.Sqrt(6.0 / 24), Math.Sqrt(6.0 / 24)));
        Assert.True(k.Max() > 0.9 * Math.Sqrt(6.0 / 24));

        var weight = Tensor.Empty(new[] { 8, 50 });
        var bias = Tensor.Empty(new[] { 8 });
        Init.LinearDefault(weight, bias, new Rng(5));
        Assert.All(weight.ToArray().Concat(bias.ToArray()), v => Assert.InRange(v, -1 / Math.Sqrt(50), 1 / Math.Sqrt(50)));
        Assert.Throws<ArgumentException>(() => Init.FanIn(new[] { 8 }));
    }

    [Fact]
    public void NormalUniformAndConstants()
    {
        var n = Init.Normal(Tensor.Empty(new[] { 20000 }), new Rng(1), mean: 2, std: 0.5).ToArray();
        Assert.InRange(n.Average(), 2 - 0.02, 2 + 0.02);
        double sd = Math.Sqrt(n.Select(v => (v - 2.0) * (v - 2.0)).Average());
        Assert.InRange(sd, 0.49, 0.51);
        var u = Init.Uniform(Tensor.Empty(new[] { 1000 }), new Rng(2), -3, -1).ToArray();
        Assert.All(u, v => Assert.InRange(v, -3f, -1f));
        Assert.Equal(new[] { 0f, 0f }, Init.Zeros(Tensor.Full(new[] { 2 }, 5f)).ToArray());
        Assert.Equal(new[] { 1f, 1f }, Init.Ones(Tensor.Empty(new[] { 2 })).ToArray());
        Assert.Equal(new[] { 0.25f }, Init.Constant(Tensor.Empty(new[] { 1 }), 0.25f).ToArray());
    }
}
