namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class VectorQuantizeTests
{
    /// <summary>Brute force in double: every code's squared distance to key row n (codebook rows of group g).</summary>
    private static double[] Distances(float[] keys, float[] codebook, int n, int g, int S, int D)
    {
        var dist = new double[S];
        for (int s = 0; s < S; s++)
            for (int d = 0; d < D; d++)
            {
                double diff = (double)keys[n * D + d] - codebook[(g * S + s) * D + d];
                dist[s] += diff * diff;
            }
        return dist;
    }

    /// <summary>Checks codes and quantized rows against brute force; near-ties (gap ≤ 1e-4) may pick either code.</summary>
    private static void AssertNearest(float[] keys, float[] codebook, int[] codes, float[] quantized, int S, int D, Func<int, int> group)
    {
        for (int n = 0; n < codes.Length; n++)
        {
            var dist = Distances(keys, codebook, n, group(n), S, D);
            double min = dist.Min();
            int brute = Array.IndexOf(dist, min);
            bool clearWinner = dist.Where((_, s) => s != brute).All(x => x - min > 1e-4);
            if (clearWinner) Assert.Equal(brute, codes[n]);
            else Assert.True(dist[codes[n]] - min <= 1e-4, $"row {n}: code {codes[n]} at distance {dist[codes[n]]}, nearest {min}");
            Assert.Equal(codebook.AsSpan((group(n) * S + codes[n]) * D, D).ToArray(), quantized.AsSpan(n * D, D).ToArray());
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 3)]
    [InlineData(33, 16)]
    public void NearestMatchesBruteForceWithSharedCodebook(int S, int D)
    {
        var keys = Data.Normal(2 * 9 * D, 1);
        var codebook = Data.Normal(S * D, 2);
        var (codes, quantized) = VectorQuantize.Nearest(Tensor.From(keys, 2, 9, D), Tensor.From(codebook, S, D));
        Assert.Equal(new[] { 2, 9 }, codes.ShapeArray());
        Assert.Equal(DType.Int32, codes.DType);
        Assert.Equal(new[] { 2, 9, D }, quantized.ShapeArray());
        AssertNearest(keys, codebook, codes.ToInt32Array(), quantized.ToArray(), S, D, _ => 0);
    }

    [Fact]
    public void NearestUsesEachHeadsCodebook()
    {
        int B = 2, H = 3, T = 5, S = 4, D = 3;
        var keys = Data.Normal(B * H * T * D, 3);
        var codebook = Data.Normal(H * S * D, 4);
        var (codes, quantized) = VectorQuantize.Nearest(Tensor.From(keys, B, H, T, D), Tensor.From(codebook, H, S, D));
        AssertNearest(keys, codebook, codes.ToInt32Array(), quantized.ToArray(), S, D, n => n / T % H);
    }

    [Fact]
    public void TiesGoToTheLowestIndex()
    {
        // Codes 0 and 1 are equidistant from every key on the y axis; codes 2 and 4 are the same vector.
        var codebook = new float[] { 1, 0, -1, 0, 3, 3, 9, 9, 3, 3 };
        var keys = new float[] { 0, 1, 0, -2, 3, 3, 2.5f, 3.5f };
        var (codes, _) = VectorQuantize.Nearest(Tensor.From(keys, 4, 2), Tensor.From(codebook, 5, 2));
        Assert.Equal(new[] { 0, 0, 2, 2 }, codes.ToInt32Array());
    }

    /// <summary>counts[g, r, s] and sums[g, r, s, :] by the definition, in double.</summary>
    private static (float[] Counts, float[] Sums) NaiveAggregate(int[] codes, float[] values, int G, int N, int L, int S, int W)
    {
        int R = (N + L - 1) / L;
        var counts = new double[G * R * S];
        var sums = new double[G * R * S * W];
        for (int g = 0; g < G; g++)
            for (int j = 0; j < N; j++)
            {
                int slot = (g * R + j / L) * S + codes[g * N + j];
                counts[slot]++;
                for (int w = 0; w < W; w++) sums[slot * W + w] += values[(g * N + j) * W + w];
            }
        return (counts.Select(x => (float)x).ToArray(), sums.Select(x => (float)x).ToArray());
    }

    private static int[] Codes(int n, int S, int seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(S)).ToArray();
    }

    [Theory]
    [InlineData(10, null)]
    [InlineData(10, 3)]
    [InlineData(12, 4)]
    [InlineData(5, 8)]
    public void AggregateByCodeMatchesDefinition(int N, int? block)
    {
        int G = 3, S = 4, W = 5;
        var codes = Codes(G * N, S, 5);
        var values = Data.Normal(G * N * W, 6);
        var (counts, sums) = VectorQuantize.AggregateByCode(Tensor.From(codes, new[] { G, N }), Tensor.From(values, G, N, W), S, block);
        int L = block ?? N, R = (N + L - 1) / L;
        Assert.Equal(new[] { G, R, S }, counts.ShapeArray());
        Assert.Equal(new[] { G, R, S, W }, sums.ShapeArray());
        var (ec, es) = NaiveAggregate(codes, values, G, N, L, S, W);
        Assert.Equal(ec, counts.ToArray());
        Close.All(es, sums.ToArray(), 1e-5, 1e-6, "sums");
    }

    [Fact]
    public void EmaUpdateMatchesHandComputation()
    {
        // One codebook of S = 3 codes in D = 2; γ = 0.9, ε = 0.1.
        float gamma = 0.9f, eps = 0.1f;
        var n0 = new float[] { 1, 2, 0 };
        var m0 = new float[] { 1, 1, 2, 4, 0, 0 };
        var nb = new float[] { 3, 0, 1 };
        var mb = new float[] { 3, 6, 0, 0, -1, 2 };
        var emaCounts = Tensor.From(n0, 3);
        var emaSums = Tensor.From(m0, 3, 2);
        var codebook = Tensor.Zeros(new[] { 3, 2 });
        VectorQuantize.EmaUpdate(emaCounts, emaSums, Tensor.From(nb, 3), Tensor.From(mb, 3, 2), codebook, gamma, eps);
        // N = 0.9·n0 + 0.1·nb = [1.2, 1.8, 0.1]; M = 0.9·m0 + 0.1·mb.
        var n = new[] { 1.2, 1.8, 0.1 };
        var m = new[] { 1.2, 1.5, 1.8, 3.6, -0.1, 0.2 };
        double total = n.Sum();   // 3.1
        var expected = new double[6];
        for (int s = 0; s < 3; s++)
        {
            double smoothed = (n[s] + eps) / (total + 3 * eps) * total;
            for (int d = 0; d < 2; d++) expected[s * 2 + d] = m[s * 2 + d] / smoothed;
        }
        Close.All(n.Select(x => (float)x).ToArray(), emaCounts.ToArray(), 1e-6, 1e-7, "ema counts");
        Close.All(m.Select(x => (float)x).ToArray(), emaSums.ToArray(), 1e-6, 1e-7, "ema sums");
        Close.All(expected.Select(x => (float)x).ToArray(), codebook.ToArray(), 1e-5, 1e-6, "codebook");
    }

    [Fact]
    public void EmaUpdateIsPerHeadAndSkipsACodebookWithoutCounts()
    {
        int H = 2, S = 3, D = 2;
        var emaCounts = Tensor.From(new float[] { 1, 1, 1, 0, 0, 0 }, H, S);
        var emaSums = Tensor.From(Data.Normal(H * S * D, 7), H, S, D);
        var before = Data.Normal(H * S * D, 8);
        var codebook = Tensor.From(before, H, S, D);
        VectorQuantize.EmaUpdate(emaCounts, emaSums, Tensor.Zeros(new[] { H, S }), Tensor.Zeros(new[] { H, S, D }), codebook, 0.5f, 0f);
        var c = codebook.ToArray();
        var m = emaSums.ToArray();
        for (int i = 0; i < S * D; i++) Assert.Equal(m[i] / 0.5f, c[i], 5);       // head 0: N = 0.5 each, no smoothing
        Assert.Equal(before.Skip(S * D), c.Skip(S * D));                       // head 1: ΣN = 0, unchanged
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string deviceShape)
    {
        var dev = TestDevices.Get(deviceShape);
        int B = 2, H = 2, T = 7, S = 5, D = 3;
        var keys = Tensor.From(Data.Normal(B * H * T * D, 9), B, H, T, D);
        foreach (var codebook in new[] { Tensor.From(Data.Normal(S * D, 10), S, D), Tensor.From(Data.Normal(H * S * D, 11), H, S, D) })
        {
            var (zc, qc) = VectorQuantize.Nearest(keys, codebook);
            var (zg, qg) = VectorQuantize.Nearest(keys.To(dev), codebook.To(dev));
            Assert.Equal(zc.ToInt32Array(), zg.ToInt32Array());
            Assert.Equal(qc.ToArray(), qg.ToArray());
        }

        var codes = Codes(3 * 11, S, 12);
        var values = Data.Normal(3 * 11 * 4, 13);
        var (cc, sc) = VectorQuantize.AggregateByCode(Tensor.From(codes, new[] { 3, 11 }), Tensor.From(values, 3, 11, 4), S, 4);
        var (cg, sg) = VectorQuantize.AggregateByCode(Tensor.From(codes, new[] { 3, 11 }, dev), Tensor.From(values, new[] { 3, 11, 4 }, dev), S, 4);
        Assert.Equal(cc.ToArray(), cg.ToArray());
        Close.All(sc, sg, 1e-5, 1e-6, "sums");

        var counts0 = Data.Uniform(H * 37, 14, 0, 3);
        var sums0 = Data.Normal(H * 37 * D, 15);
        var batchCounts = Data.Uniform(H * 37, 16, 0, 5);
        var batchSums = Data.Normal(H * 37 * D, 17);
        var results = new List<float[]>();
        foreach (var device in new[] { Device.Cpu, (Device)dev })
        {
            var n = Tensor.From(counts0, new[] { H, 37 }, device);
            var m = Tensor.From(sums0, new[] { H, 37, D }, device);
            var c = Tensor.Zeros(new[] { H, 37, D }, DType.Float32, device);
            VectorQuantize.EmaUpdate(n, m, Tensor.From(batchCounts, new[] { H, 37 }, device), Tensor.From(batchSums, new[] { H, 37, D }, device), c, 0.95f, 1e-3f);
            results.Add(n.ToArray().Concat(m.ToArray()).Concat(c.ToArray()).ToArray());
        }
        Close.All(results[0], results[1], 1e-5, 1e-6, "EMA update");
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var keys = Tensor.Zeros(new[] { 2, 3, 4 });
        Assert.Contains("codebook has shape [5, 3], expected [*, 4]", Assert.Throws<ArgumentException>(() => VectorQuantize.Nearest(keys, Tensor.Zeros(new[] { 5, 3 }))).Message);
        Assert.Contains("expected rank 4", Assert.Throws<ArgumentException>(() => VectorQuantize.Nearest(keys, Tensor.Zeros(new[] { 3, 5, 4 }))).Message);
        Assert.Contains("codebook size S must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => VectorQuantize.Nearest(keys, Tensor.Zeros(new[] { 0, 4 }))).Message);
        Assert.Contains("keys has dtype Int32", Assert.Throws<ArgumentException>(() => VectorQuantize.Nearest(Tensor.From(new[] { 1 }, new[] { 1, 1 }), Tensor.Zeros(new[] { 5, 1 }))).Message);

        var codes = Tensor.From(new[] { 0, 1, 5 }, new[] { 3 });
        var values = Tensor.Zeros(new[] { 3, 2 });
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => VectorQuantize.AggregateByCode(codes, values, 5));
        Assert.Contains("codes[2]", range.Message);
        Assert.Contains("[0, 5)", range.Message);
        Assert.Contains("expected [3, V]", Assert.Throws<ArgumentException>(() => VectorQuantize.AggregateByCode(codes, Tensor.Zeros(new[] { 4, 2 }), 6)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => VectorQuantize.AggregateByCode(codes, values, 6, 0));

        var n = Tensor.Zeros(new[] { 4 });
        var m = Tensor.Zeros(new[] { 4, 2 });
        Assert.Contains("emaCounts has shape [4], expected [3]", Assert.Throws<ArgumentException>(() => VectorQuantize.EmaUpdate(n, Tensor.Zeros(new[] { 3, 2 }), Tensor.Zeros(new[] { 3 }), Tensor.Zeros(new[] { 3, 2 }), Tensor.Zeros(new[] { 3, 2 }))).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => VectorQuantize.EmaUpdate(n, m, n, m, m.Clone(), decay: 1.5f));
    }
}
