using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class CodebookAttentionGradTests
{
    private static Variable Leaf(Tensor t) => new(t, requiresGrad: true);

    /// <summary>Codebook [S, D] or [H, S, D], keys quantized to it, codes; q and v random.</summary>
    private static (Tensor Q, Tensor KHat, Tensor V, Tensor Codes, Tensor Codebook) Inputs(int H, int T, int D, int V, int S, bool perHead, int seed)
    {
        var rng = new Rng(seed);
        var codebook = perHead ? rng.Normal(new[] { H, S, D }) : rng.Normal(new[] { S, D });
        var (codes, kHat) = VectorQuantize.Nearest(rng.Normal(new[] { 1, H, T, D }), codebook);
        return (rng.Normal(new[] { 1, H, T, D }), kHat, rng.Normal(new[] { 1, H, T, V }), codes, codebook);
    }

    [Theory]
    [InlineData(3, true, false)]
    [InlineData(4, true, true)]
    [InlineData(3, false, false)]
    [InlineData(20, true, false)]
    public void GradientsWithRespectToQueriesQuantizedKeysAndValues(int block, bool causal, bool perHead)
    {
        var (q, kHat, v, codes, codebook) = Inputs(2, 11, 4, 3, 5, perHead, 1);
        GradCheck.Assert(x => F.CodebookAttention(x[0], x[1], x[2], codes, codebook, block, causal, scale: 0.8f),
            new[] { Leaf(q), Leaf(kHat), Leaf(v) }, eps: 1e-2, atol: 1e-3, rtol: 1e-2);
    }

    [Fact]
    public void OnlyTheInputsThatRequireGradientsGetThem()
    {
        var (q, kHat, v, codes, codebook) = Inputs(1, 7, 3, 2, 4, false, 2);
        var qv = Leaf(q);
        var kv = new Variable(kHat);
        var vv = Leaf(v);
        F.Sum(F.CodebookAttention(qv, kv, vv, codes, codebook, 2)).Backward();
        Assert.NotNull(qv.Grad);
        Assert.Null(kv.Grad);
        Assert.NotNull(vv.Grad);
    }

    [Fact]
    public void StraightThroughPassesTheGradientToTheKeysUnchanged()
    {
        var rng = new Rng(3);
        var codebook = rng.Normal(new[] { 6, 4 });
        var keys = Leaf(rng.Normal(new[] { 2, 5, 4 }));
        var (quantized, codes) = F.VectorQuantize(keys, codebook);
        var expected = VectorQuantize.Nearest(keys.Data, codebook);
        Assert.Equal(expected.Codes.ToInt32Array(), codes.ToInt32Array());
        Assert.Equal(expected.Quantized.ToArray(), quantized.Data.ToArray());
        var w = rng.Normal(new[] { 2, 5, 4 });
        F.Sum(F.Mul(quantized, new Variable(w))).Backward();
        Assert.Equal(w.ToArray(), keys.Grad!.ToArray());
    }

    [Fact]
    public void KeysReceiveTheWindowGradientThroughTheQuantizer()
    {
        var rng = new Rng(4);
        var codebook = rng.Normal(new[] { 2, 5, 3 });
        var keys = Leaf(rng.Normal(new[] { 1, 2, 9, 3 }));
        var q = rng.Normal(new[] { 1, 2, 9, 3 });
        var v = rng.Normal(new[] { 1, 2, 9, 2 });
        var (kHat, codes) = F.VectorQuantize(keys, codebook);
        var y = F.CodebookAttention(new Variable(q), kHat, new Variable(v), codes, codebook, 2);
        var dy = rng.Normal(y.Shape);
        y.Backward(dy);
        var fwd = CodebookAttention.Forward(q, kHat.Data, v, codes, codebook, 2);
        var direct = CodebookAttention.Backward(dy, q, kHat.Data, v, codes, codebook, fwd, 2);
        Assert.Equal(direct.DK!.ToArray(), keys.Grad!.ToArray());
    }

    [Fact]
    public void CommitmentLossGradient()
    {
        var rng = new Rng(5);
        var codebook = rng.Normal(new[] { 4, 3 });
        var keys = Leaf(rng.Normal(new[] { 2, 6, 3 }));
        var quantized = VectorQuantize.Nearest(keys.Data, codebook).Quantized;
        var loss = F.CommitmentLoss(keys, quantized, 0.25f);
        var k = keys.Data.ToArray();
        var kh = quantized.ToArray();
        double expected = 0;
        for (int i = 0; i < k.Length; i++) expected += (k[i] - kh[i]) * (double)(k[i] - kh[i]);
        Assert.Equal(0.25 * expected / 12, loss.Item(), 5);
        GradCheck.Assert(x => F.CommitmentLoss(x[0], quantized, 0.25f), new[] { keys });
    }
}
