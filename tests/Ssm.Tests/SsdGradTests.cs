using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class SsdGradTests
{
    private static Variable Leaf(Tensor t) => new(t, requiresGrad: true);

    /// <summary>x, dt, a, B, C, D, h0 as leaves (Δ ∈ [0.1, 0.6] and a ∈ [−1.5, −0.3] stay valid under the ±0.01 probe).</summary>
    private static Variable[] Inputs(int batch, int length, int heads, int p, int groups, int n, int seed)
    {
        var rng = new Rng(seed);
        return new[]
        {
            Leaf(rng.Normal(new[] { batch, length, heads, p })),
            Leaf(rng.Uniform(new[] { batch, length, heads }, 0.1, 0.6)),
            Leaf(rng.Uniform(new[] { heads }, -1.5, -0.3)),
            Leaf(rng.Normal(new[] { batch, length, groups, n })),
            Leaf(rng.Normal(new[] { batch, length, groups, n })),
            Leaf(rng.Normal(new[] { heads })),
            Leaf(rng.Normal(new[] { batch, heads, p, n })),
        };
    }

    /// <summary>y and the final state flattened into one output, so one backward sees both gradients.</summary>
    private static Variable Both((Variable Y, Variable FinalState) r) => F.Concat(new[] { F.Reshape(r.Y, -1), F.Reshape(r.FinalState, -1) }, 0);

    public static TheoryData<int, int, int, int, int, int> Sizes => new()
    {
        // batch, length, headdim, groups, state, chunk (2 heads)
        { 1, 5, 2, 1, 3, 2 },
        { 2, 9, 3, 2, 4, 4 },
        { 2, 7, 3, 1, 2, 3 },
        { 1, 6, 2, 2, 3, 6 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void SsdScanGradientsOfEveryInputMatchFiniteDifferences(int batch, int length, int p, int groups, int n, int chunk)
    {
        var inputs = Inputs(batch, length, 2, p, groups, n, seed: 10 * length + chunk);
        GradCheck.Assert(v => Both(F.SsdScan(v[0], v[1], v[2], v[3], v[4], v[5], v[6], chunk)), inputs, maxElements: 24);
    }

    [Fact]
    public void SsdScanGradientsWithOnlyOneOutputUsedAndNoOptionalInputs()
    {
        var inputs = Inputs(2, 7, 2, 3, 1, 3, seed: 3)[..5];
        GradCheck.Assert(v => F.SsdScan(v[0], v[1], v[2], v[3], v[4], chunk: 3).Y, inputs, maxElements: 24);
        GradCheck.Assert(v => F.SsdScan(v[0], v[1], v[2], v[3], v[4], chunk: 3).FinalState, inputs, maxElements: 24);
    }

    [Fact]
    public void SsdScanSkipsGradientsOfInputsThatDoNotNeedThem()
    {
        var all = Inputs(1, 5, 2, 2, 1, 2, seed: 4);
        var x = new Variable(all[0].Data);
        var (y, final) = F.SsdScan(x, all[1], all[2], all[3], all[4], chunk: 2);
        F.Concat(new[] { F.Reshape(y, -1), F.Reshape(final, -1) }, 0).Backward(Tensor.Ones(new[] { y.Data.Length + final.Data.Length }));
        Assert.Null(x.Grad);
        Assert.NotNull(all[1].Grad);
        Assert.NotNull(all[3].Grad);

        using (Autograd.NoGrad())
        {
            var (y2, final2) = F.SsdScan(all[0], all[1], all[2], all[3], all[4], chunk: 2);
            Assert.False(y2.RequiresGrad);
            Assert.False(final2.RequiresGrad);
        }
    }

    [Theory]
    [InlineData(1, 6, 3, 2, true)]
    [InlineData(2, 9, 4, 3, true)]
    [InlineData(2, 5, 2, 4, false)]
    public void SelectiveScanGradientsOfEveryInputMatchFiniteDifferences(int batch, int length, int channels, int state, bool extras)
    {
        var rng = new Rng(length * 7 + state);
        var inputs = new List<Variable>
        {
            Leaf(rng.Normal(new[] { batch, length, channels })),
            Leaf(rng.Uniform(new[] { batch, length, channels }, 0.1, 0.6)),
            Leaf(rng.Uniform(new[] { channels, state }, -2, -0.3)),
            Leaf(rng.Normal(new[] { batch, length, state })),
            Leaf(rng.Normal(new[] { batch, length, state })),
        };
        if (extras)
        {
            inputs.Add(Leaf(rng.Normal(new[] { channels })));
            inputs.Add(Leaf(rng.Normal(new[] { batch, length, channels })));
            inputs.Add(Leaf(rng.Normal(new[] { batch, channels, state })));
        }
        GradCheck.Assert(v => Both(extras
            ? F.SelectiveScan(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
            : F.SelectiveScan(v[0], v[1], v[2], v[3], v[4])), inputs.ToArray(), maxElements: 24);
    }
}
