using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class AttentionGradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);

    public static TheoryData<string> Masks => new() { "causal", "sliding3", "lambda2x3" };

    private static AttentionMask Mask(string name) => name switch
    {
        "causal" => AttentionMask.Causal,
        "sliding3" => AttentionMask.SlidingWindow(3),
        "lambda2x3" => AttentionMask.LambdaShaped(2, 3),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Masks))]
    public void AttentionGradientsForQueryKeyValueWithGroupedHeads(string mask)
    {
        // 4 query heads share 2 kv heads; Dv ≠ D.
        var inputs = new[] { Leaf(1, 1, 4, 8, 4), Leaf(2, 1, 2, 8, 4), Leaf(3, 1, 2, 8, 3) };
        GradCheck.Assert(v => F.Attention(v[0], v[1], v[2], Mask(mask)), inputs);
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void AttentionGradientsForAChunkAtAnOffset(string mask)
    {
        // 3 queries at positions 5..7 against 8 keys, one kv head for 2 query heads, an explicit scale.
        var inputs = new[] { Leaf(4, 2, 2, 3, 5), Leaf(5, 2, 1, 8, 5), Leaf(6, 2, 1, 8, 2) };
        GradCheck.Assert(v => F.Attention(v[0], v[1], v[2], Mask(mask), scale: 0.7f, queryOffset: 5), inputs);
    }

    [Fact]
    public void AttentionSkipsGradientsOfFrozenInputs()
    {
        var k = new Variable(new Rng(7).Normal(new[] { 1, 1, 6, 4 }));
        GradCheck.Assert(v => F.Attention(v[0], v[1], v[2], AttentionMask.Causal), new[] { Leaf(8, 1, 2, 6, 4), k, Leaf(9, 1, 1, 6, 4) });
        Assert.Null(k.Grad);
    }

    [Fact]
    public void RopeGradients()
    {
        GradCheck.Assert(v => F.Rope(v[0], 3), new[] { Leaf(10, 1, 2, 5, 6) });
        GradCheck.Assert(v => F.Rope(v[0], 0, 100f, rotaryDim: 4, interleaved: true), new[] { Leaf(11, 2, 1, 3, 7) });
        GradCheck.Assert(v => F.Rope(v[0], new[] { 4, 0, 9 }), new[] { Leaf(12, 1, 2, 3, 4) });
    }

    [Fact]
    public void RopedAttentionGradients()
    {
        GradCheck.Assert(v => F.Attention(F.Rope(v[0], 2), F.Rope(v[1]), v[2], AttentionMask.Causal, queryOffset: 2),
            new[] { Leaf(13, 1, 2, 4, 4), Leaf(14, 1, 1, 6, 4), Leaf(15, 1, 1, 6, 3) });
    }

    [Fact]
    public void LmInfiniteAttentionGradients()
    {
        var inputs = new[] { Leaf(16, 1, 2, 9, 4), Leaf(17, 1, 1, 9, 4), Leaf(18, 1, 1, 9, 3) };
        GradCheck.Assert(v => F.LmInfiniteAttention(v[0], v[1], v[2], globalTokens: 2, localWindow: 3, distanceLimit: 3, ropeBase: 100f), inputs);
        var chunk = new[] { Leaf(19, 1, 2, 2, 4), Leaf(20, 1, 1, 9, 4), Leaf(21, 1, 1, 9, 3) };
        GradCheck.Assert(v => F.LmInfiniteAttention(v[0], v[1], v[2], 2, 3, distanceLimit: 3, ropeBase: 100f, queryOffset: 7), chunk);
    }

    /// <summary>
    /// LM-Infinite's rule written out: keys in the local window use RoPE at the true positions; global keys beyond it use
    /// the query rotated to d = min(limit, Lk − 1) and the un-rotated key; float64 softmax.
    /// </summary>
    [Theory]
    [InlineData(12, 12, 0, 4)]
    [InlineData(3, 12, 9, 4)]
    [InlineData(12, 12, 0, 100)]
    public void LmInfiniteAttentionScoresFarGlobalKeysAtTheDistanceLimit(int lq, int lk, int offset, int limit)
    {
        const int g = 2, l = 4, d = 6, dv = 3;
        var q = new Rng(22).Normal(new[] { 1, 2, lq, d });
        var k = new Rng(23).Normal(new[] { 1, 1, lk, d });
        var v = new Rng(24).Normal(new[] { 1, 1, lk, dv });
        var y = F.LmInfiniteAttention(new Variable(q), new Variable(k), new Variable(v), g, l, limit, queryOffset: offset).Data.ToArray();

        int distance = Math.Min(limit, lk - 1);
        float[] qr = Rope.Apply(q, offset).ToArray(), kr = Rope.Apply(k).ToArray(), ka = k.ToArray(), va = v.ToArray();
        float[] qFar = Rope.Apply(q, Enumerable.Repeat(distance, lq).ToArray()).ToArray();
        var mask = AttentionMask.LambdaShaped(g, l);
        double scale = 1 / Math.Sqrt(d);
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < lq; i++)
            {
                int pos = offset + i, row = h * lq + i;
                var s = new double[lk];
                for (int j = 0; j < lk; j++)
                {
                    s[j] = double.NegativeInfinity;
                    if (!mask.IsVisible(pos, j)) continue;
                    bool far = pos - j >= l;
                    double dot = 0;
                    for (int e = 0; e < d; e++) dot += far ? (double)qFar[row * d + e] * ka[j * d + e] : (double)qr[row * d + e] * kr[j * d + e];
                    s[j] = dot * scale;
                }
                double max = s.Max(), sum = s.Sum(x => Math.Exp(x - max));
                for (int e = 0; e < dv; e++)
                {
                    double o = 0;
                    for (int j = 0; j < lk; j++) o += Math.Exp(s[j] - max) / sum * va[j * dv + e];
                    Assert.Equal(o, y[row * dv + e], 4);
                }
            }
    }

    [Fact]
    public void LmInfiniteWithoutDistanceLimitIsRopeThenLambdaMask()
    {
        var q = new Rng(25).Normal(new[] { 1, 2, 10, 4 });
        var k = new Rng(26).Normal(new[] { 1, 2, 10, 4 });
        var v = new Rng(27).Normal(new[] { 1, 2, 10, 4 });
        var a = F.LmInfiniteAttention(new Variable(q), new Variable(k), new Variable(v), 2, 3).Data.ToArray();
        var b = Attention.Forward(Rope.Apply(q), Rope.Apply(k), v, AttentionMask.LambdaShaped(2, 3), 0.5f).Output.ToArray();
        Assert.Equal(b, a);
        Assert.Throws<ArgumentOutOfRangeException>(() => F.LmInfiniteAttention(new Variable(q), new Variable(k), new Variable(v), 2, 3, -1));
    }
}
