using Ssm.Kernels;

namespace Ssm.Hybrid.Tests.Attention;

public sealed class MultiHeadAttentionTests
{
    private const int Batch = 2, Length = 13, DModel = 12;

    /// <summary>4 query heads over 2 kv heads (GQA), head dim 6 with RoPE on the first 4 channels.</summary>
    private static AttentionConfig Config(AttentionMask mask, int dConv = 0, int rotary = 4) => new()
    {
        DModel = DModel, NumHeads = 4, NumHeadsKv = 2, HeadDim = 6, RotaryEmbDim = rotary, Mask = mask, DConv = dConv,
    };

    public static TheoryData<string> Masks => new() { "causal", "sliding3", "sliding5", "block4", "lambda2x3", "lambda0x4", "causal-conv", "sliding4-conv" };

    private static AttentionConfig Named(string name) => name switch
    {
        "causal" => Config(AttentionMask.Causal),
        "sliding3" => Config(AttentionMask.SlidingWindow(3)),
        "sliding5" => Config(AttentionMask.SlidingWindow(5)) with { RotaryEmbInterleaved = true },
        "block4" => Config(AttentionMask.Block(4, causal: true)),
        "lambda2x3" => Config(AttentionMask.LambdaShaped(2, 3)),
        "lambda0x4" => Config(AttentionMask.LambdaShaped(0, 4)),
        "causal-conv" => Config(AttentionMask.Causal, dConv: 3),
        "sliding4-conv" => Config(AttentionMask.SlidingWindow(4), dConv: 4, rotary: 6),
        _ => throw new ArgumentException(name),
    };

    private static (MultiHeadAttention Layer, Tensor X) Setup(AttentionConfig config, int seed = 3)
        => (new MultiHeadAttention(config, new Rng(seed), Device.Cpu), new Rng(seed + 1).Normal(new[] { Batch, Length, DModel }));

    /// <summary>Rows [from, from + count) of every sequence of y [B, L, d] into out [B, Length, d].</summary>
    private static void Place(float[] y, int count, int from, float[] output)
    {
        for (int b = 0; b < Batch; b++) Array.Copy(y, b * count * DModel, output, (b * Length + from) * DModel, count * DModel);
    }

