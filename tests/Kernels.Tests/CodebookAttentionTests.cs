namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class CodebookAttentionTests
{
    /// <summary>Random inputs: q, codes (few codes, so they repeat), the codebook, k̂ = codebook rows of the codes, v, dO.</summary>
    private sealed record Case(int B, int H, int T, int D, int V, int S, bool PerHead, float[] Q, int[] Codes, float[] Codebook, float[] K, float[] Values, float[] DOut)
    {
        public static Case Make(int B, int H, int T, int D, int V, int S, bool perHead, int seed)
        {
            var rng = new Rng(seed);
            var codes = Enumerable.Range(0, B * H * T).Select(_ => rng.Next(S)).ToArray();
            var codebook = Data.Normal((perHead ? H : 1) * S * D, seed + 1);
            var k = new float[B * H * T * D];
            for (int n = 0; n < codes.Length; n++)
            {
                int g = perHead ? n / T % H : 0;
                Array.Copy(codebook, (g * S + codes[n]) * D, k, n * D, D);
            }
            return new Case(B, H, T, D, V, S, perHead, Data.Normal(B * H * T * D, seed + 2), codes, codebook, k,
                Data.Normal(B * H * T * V, seed + 3), Data.Normal(B * H * T * V, seed + 4));
        }

        public Tensor[] Tensors(Device device) => new[]
        {
            Tensor.From(Q, new[] { B, H, T, D }, device), Tensor.From(K, new[] { B, H, T, D }, device), Tensor.From(Values, new[] { B, H, T, V }, device),
            Tensor.From(Codes, new[] { B, H, T }, device),
            PerHead ? Tensor.From(Codebook, new[] { H, S, D }, device) : Tensor.From(Codebook, new[] { S, D }, device),
            Tensor.From(DOut, new[] { B, H, T, V }, device),
        };
    }

    /// <summary>
    /// Ordinary softmax attention over the quantized keys in double (causal mask j ≤ i, or none), its lse, and the
    /// gradients; dk̂ takes only the pairs (i, j) for which <paramref name="exact"/> holds (the op's window).
    /// </summary>
    private static (double[] O, double[] Lse, double[] DQ, double[] DK, double[] DV) Naive(Case c, float scale, bool causal, Func<int, int, bool> exact)
    {
        int BH = c.B * c.H, T = c.T, D = c.D, V = c.V;
        var o = new double[BH * T * V];
        var lse = new double[BH * T];
        var dq = new double[BH * T * D];
        var dk = new double[BH * T * D];
        var dv = new double[BH * T * V];
        for (int bh = 0; bh < BH; bh++)
            for (int i = 0; i < T; i++)
            {
                int qi = bh * T + i, n = causal ? i + 1 : T;
                var s = new double[n];
                for (int j = 0; j < n; j++)
                {
                    double acc = 0;
                    for (int d = 0; d < D; d++) acc += (double)c.Q[qi * D + d] * c.K[(bh * T + j) * D + d];
                    s[j] = scale * acc;
                }
                double m = s.Max(), z = s.Sum(x => Math.Exp(x - m));
                lse[qi] = m + Math.Log(z);
                var p = s.Select(x => Math.Exp(x - lse[qi])).ToArray();
                var dp = new double[n];
                for (int j = 0; j < n; j++)
                    for (int e = 0; e < V; e++)
                    {
                        o[qi * V + e] += p[j] * c.Values[(bh * T + j) * V + e];
                        dp[j] += (double)c.DOut[qi * V + e] * c.Values[(bh * T + j) * V + e];
                        dv[(bh * T + j) * V + e] += p[j] * c.DOut[qi * V + e];
                    }
                double delta = 0;
                for (int j = 0; j < n; j++) delta += p[j] * dp[j];
                for (int j = 0; j < n; j++)
                {
                    double ds = p[j] * (dp[j] - delta) * scale;
                    for (int d = 0; d < D; d++)
                    {
                        dq[qi * D + d] += ds * c.K[(bh * T + j) * D + d];
                        if (exact(i, j)) dk[(bh * T + j) * D + d] += ds * c.Q[qi * D + d];
                    }
                }
            }
        return (o, lse, dq, dk, dv);
    }

    private static Func<int, int, bool> Window(int L, bool causal) => (i, j) =>
        causal ? j / L >= i / L - 1 : Math.Abs(i / L - j / L) <= 1;

    private static float[] F(double[] x) => x.Select(v => (float)v).ToArray();

    [Theory]
    [InlineData(24, true, false)]    // one block: plain causal attention within it
    [InlineData(4, true, false)]     // many blocks
    [InlineData(3, true, true)]      // per-head codebooks
    [InlineData(5, true, false)]     // partial last block
    [InlineData(24, false, false)]   // non-causal, one block
    [InlineData(4, false, true)]     // non-causal, many blocks
    public void ForwardAndBackwardMatchNaiveAttentionOverQuantizedKeys(int block, bool causal, bool perHead)
    {
        var c = Case.Make(2, 2, 23, 5, 3, 6, perHead, 20);
        float scale = 0.7f;
        var t = c.Tensors(Device.Cpu);
        var fwd = CodebookAttention.Forward(t[0], t[1], t[2], t[3], t[4], block, causal, scale);
        var (o, lse, dq, dk, dv) = Naive(c, scale, causal, Window(block, causal));
        Close.All(F(o), fwd.Output.ToArray(), 1e-4, 1e-5, "output");
        Close.All(F(lse), fwd.LogSumExp.ToArray(), 1e-5, 1e-5, "lse");
        var g = CodebookAttention.Backward(t[5], t[0], t[1], t[2], t[3], t[4], fwd, block, causal, scale);
        Close.All(F(dq), g.DQ!.ToArray(), 1e-4, 1e-5, "dq");
        Close.All(F(dk), g.DK!.ToArray(), 1e-4, 1e-5, "dk");
        Close.All(F(dv), g.DV!.ToArray(), 1e-4, 1e-5, "dv");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ResultDoesNotDependOnTheBlockLength(bool causal)
    {
        var c = Case.Make(1, 2, 24, 4, 3, 5, false, 30);
        var t = c.Tensors(Device.Cpu);
        float[]? reference = null, referenceDq = null, referenceDv = null;
        foreach (int block in new[] { 2, 3, 8, 24 })
        {
            var fwd = CodebookAttention.Forward(t[0], t[1], t[2], t[3], t[4], block, causal);
            var g = CodebookAttention.Backward(t[5], t[0], t[1], t[2], t[3], t[4], fwd, block, causal, needK: false);
            Assert.Null(g.DK);
            if (reference is null)
            {
                (reference, referenceDq, referenceDv) = (fwd.Output.ToArray(), g.DQ!.ToArray(), g.DV!.ToArray());
                continue;
            }
            Close.All(reference, fwd.Output.ToArray(), 1e-5, 1e-6, $"output, block {block}");
            Close.All(referenceDq!, g.DQ!.ToArray(), 1e-4, 1e-6, $"dq, block {block}");
            Close.All(referenceDv!, g.DV!.ToArray(), 1e-4, 1e-6, $"dv, block {block}");
        }
    }

    [Fact]
    public void LaggedBlockSumsSkipTheNeighbouringBlocks()
    {
        var x = Tensor.From(new float[] { 1, 2, 4, 8, 16, 32 }, 1, 6, 1);
        Assert.Equal(new float[] { 0, 0, 1, 3, 7, 15 }, CodebookAttention.LaggedBlockSums(x, 1, 6, 1, before: true, after: false).ToArray());
        Assert.Equal(new float[] { 60, 56, 48, 32, 0, 0 }, CodebookAttention.LaggedBlockSums(x, 1, 6, 1, before: false, after: true).ToArray());
        Assert.Equal(new float[] { 60, 56, 49, 35, 7, 15 }, CodebookAttention.LaggedBlockSums(x, 1, 6, 1, before: true, after: true).ToArray());
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string deviceShape)
    {
        var dev = TestDevices.Get(deviceShape);
        int? saved = CodebookAttentionGpu.GroupSizeLimit;
        try
        {
            foreach (var (block, causal, perHead, limit) in new[] { (4, true, false, 4), (5, false, true, 2), (16, true, true, 16), (3, true, false, 16) })
            {
                CodebookAttentionGpu.GroupSizeLimit = limit;
                var c = Case.Make(1, 2, 13, 3, 2, 7, perHead, 40 + block);
                var cpu = c.Tensors(Device.Cpu);
                var gpu = c.Tensors(dev);
                var fc = CodebookAttention.Forward(cpu[0], cpu[1], cpu[2], cpu[3], cpu[4], block, causal);
                var fg = CodebookAttention.Forward(gpu[0], gpu[1], gpu[2], gpu[3], gpu[4], block, causal);
                string what = $"block {block}, causal {causal}, per-head {perHead}, group ≤ {limit}";
                Close.All(fc.Output, fg.Output, 1e-5, 1e-6, $"output ({what})");
                Close.All(fc.LogSumExp, fg.LogSumExp, 1e-5, 1e-6, $"lse ({what})");
                var gc = CodebookAttention.Backward(cpu[5], cpu[0], cpu[1], cpu[2], cpu[3], cpu[4], fc, block, causal);
                var gg = CodebookAttention.Backward(gpu[5], gpu[0], gpu[1], gpu[2], gpu[3], gpu[4], fg, block, causal);
                Close.All(gc.DQ!, gg.DQ!, 1e-4, 1e-5, $"dq ({what})");
                Close.All(gc.DK!, gg.DK!, 1e-4, 1e-5, $"dk ({what})");
                Close.All(gc.DV!, gg.DV!, 1e-4, 1e-5, $"dv ({what})");
                var onlyV = CodebookAttention.Backward(gpu[5], gpu[0], gpu[1], gpu[2], gpu[3], gpu[4], fg, block, causal, needQ: false, needK: false);
                Assert.Null(onlyV.DQ);
                Close.All(gc.DV!, onlyV.DV!, 1e-4, 1e-5, $"dv alone ({what})");
            }
        }
        finally
        {
            CodebookAttentionGpu.GroupSizeLimit = saved;
        }
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var q = Tensor.Zeros(new[] { 1, 2, 6, 4 });
        var v = Tensor.Zeros(new[] { 1, 2, 6, 3 });
        var codes = Tensor.Zeros(new[] { 1, 2, 6 }, DType.Int32);
        var codebook = Tensor.Zeros(new[] { 5, 4 });
        Assert.Contains("q has shape [1, 6, 4]", Assert.Throws<ArgumentException>(() => CodebookAttention.Forward(Tensor.Zeros(new[] { 1, 6, 4 }), q, v, codes, codebook, 2)).Message);
        Assert.Contains("k has shape [1, 2, 6, 3]", Assert.Throws<ArgumentException>(() => CodebookAttention.Forward(q, Tensor.Zeros(new[] { 1, 2, 6, 3 }), v, codes, codebook, 2)).Message);
        Assert.Contains("v has shape [1, 2, 5, 3]", Assert.Throws<ArgumentException>(() => CodebookAttention.Forward(q, q, Tensor.Zeros(new[] { 1, 2, 5, 3 }), codes, codebook, 2)).Message);
        Assert.Contains("codes has dtype Float32", Assert.Throws<ArgumentException>(() => CodebookAttention.Forward(q, q, v, Tensor.Zeros(new[] { 1, 2, 6 }), codebook, 2)).Message);
        Assert.Contains("codebook has shape [5, 3]", Assert.Throws<ArgumentException>(() => CodebookAttention.Forward(q, q, v, codes, Tensor.Zeros(new[] { 5, 3 }), 2)).Message);
        Assert.Contains("codebook has shape [3, 5, 4]", Assert.Throws<ArgumentException>(() => CodebookAttention.Forward(q, q, v, codes, Tensor.Zeros(new[] { 3, 5, 4 }), 2)).Message);
        Assert.Contains("blockLength must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => CodebookAttention.Forward(q, q, v, codes, codebook, 0)).Message);
        var badCodes = Tensor.From(new[] { 0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0 }, new[] { 1, 2, 6 });
        Assert.Contains("codes[5]", Assert.Throws<ArgumentOutOfRangeException>(() => CodebookAttention.Forward(q, q, v, badCodes, codebook, 2)).Message);
        var fwd = CodebookAttention.Forward(q, q, v, codes, codebook, 2);
        Assert.Contains("dOut has shape [1, 2, 6, 4]", Assert.Throws<ArgumentException>(() => CodebookAttention.Backward(q, q, q, v, codes, codebook, fwd, 2)).Message);
    }
}
