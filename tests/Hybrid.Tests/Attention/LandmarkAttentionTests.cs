using Ssm.Kernels;

namespace Ssm.Hybrid.Tests.Attention;

public sealed class LandmarkAttentionTests
{
    private const int B = 2, Hq = 4, Hkv = 2, D = 5, Block = 4;

    /// <summary>The grouped softmax straight from the paper's definition, in double, with optional top-k retrieval.</summary>
    private static float[] Naive(float[] q, float[] k, float[] v, int lq, int lk, int offset, int? topK)
    {
        double scale = 1 / Math.Sqrt(D);
        var o = new float[B * Hq * lq * D];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < Hq; h++)
            {
                int kh = h / (Hq / Hkv);
                double Score(int i, int j)
                {
                    double s = 0;
                    for (int e = 0; e < D; e++) s += q[((b * Hq + h) * lq + i) * D + e] * k[((b * Hkv + kh) * lk + j) * D + e];
                    return s * scale;
                }
                double V(int j, int e) => v[((b * Hkv + kh) * lk + j) * D + e];
                for (int r = 0; r < lq; r++)
                {
                    int i = offset + r, gi = i / Block;
                    var current = Enumerable.Range(gi * Block, i - gi * Block + 1).Where(j => j % Block != Block - 1).ToList();
                    var earlier = Enumerable.Range(0, gi).ToList();
                    if (topK is int kk)
                        earlier = earlier.OrderByDescending(g => Score(r, g * Block + Block - 1)).ThenBy(g => g).Take(kk).ToList();
                    var top = current.Select(j => Score(r, j)).Concat(earlier.Select(g => Score(r, g * Block + Block - 1))).ToList();
                    double max = top.Max(), z = top.Sum(s => Math.Exp(s - max));
                    var acc = new double[D];
                    for (int n = 0; n < current.Count; n++)
                        for (int e = 0; e < D; e++) acc[e] += Math.Exp(top[n] - max) / z * V(current[n], e);
                    for (int n = 0; n < earlier.Count; n++)
                    {
                        double gate = Math.Exp(top[current.Count + n] - max) / z;
                        var members = Enumerable.Range(earlier[n] * Block, Block - 1).ToList();
                        var s = members.Select(j => Score(r, j)).ToList();
                        double m = s.Max(), zz = s.Sum(x => Math.Exp(x - m));
                        for (int t = 0; t < members.Count; t++)
                            for (int e = 0; e < D; e++) acc[e] += gate * Math.Exp(s[t] - m) / zz * V(members[t], e);
                    }
                    for (int e = 0; e < D; e++) o[((b * Hq + h) * lq + r) * D + e] = (float)acc[e];
                }
            }
        return o;
    }

    private static (Tensor Q, Tensor K, Tensor V) Inputs(int length, int seed)
    {
        var rng = new Rng(seed);
        return (rng.Normal(new[] { B, Hq, length, D }), rng.Normal(new[] { B, Hkv, length, D }), rng.Normal(new[] { B, Hkv, length, D }));
    }

    [Theory]
    [InlineData(11, null)]
    [InlineData(16, null)]
    [InlineData(19, 1)]
    [InlineData(19, 2)]
    public void GroupedSoftmaxMatchesThePaperDefinition(int length, int? topK)
    {
        var (q, k, v) = Inputs(length, 3);
        using var noGrad = Autograd.NoGrad();
        var y = LandmarkAttention.Forward(new Variable(q), new Variable(k), new Variable(v), Block, topK: topK).Data.ToArray();
        Close.All(Naive(q.ToArray(), k.ToArray(), v.ToArray(), length, length, 0, topK), y, 1e-4, 1e-5, $"L={length} top-k {topK}");

        // Queries continuing at an offset see the same keys.
        int offset = 6;
        var tail = LandmarkAttention.Forward(new Variable(Layout.Narrow(q, 2, offset, length - offset)), new Variable(k), new Variable(v), Block,
            queryOffset: offset, topK: topK).Data.ToArray();
        Close.All(Naive(Layout.Narrow(q, 2, offset, length - offset).ToArray(), k.ToArray(), v.ToArray(), length - offset, length, offset, topK),
            tail, 1e-4, 1e-5, "offset");
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var (q, k, v) = Inputs(10, 4);
        var inputs = new[] { new Variable(q, true), new Variable(k, true), new Variable(v, true) };
        GradCheck.Assert(x => LandmarkAttention.Forward(x[0], x[1], x[2], Block), inputs, eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxElements: 20);
    }

    [Fact]
    public void LandmarksAreInsertedAfterEveryBlockOfRegularTokens()
    {
        Assert.Equal(new[] { 1, 2, 3, 99, 4, 5, 6, 99, 7 }, LandmarkAttention.InsertLandmarks(new[] { 1, 2, 3, 4, 5, 6, 7 }, 4, 99));
        Assert.True(LandmarkAttention.IsLandmarkPosition(3, 4));
        Assert.True(LandmarkAttention.IsLandmarkPosition(7, 4));
        Assert.False(LandmarkAttention.IsLandmarkPosition(4, 4));
    }

    private static AttentionConfig Layer(int? topK) => new()
    {
        DModel = 12, NumHeads = 4, NumHeadsKv = 2, HeadDim = 3, RotaryEmbDim = 2, LandmarkBlockSize = Block, LandmarkTopK = topK,
    };

    [Theory]
    [InlineData(null)]
    [InlineData(1)]
    public void LayerStepsEqualPrefillWithTheSameRetrieval(int? topK)
    {
        var layer = new MultiHeadAttention(Layer(topK), new Rng(5), Device.Cpu);
        var x = new Rng(6).Normal(new[] { B, 17, 12 });
        using var noGrad = Autograd.NoGrad();
        using var whole = layer.AllocateCache(B);
        var prefill = layer.Forward(new Variable(x), whole).Data.ToArray();
        if (topK is null) Close.All(layer.Forward(new Variable(x)).Data.ToArray(), prefill, 1e-4, 1e-5, "training form vs prefill");

        using var cache = layer.AllocateCache(B);
        var joined = new float[prefill.Length];
        int at = 0;
        foreach (int len in new[] { 5, 1, 1, 7, 1, 1, 1 })
        {
            var y = len == 1
                ? layer.Step(cache, Layout.Narrow(x, 1, at, 1).Reshape(B, 12)).ToArray()
                : layer.Forward(new Variable(Layout.Narrow(x, 1, at, len)), cache).Data.ToArray();
            for (int b = 0; b < B; b++) Array.Copy(y, b * len * 12, joined, (b * 17 + at) * 12, len * 12);
            at += len;
        }
        Close.All(prefill, joined, 1e-4, 1e-5, $"top-k {topK}: chunks and steps vs one prefill");
    }

    [Fact]
    public void RetrievalChangesTheOutputOnlyWhenBlocksAreDropped()
    {
        var all = new MultiHeadAttention(Layer(null), new Rng(5), Device.Cpu);
        var one = new MultiHeadAttention(Layer(1), new Rng(5), Device.Cpu);
        var x = new Rng(7).Normal(new[] { B, 13, 12 });
        using var noGrad = Autograd.NoGrad();
        using var c1 = all.AllocateCache(B);
        using var c2 = one.AllocateCache(B);
        var a = all.Forward(new Variable(x), c1).Data.ToArray();
        var b = one.Forward(new Variable(x), c2).Data.ToArray();
        // Blocks 0 and 1 end at 3 and 7: up to position 7 at most one earlier block exists, so top-1 changes nothing.
        for (int batch = 0; batch < B; batch++)
        {
            Close.All(a.AsSpan(batch * 13 * 12, 8 * 12), b.AsSpan(batch * 13 * 12, 8 * 12), 1e-5, 1e-6, "before the second block");
            Assert.NotEqual(a.AsSpan((batch * 13 + 8) * 12, 5 * 12).ToArray(), b.AsSpan((batch * 13 + 8) * 12, 5 * 12).ToArray());
        }
    }

    [Fact]
    public void BadArgumentsAreClearErrors()
    {
        var (q, k, v) = Inputs(8, 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => LandmarkAttention.Forward(new Variable(q), new Variable(k), new Variable(v), 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => LandmarkAttention.Forward(new Variable(q), new Variable(k), new Variable(v), 4, topK: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LandmarkAttention.Forward(new Variable(q), new Variable(k), new Variable(v), 4, queryOffset: 1));
        Assert.Contains("landmark_block_size", Assert.Throws<ArgumentException>(() =>
            new MultiHeadAttention(Layer(null) with { Mask = AttentionMask.SlidingWindow(4) }, new Rng(1))).Message);
        Assert.Contains("landmark_top_k", Assert.Throws<ArgumentException>(() =>
            new MultiHeadAttention(Layer(2) with { LandmarkBlockSize = 0 }, new Rng(1))).Message);
    }
}