    private static void Steps(MultiHeadAttention layer, AttentionCache cache, Tensor x, int from, float[] output)
    {
        for (int t = from; t < Length; t++)
        {
            using var scope = TensorScope.Begin();
            var xt = Layout.Narrow(x, 1, t, 1).Reshape(Batch, DModel);
            Place(layer.Step(cache, xt).ToArray(), 1, t, output);
        }
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void StepDecodingEqualsTheFullForward(string mask)
    {
        var (layer, x) = Setup(Named(mask));
        using var noGrad = Autograd.NoGrad();
        var full = layer.Forward(new Variable(x)).Data.ToArray();
        using var cache = layer.AllocateCache(Batch);
        var stepped = new float[full.Length];
        Steps(layer, cache, x, 0, stepped);
        Close.All(full, stepped, 1e-4, 1e-5, $"{mask}: step vs parallel");
        Assert.Equal(Length, cache.Position);
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void ChunkedPrefillAtAnySplitEqualsTheFullForward(string mask)
    {
        var (layer, x) = Setup(Named(mask));
        using var noGrad = Autograd.NoGrad();
        var full = layer.Forward(new Variable(x)).Data.ToArray();
        foreach (var splits in new[] { new[] { 1, 5, 7 }, new[] { 7, 6 }, new[] { 2, 2, 9 }, new[] { 4, 4, 4, 1 }, new[] { 13 }, new[] { 3, 1, 1, 8 } })
        {
            using var cache = layer.AllocateCache(Batch, maxLength: 2); // causal caches start tiny and must grow
            var joined = new float[full.Length];
            int at = 0;
            foreach (var len in splits)
            {
                Place(layer.Forward(new Variable(Layout.Narrow(x, 1, at, len)), cache).Data.ToArray(), len, at, joined);
                at += len;
            }
            Close.All(full, joined, 1e-4, 1e-5, $"{mask}: prefill {string.Join("|", splits)}");
        }
    }

    [Theory]
    [MemberData(nameof(Masks))]
    public void PrefillThenStepsEqualsTheFullForward(string mask)
    {
        var (layer, x) = Setup(Named(mask));
        using var noGrad = Autograd.NoGrad();
        var full = layer.Forward(new Variable(x)).Data.ToArray();
        foreach (int prefix in new[] { 1, 3, 6, 9 })
        {
            using var cache = layer.AllocateCache(Batch);
            var mixed = new float[full.Length];
            Place(layer.Forward(new Variable(Layout.Narrow(x, 1, 0, prefix)), cache).Data.ToArray(), prefix, 0, mixed);
            Steps(layer, cache, x, prefix, mixed);
            Close.All(full, mixed, 1e-4, 1e-5, $"{mask}: prefill {prefix} then steps");
        }
    }

    [Fact]
    public void WindowedCachesStayWindowSized()
    {
        var cases = new[] { (AttentionMask.SlidingWindow(3), 3), (AttentionMask.Block(4, causal: true), 4), (AttentionMask.LambdaShaped(2, 3), 5) };
        foreach (var (mask, slots) in cases)
        {
            var (layer, x) = Setup(Config(mask));
            using var noGrad = Autograd.NoGrad();
            using var cache = layer.AllocateCache(Batch, maxLength: 1000);
            layer.Forward(new Variable(x), cache);
            Assert.Equal(slots, cache.Capacity);
            Assert.Equal(new[] { Batch, 2, slots, 6 }, cache.Keys.ShapeArray());
        }
        var (causal, input) = Setup(Config(AttentionMask.Causal));
        using var grown = causal.AllocateCache(Batch, maxLength: 4);
        using (Autograd.NoGrad()) causal.Forward(new Variable(input), grown);
        Assert.True(grown.Capacity >= Length, $"causal cache has {grown.Capacity} slots for {Length} tokens");
    }

    [Fact]
    public void ForwardMatchesANaiveSoftmaxAttentionOverTheInProjLayout()
    {
        // Without RoPE: q|k|v packed in in_proj in that order, query head h reads kv head h / 2, scale 1/√6, causal.
        var config = Config(AttentionMask.Causal, rotary: 0);
        var (layer, x) = Setup(config, seed: 11);
        using var noGrad = Autograd.NoGrad();
        var y = layer.Forward(new Variable(x)).Data.ToArray();
        var w = layer.InProj.Weight.Data.ToArray();
        var bias = layer.InProj.Bias!.Data.ToArray();
        var wo = layer.OutProj.Weight.Data.ToArray();
        var bo = layer.OutProj.Bias!.Data.ToArray();
        var xs = x.ToArray();
        int qkvDim = config.QkvDim, hd = 6;
        var expected = new float[y.Length];
        for (int b = 0; b < Batch; b++)
        {
            var qkv = new double[Length, qkvDim];
            for (int t = 0; t < Length; t++)
                for (int o = 0; o < qkvDim; o++)
                {
                    double s = bias[o];
                    for (int i = 0; i < DModel; i++) s += w[o * DModel + i] * xs[(b * Length + t) * DModel + i];
                    qkv[t, o] = s;
                }
            for (int t = 0; t < Length; t++)
            {
                var ctx = new double[4 * hd];
                for (int h = 0; h < 4; h++)
                {
                    int kOff = 24 + (h / 2) * hd, vOff = 36 + (h / 2) * hd;
                    var scores = new double[t + 1];
                    for (int j = 0; j <= t; j++)
                    {
                        double s = 0;
                        for (int e = 0; e < hd; e++) s += qkv[t, h * hd + e] * qkv[j, kOff + e];
                        scores[j] = s / Math.Sqrt(hd);
                    }
                    double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                    for (int j = 0; j <= t; j++)
                        for (int e = 0; e < hd; e++) ctx[h * hd + e] += Math.Exp(scores[j] - max) / sum * qkv[j, vOff + e];
                }
                for (int o = 0; o < DModel; o++)
                {
                    double s = bo[o];
                    for (int i = 0; i < 4 * hd; i++) s += wo[o * 4 * hd + i] * ctx[i];
                    expected[(b * Length + t) * DModel + o] = (float)s;
                }
            }
        }
        Close.All(expected, y, 1e-4, 1e-5, "naive attention");
    }

    [Fact]
    public void ParameterNamesFollowMambaSsmMha()
    {
        var layer = new MultiHeadAttention(Config(AttentionMask.Causal, dConv: 4), new Rng(1), Device.Cpu);
        Assert.Equal(new[] { "in_proj.weight", "in_proj.bias", "conv1d.weight", "conv1d.bias", "out_proj.weight", "out_proj.bias" },
            layer.NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { 6 * 4 + 2 * 6 * 2, DModel }, layer.InProj.Weight.Data.ShapeArray());
        Assert.Equal(new[] { DModel, 24 }, layer.OutProj.Weight.Data.ShapeArray());
        var noBias = new MultiHeadAttention(Config(AttentionMask.Causal) with { QkvProjBias = false, OutProjBias = false }, new Rng(1), Device.Cpu);
        Assert.Equal(new[] { "in_proj.weight", "out_proj.weight" }, noBias.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void GradientsFlowThroughChunkedPrefillIntoTheNewTokens()
    {
        var (layer, x) = Setup(Config(AttentionMask.LambdaShaped(1, 4)));
        var prefix = new Variable(Layout.Narrow(x, 1, 0, 6));
        var chunk = new Variable(Layout.Narrow(x, 1, 6, 7), requiresGrad: true);
        // Each evaluation prefills a fresh cache with the same prefix (no gradient), then runs the chunk against it.
        GradCheck.Assert(v =>
        {
            var cache = layer.AllocateCache(Batch);
            using (Autograd.NoGrad()) layer.Forward(prefix, cache);
            return layer.Forward(v[0], cache);
        }, new[] { chunk }, eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxElements: 24);
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        var (layer, x) = Setup(Config(AttentionMask.Causal));
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 2, 5, 7 }))));
        Assert.Contains("[2, 5, 7]", e.Message);
        Assert.Contains("d_model", e.Message);
        using var cache = layer.AllocateCache(3);
        Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(x), cache));
        Assert.Throws<ArgumentException>(() => layer.Step(cache, Tensor.Zeros(new[] { 3, 5 })));
        var full = new MultiHeadAttention(Config(AttentionMask.Full), new Rng(1), Device.Cpu);
        var noCache = Assert.Throws<ArgumentException>(() => full.AllocateCache(1));
        Assert.Contains("causal", noCache.Message);
        using var other = new MultiHeadAttention(Config(AttentionMask.SlidingWindow(3)), new Rng(1), Device.Cpu).AllocateCache(Batch);
        Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(x), other));
        Assert.Throws<ArgumentException>(() => new MultiHeadAttention(Config(AttentionMask.Causal) with { NumHeadsKv = 3 }, new Rng(1)));
        Assert.Throws<ArgumentException>(() => new MultiHeadAttention(Config(AttentionMask.Causal, rotary: 5), new Rng(1)));
        Assert.Throws<ArgumentException>(() => new MultiHeadAttention(new AttentionConfig { DModel = 10, NumHeads = 4 }, new Rng(1)));
    }
}
