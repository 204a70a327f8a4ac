namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class AttentionTests
{
    /// <summary>Mask by test name (theory data stays serializable).</summary>
    private static AttentionMask Mask(string name) => name switch
    {
        "full" => AttentionMask.Full,
        "causal" => AttentionMask.Causal,
        "sliding5" => AttentionMask.SlidingWindow(5),
        "sliding1" => AttentionMask.SlidingWindow(1),
        "block4" => AttentionMask.Block(4),
        "block4causal" => AttentionMask.Block(4, causal: true),
        "lambda3x5" => AttentionMask.LambdaShaped(3, 5),
        "lambda0x4" => AttentionMask.LambdaShaped(0, 4),
        "lambdaGlobal3x5" => AttentionMask.LambdaGlobalBranch(3, 5),
        _ => throw new ArgumentException(name),
    };

    private static readonly string[] AllMasks =
        { "full", "causal", "sliding5", "sliding1", "block4", "block4causal", "lambda3x5", "lambda0x4", "lambdaGlobal3x5" };

    /// <summary>One attention problem: shapes, offset and random q, k, v, dO (plus the second q/k pair for the Λ split).</summary>
    private sealed record Case(int B, int Hq, int Hkv, int Lq, int Lk, int D, int Dv, int Offset, float[] Q, float[] K, float[] V, float[] DO,
        float[] Q2, float[] K2)
    {
        public float Scale => 1f / MathF.Sqrt(D);
        public int[] QShape => new[] { B, Hq, Lq, D };
        public int[] KShape => new[] { B, Hkv, Lk, D };
        public int[] VShape => new[] { B, Hkv, Lk, Dv };
        public int[] OShape => new[] { B, Hq, Lq, Dv };

        public static Case Make(int b, int hq, int hkv, int lq, int lk, int d, int dv, int offset, int seed = 1) => new(
            b, hq, hkv, lq, lk, d, dv, offset,
            Data.Normal(b * hq * lq * d, seed), Data.Normal(b * hkv * lk * d, seed + 1), Data.Normal(b * hkv * lk * dv, seed + 2),
            Data.Normal(b * hq * lq * dv, seed + 3), Data.Normal(b * hq * lq * d, seed + 4), Data.Normal(b * hkv * lk * d, seed + 5));

        public static Case Square(int l, int seed = 1) => Make(2, 4, 2, l, l, 13, 9, 0, seed);
    }

    // ---- float64 reference: naive softmax(scale·QKᵀ + mask)·V and its analytic gradient ------------------------------

    private sealed record Reference(double[] O, double[] Lse, double[] Dq, double[] Dk, double[] Dv, double[] Dq2, double[] Dk2);

    /// <summary>
    /// Naive attention in float64. Key j is visible to row i iff <paramref name="visible"/>(offset + i, j); when
    /// <paramref name="useSecondPair"/>(offset + i, j) the score uses (Q2, K2) instead of (Q, K). Gradients of
    /// L = Σ O ⊙ dO from the analytic formulas dS = P ⊙ (dP − rowsum(P ⊙ dP)).
    /// </summary>
    private static Reference Naive(Case c, Func<int, int, bool> visible, Func<int, int, bool>? useSecondPair = null)
    {
        useSecondPair ??= (_, _) => false;
        int group = c.Hq / c.Hkv;
        var o = new double[c.B * c.Hq * c.Lq * c.Dv];
        var lse = new double[c.B * c.Hq * c.Lq];
        var dq = new double[c.Q.Length];
        var dq2 = new double[c.Q.Length];
        var dk = new double[c.K.Length];
        var dk2 = new double[c.K.Length];
        var dv = new double[c.V.Length];
        for (int b = 0; b < c.B; b++)
            for (int h = 0; h < c.Hq; h++)
            {
                int kvh = b * c.Hkv + h / group, bh = b * c.Hq + h;
                for (int i = 0; i < c.Lq; i++)
                {
                    int pos = c.Offset + i, qRow = (bh * c.Lq + i) * c.D;
                    var s = new double[c.Lk];
                    var second = new bool[c.Lk];
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < c.Lk; j++)
                    {
                        s[j] = double.NegativeInfinity;
                        if (!visible(pos, j)) continue;
                        second[j] = useSecondPair(pos, j);
                        float[] qa = second[j] ? c.Q2 : c.Q, ka = second[j] ? c.K2 : c.K;
                        double dot = 0;
                        for (int e = 0; e < c.D; e++) dot += (double)qa[qRow + e] * ka[(kvh * c.Lk + j) * c.D + e];
                        s[j] = dot * c.Scale;
                        max = Math.Max(max, s[j]);
                    }
                    if (double.IsNegativeInfinity(max))
                    {
                        lse[bh * c.Lq + i] = double.NegativeInfinity;
                        continue;
                    }
                    double sum = s.Sum(x => Math.Exp(x - max));
                    double l = max + Math.Log(sum);
                    lse[bh * c.Lq + i] = l;
                    var p = s.Select(x => Math.Exp(x - l)).ToArray();
                    int oRow = (bh * c.Lq + i) * c.Dv;
                    var dp = new double[c.Lk];
                    double rowDot = 0;
                    for (int j = 0; j < c.Lk; j++)
                    {
                        if (p[j] == 0) continue;
                        for (int e = 0; e < c.Dv; e++)
                        {
                            double vv = c.V[(kvh * c.Lk + j) * c.Dv + e];
                            o[oRow + e] += p[j] * vv;
                            dp[j] += c.DO[oRow + e] * vv;
                            dv[(kvh * c.Lk + j) * c.Dv + e] += p[j] * c.DO[oRow + e];
                        }
                        rowDot += p[j] * dp[j];
                    }
                    for (int j = 0; j < c.Lk; j++)
                    {
                        if (p[j] == 0) continue;
                        double ds = p[j] * (dp[j] - rowDot) * c.Scale;
                        float[] qa = second[j] ? c.Q2 : c.Q, ka = second[j] ? c.K2 : c.K;
                        double[] dqa = second[j] ? dq2 : dq, dka = second[j] ? dk2 : dk;
                        for (int e = 0; e < c.D; e++)
                        {
                            dqa[qRow + e] += ds * ka[(kvh * c.Lk + j) * c.D + e];
                            dka[(kvh * c.Lk + j) * c.D + e] += ds * qa[qRow + e];
                        }
                    }
                }
            }
        return new Reference(o, lse, dq, dk, dv, dq2, dk2);
    }

    private static Reference Naive(Case c, AttentionMask mask) => Naive(c, mask.IsVisible);

    private static float[] F32(double[] a) => a.Select(v => (float)v).ToArray();

    private static (AttentionOutput fwd, AttentionGradients grads) Run(Case c, AttentionMask mask, Device dev)
    {
        var q = Tensor.From(c.Q, c.QShape, dev);
        var k = Tensor.From(c.K, c.KShape, dev);
        var v = Tensor.From(c.V, c.VShape, dev);
        var fwd = Attention.Forward(q, k, v, mask, c.Scale, c.Offset);
        var dO = Tensor.From(c.DO, c.OShape, dev);
        return (fwd, Attention.Backward(q, k, v, fwd.Output, fwd.Lse, dO, mask, c.Scale, c.Offset));
    }

    /// <summary>Like Close.All, but −∞ (a row without visible keys) must match −∞ exactly.</summary>
    private static void CloseLse(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(float.IsNegativeInfinity(expected[i]) == float.IsNegativeInfinity(actual[i]),
                $"{what}[{i}]: actual {actual[i]}, expected {expected[i]}");
        static float[] Finite(float[] a) => a.Select(x => float.IsNegativeInfinity(x) ? 0f : x).ToArray();
        Close.All(Finite(expected), Finite(actual), 1e-5, 1e-5, what);
    }

    private static void AssertMatches(Reference r, AttentionOutput fwd, AttentionGradients g, string what)
    {
        Close.All(F32(r.O), fwd.Output.ToArray(), 1e-4, 1e-5, what + " o");
        CloseLse(F32(r.Lse), fwd.Lse.ToArray(), what + " lse");
        Close.All(F32(r.Dq), g.Dq!.ToArray(), 1e-4, 1e-4, what + " dq");
        Close.All(F32(r.Dk), g.Dk!.ToArray(), 1e-4, 1e-4, what + " dk");
        Close.All(F32(r.Dv), g.Dv!.ToArray(), 1e-4, 1e-4, what + " dv");
    }

    // ---- CPU vs the float64 reference ---------------------------------------------------------------------------

    public static TheoryData<string, int> SquareCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var mask in AllMasks)
            foreach (var l in new[] { 1, 7, 33, 70 })
                data.Add(mask, l);
        return data;
    }

    [Theory]
    [MemberData(nameof(SquareCases))]
    public void CpuMatchesNaiveReferenceForEveryMask(string mask, int length)
    {
        var c = Case.Square(length);
        var (fwd, grads) = Run(c, Mask(mask), Device.Cpu);
        AssertMatches(Naive(c, Mask(mask)), fwd, grads, $"{mask} L={length}");
    }

    public static TheoryData<string, int, int, int, int, int, int, int> OffsetCases()
    {
        var data = new TheoryData<string, int, int, int, int, int, int, int>();
        foreach (var mask in AllMasks)
        {
            data.Add(mask, 4, 2, 1, 70, 16, 16, 69);   // decode: one query attending to a cache, GQA 4/2
            data.Add(mask, 4, 1, 5, 70, 8, 24, 65);    // chunked prefill at an offset, MQA, Dv ≠ D
            data.Add(mask, 4, 1, 5, 40, 33, 7, 20);    // a chunk in the middle of the keys (non-causal masks see later keys)
            data.Add(mask, 3, 3, 70, 33, 8, 8, 0);     // more queries than keys
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(OffsetCases))]
    public void CpuMatchesNaiveReferenceWithOffsetsAndGroupedHeads(string mask, int hq, int hkv, int lq, int lk, int d, int dv, int offset)
    {
        var c = Case.Make(2, hq, hkv, lq, lk, d, dv, offset, seed: 11);
        var (fwd, grads) = Run(c, Mask(mask), Device.Cpu);
        AssertMatches(Naive(c, Mask(mask)), fwd, grads, $"{mask} Lq={lq} Lk={lk} offset={offset}");
    }

    [Fact]
    public void RowsWithoutVisibleKeysGiveZeroOutputAndNegativeInfinityLse()
    {
        // Queries at positions 10..12 with a window of 2 look for keys 9..12, but there are only 5 keys.
        var c = Case.Make(1, 2, 1, 3, 5, 4, 3, 10, seed: 5);
        foreach (var dev in new Device[] { Device.Cpu, TestDevices.Get("w4x4") })
        {
            var (fwd, grads) = Run(c, AttentionMask.SlidingWindow(2), dev);
            Assert.All(fwd.Output.ToArray(), x => Assert.Equal(0f, x));
            Assert.All(fwd.Lse.ToArray(), x => Assert.True(float.IsNegativeInfinity(x)));
            Assert.All(grads.Dq!.ToArray(), x => Assert.Equal(0f, x));
            Assert.All(grads.Dk!.ToArray(), x => Assert.Equal(0f, x));
            Assert.All(grads.Dv!.ToArray(), x => Assert.Equal(0f, x));
        }
        // No keys at all.
        var empty = Attention.Forward(Tensor.From(c.Q, c.QShape, Device.Cpu), Tensor.Zeros(new[] { 1, 1, 0, 4 }), Tensor.Zeros(new[] { 1, 1, 0, 3 }),
            AttentionMask.Full, 0.5f);
        Assert.All(empty.Output.ToArray(), x => Assert.Equal(0f, x));
        Assert.All(empty.Lse.ToArray(), x => Assert.True(float.IsNegativeInfinity(x)));
    }

    [Fact]
    public void BackwardComputesOnlyTheRequestedGradients()
    {
        var c = Case.Square(9);
        var (q, k, v, dO) = (Tensor.From(c.Q, c.QShape), Tensor.From(c.K, c.KShape), Tensor.From(c.V, c.VShape), Tensor.From(c.DO, c.OShape));
        var f = Attention.Forward(q, k, v, AttentionMask.Causal, c.Scale);
        var all = Attention.Backward(q, k, v, f.Output, f.Lse, dO, AttentionMask.Causal, c.Scale);
        var qOnly = Attention.Backward(q, k, v, f.Output, f.Lse, dO, AttentionMask.Causal, c.Scale, keyValueGrad: false);
        Assert.Null(qOnly.Dk);
        Assert.Null(qOnly.Dv);
        Close.All(all.Dq!, qOnly.Dq!, 0, 0, "dq");
        var kvOnly = Attention.Backward(q, k, v, f.Output, f.Lse, dO, AttentionMask.Causal, c.Scale, queryGrad: false);
        Assert.Null(kvOnly.Dq);
        Close.All(all.Dk!, kvOnly.Dk!, 0, 0, "dk");
        Close.All(all.Dv!, kvOnly.Dv!, 0, 0, "dv");
    }

    // ---- Λ split, merge and LM-Infinite's two-pair scoring ----------------------------------------------------------

    [Theory]
    [InlineData(1, 1, 0)]
    [InlineData(33, 33, 0)]
    [InlineData(70, 70, 0)]
    [InlineData(5, 40, 35)]
    public void LambdaShapedIsTheMergeOfSlidingWindowAndGlobalBranch(int lq, int lk, int offset)
    {
        var c = Case.Make(1, 4, 2, lq, lk, 8, 6, offset, seed: 3);
        var (q, k, v) = (Tensor.From(c.Q, c.QShape), Tensor.From(c.K, c.KShape), Tensor.From(c.V, c.VShape));
        var whole = Attention.Forward(q, k, v, AttentionMask.LambdaShaped(3, 5), c.Scale, offset);
        var merged = Attention.Merge(Attention.Forward(q, k, v, AttentionMask.SlidingWindow(5), c.Scale, offset),
            Attention.Forward(q, k, v, AttentionMask.LambdaGlobalBranch(3, 5), c.Scale, offset));
        Close.All(whole.Output, merged.Output, 1e-5, 1e-6, "o");
        CloseLse(whole.Lse.ToArray(), merged.Lse.ToArray(), "lse");
        var same = Attention.LambdaForward(q, k, q, k, v, 3, 5, c.Scale, offset);
        Close.All(whole.Output, same.Output, 1e-5, 1e-6, "LambdaForward o");
    }

    /// <summary>The far global keys (j &lt; G, i − j ≥ L) are scored with (Q2, K2), everything else with (Q, K).</summary>
    private static Reference NaiveLambda(Case c, int g, int l)
    {
        var mask = AttentionMask.LambdaShaped(g, l);
        var far = AttentionMask.LambdaGlobalBranch(g, l);
        return Naive(c, mask.IsVisible, far.IsVisible);
    }

    private static (AttentionOutput, LambdaAttentionGradients) RunLambda(Case c, int g, int l, Device dev)
    {
        var (q, k, q2, k2, v) = (Tensor.From(c.Q, c.QShape, dev), Tensor.From(c.K, c.KShape, dev), Tensor.From(c.Q2, c.QShape, dev),
            Tensor.From(c.K2, c.KShape, dev), Tensor.From(c.V, c.VShape, dev));
        var f = Attention.LambdaForward(q, k, q2, k2, v, g, l, c.Scale, c.Offset);
        var grads = Attention.LambdaBackward(q, k, q2, k2, v, f.Output, f.Lse, Tensor.From(c.DO, c.OShape, dev), g, l, c.Scale, c.Offset);
        return (f, grads);
    }

    private static void AssertLambdaMatches(Reference r, AttentionOutput f, LambdaAttentionGradients grads, string what)
    {
        Close.All(F32(r.O), f.Output.ToArray(), 1e-4, 1e-5, what + " o");
        CloseLse(F32(r.Lse), f.Lse.ToArray(), what + " lse");
        Close.All(F32(r.Dq), grads.DqLocal!.ToArray(), 1e-4, 1e-4, what + " dq local");
        Close.All(F32(r.Dk), grads.DkLocal!.ToArray(), 1e-4, 1e-4, what + " dk local");
        Close.All(F32(r.Dq2), grads.DqGlobal!.ToArray(), 1e-4, 1e-4, what + " dq global");
        Close.All(F32(r.Dk2), grads.DkGlobal!.ToArray(), 1e-4, 1e-4, what + " dk global");
        Close.All(F32(r.Dv), grads.Dv!.ToArray(), 1e-4, 1e-4, what + " dv");
    }

    [Theory]
    [InlineData(7, 7, 0)]
    [InlineData(70, 70, 0)]
    [InlineData(1, 70, 69)]
    [InlineData(5, 40, 35)]
    public void LambdaForwardScoresTheFarGlobalKeysWithTheSecondPair(int lq, int lk, int offset)
    {
        var c = Case.Make(2, 4, 2, lq, lk, 8, 6, offset, seed: 9);
        var (f, grads) = RunLambda(c, 3, 5, Device.Cpu);
        AssertLambdaMatches(NaiveLambda(c, 3, 5), f, grads, $"Lq={lq}");
    }

    // ---- ILGPU parity ----------------------------------------------------------------------------------------------

    public static TheoryData<string, string> ParityCases()
    {
        var data = new TheoryData<string, string>();
        foreach (var shape in new[] { "w4x4", "w2x8" })
            foreach (var mask in AllMasks)
                data.Add(shape, mask);
        return data;
    }

    [Theory]
    [MemberData(nameof(ParityCases))]
    public void IlgpuMatchesCpu(string shape, string mask)
    {
        var dev = TestDevices.Get(shape);
        foreach (var c in new[]
                 {
                     Case.Make(1, 4, 2, 19, 19, 13, 9, 0, seed: 21),   // several query and key tiles, GQA, Dv ≠ D
                     Case.Make(1, 2, 1, 5, 24, 8, 5, 19, seed: 22),    // chunked prefill at an offset
                     Case.Make(2, 2, 2, 1, 13, 6, 6, 12, seed: 23),    // decode: one query against a cache
                 })
        {
            var (cf, cg) = Run(c, Mask(mask), Device.Cpu);
            var (gf, gg) = Run(c, Mask(mask), dev);
            Close.All(cf.Output, gf.Output, 1e-5, 1e-6, "o");
            CloseLse(cf.Lse.ToArray(), gf.Lse.ToArray(), "lse");
            Close.All(cg.Dq!, gg.Dq!, 1e-4, 1e-5, "dq");
            Close.All(cg.Dk!, gg.Dk!, 1e-4, 1e-5, "dk");
            Close.All(cg.Dv!, gg.Dv!, 1e-4, 1e-5, "dv");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuLambdaForwardMatchesReference(string shape)
    {
        var c = Case.Make(1, 2, 1, 5, 21, 8, 6, 16, seed: 31);
        var (f, grads) = RunLambda(c, 3, 5, TestDevices.Get(shape));
        AssertLambdaMatches(NaiveLambda(c, 3, 5), f, grads, shape);
    }

    // ---- mask policies ---------------------------------------------------------------------------------------------

    [Fact]
    public void KeyRangeOfOneRowIsExactlyItsVisibleKeys()
    {
        const int lk = 40;
        foreach (var name in AllMasks)
        {
            var m = Mask(name);
            for (int i = 0; i < 50; i++)
            {
                var r = m.KeyRange(i, i + 1, lk);
                Assert.True(r.First.End <= r.Second.Start || r.Second.IsEmpty, $"{name} row {i}: ranges overlap or are out of order");
                for (int j = 0; j < lk; j++)
                {
                    bool inRange = (j >= r.First.Start && j < r.First.End) || (j >= r.Second.Start && j < r.Second.End);
                    Assert.True(inRange == m.IsVisible(i, j), $"{name}: row {i} key {j} visible {m.IsVisible(i, j)} but in range {inRange}");
                }
            }
        }
    }

    [Fact]
    public void BlockRangesCoverEveryVisiblePair()
    {
        const int lk = 45;
        foreach (var name in AllMasks)
        {
            var m = Mask(name);
            for (int q0 = 0; q0 < 50; q0 += 3)
                for (int q1 = q0 + 1; q1 < 50; q1 += 7)
                {
                    var keys = m.KeyRange(q0, q1, lk);
                    for (int i = q0; i < q1; i++)
                        for (int j = 0; j < lk; j++)
                            if (m.IsVisible(i, j))
                                Assert.True((j >= keys.First.Start && j < keys.First.End) || (j >= keys.Second.Start && j < keys.Second.End),
                                    $"{name}: queries [{q0}, {q1}) miss key {j} of row {i}");
                }
            for (int k0 = 0; k0 < lk; k0 += 4)
                for (int k1 = k0 + 1; k1 <= lk; k1 += 9)
                {
                    var queries = m.QueryRange(k0, k1);
                    for (int j = k0; j < k1; j++)
                        for (int i = 0; i < 120; i++)
                            if (m.IsVisible(i, j))
                                Assert.True(i >= queries.Start && i < queries.End, $"{name}: keys [{k0}, {k1}) miss query {i} of key {j}");
                }
        }
    }

    [Fact]
    public void SlidingWindowAndLambdaVisitLinearlyManyKeys()
    {
        // Per row: at most w keys (sliding), G + L (Λ). Per 64-row query tile: at most 64 + w − 1 keys, so the total work of
        // the tiled kernels grows linearly with the length instead of quadratically.
        const int w = 16, tile = 64;
        foreach (int length in new[] { 1000, 10000, 100000 })
        {
            var sliding = AttentionMask.SlidingWindow(w);
            var lambda = AttentionMask.LambdaShaped(4, w);
            long rowKeys = 0, tileKeys = 0;
            for (int i = 0; i < length; i++)
            {
                Assert.True(sliding.KeyRange(i, i + 1, length).Count <= w);
                Assert.True(lambda.KeyRange(i, i + 1, length).Count <= 4 + w);
                rowKeys += sliding.KeyRange(i, i + 1, length).Count;
            }
            for (int t0 = 0; t0 < length; t0 += tile)
            {
                int n = sliding.KeyRange(t0, Math.Min(t0 + tile, length), length).Count;
                Assert.True(n <= tile + w - 1, $"tile at {t0} visits {n} keys");
                tileKeys += n;
            }
            Assert.True(rowKeys <= (long)length * w);
            Assert.True(tileKeys <= (long)(length / tile + 1) * (tile + w));
        }
    }

    // ---- bad input -------------------------------------------------------------------------------------------------

    [Fact]
    public void BadArgumentsThrowClearErrors()
    {
        var q = Tensor.Zeros(new[] { 1, 3, 4, 8 });
        var k = Tensor.Zeros(new[] { 1, 2, 5, 8 });
        var v = Tensor.Zeros(new[] { 1, 2, 5, 6 });
        var e = Assert.Throws<ArgumentException>(() => Attention.Forward(q, k, v, AttentionMask.Causal, 1f));
        Assert.Contains("multiple of the kv heads", e.Message);
        var q4 = Tensor.Zeros(new[] { 1, 4, 4, 7 });
        e = Assert.Throws<ArgumentException>(() => Attention.Forward(q4, k, v, AttentionMask.Causal, 1f));
        Assert.Equal("k", e.ParamName);
        Assert.Contains("D 7", e.Message);
        e = Assert.Throws<ArgumentException>(() => Attention.Forward(Tensor.Zeros(new[] { 1, 4, 4, 8 }), k, Tensor.Zeros(new[] { 1, 2, 4, 6 }), AttentionMask.Full, 1f));
        Assert.Equal("v", e.ParamName);
        Assert.Equal("q", Assert.Throws<ArgumentException>(() => Attention.Forward(Tensor.Zeros(new[] { 4, 4, 8 }), k, v, AttentionMask.Full, 1f)).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionMask.SlidingWindow(0)).ParamName);
        Assert.Equal("window", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionMask.SlidingWindow(-3)).ParamName);
        Assert.Equal("blockSize", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionMask.Block(0)).ParamName);
        Assert.Equal("localWindow", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionMask.LambdaShaped(4, 0)).ParamName);
        Assert.Equal("globalTokens", Assert.Throws<ArgumentOutOfRangeException>(() => AttentionMask.LambdaShaped(-1, 4)).ParamName);
        var q8 = Tensor.Zeros(new[] { 1, 4, 4, 8 });
        Assert.Equal("queryOffset", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(q8, k, v, AttentionMask.Causal, 1f, -1)).ParamName);
        Assert.Equal("scale", Assert.Throws<ArgumentOutOfRangeException>(() => Attention.Forward(q8, k, v, AttentionMask.Causal, float.NaN)).ParamName);
        var f = Attention.Forward(q8, k, v, AttentionMask.Causal, 1f);
        Assert.Equal("lse", Assert.Throws<ArgumentException>(() =>
            Attention.Backward(q8, k, v, f.Output, Tensor.Zeros(new[] { 1, 4, 5 }), f.Output, AttentionMask.Causal, 1f)).ParamName);
        Assert.Equal("dO", Assert.Throws<ArgumentException>(() =>
            Attention.Backward(q8, k, v, f.Output, f.Lse, Tensor.Zeros(new[] { 1, 4, 4, 8 }), AttentionMask.Causal, 1f)).ParamName);
        Assert.Equal("k", Assert.Throws<ArgumentException>(() =>
            Attention.Forward(q8, k.To(TestDevices.Get("w4x4")), v, AttentionMask.Causal, 1f)).ParamName);
    }
}
