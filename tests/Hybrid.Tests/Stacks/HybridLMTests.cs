using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Mamba;
using Ssm.Optim;

namespace Ssm.Hybrid.Tests.Stacks;

public sealed class HybridLMTests
{
    private const int Batch = 2, Length = 11, Vocab = 13;

    /// <summary>Small dims: d_model 8, Mamba-2 with 4 heads of 4, attention 2 query heads over 1 kv head with RoPE.</summary>
    public static HybridConfig Config(string pattern) => new()
    {
        DModel = 8,
        VocabSize = Vocab,
        Layers = HybridPattern.Parse(pattern),
        Mamba = new Mamba2Config { DModel = 8, DState = 4, HeadDim = 4, Expand = 2, DConv = 3, ChunkSize = 4 },
        Attention = new AttentionConfig { DModel = 8, NumHeads = 2, NumHeadsKv = 1, HeadDim = 4, RotaryEmbDim = 4 },
        S4D = new Ssm.S4.S4DConfig { DModel = 8, DState = 4, Transposed = false },
    };

    public static TheoryData<string> Models => new() { "MAMA", "MAMA+mlp+conv", "masformer-mixed", "jamba-block", "transformer", "transformer-causal", "landmark", "MSAS" };

    internal static CausalLM Build(string name, int seed = 5)
    {
        var rng = new Rng(seed);
        switch (name)
        {
            case "MAMA": return new HybridLM(Config("MAMA"), rng, Device.Cpu);
            case "MAMA+mlp+conv":
                var c = Config("MAMA");
                return new HybridLM(c with
                {
                    Attention = c.Attention with { DConv = 2, QkvProjBias = false },
                    Block = new BlockConfig { DIntermediate = 12, Norm = NormKind.LayerNorm },
                    TieEmbeddings = false,
                }, rng, Device.Cpu);
            case "masformer-mixed":
                // Mamba, then attention with a sliding window (evicting: 3 < 11), Λ-shaped, and full causal attention.
                return new HybridLM(Config("M") with
                {
                    Layers = new[]
                    {
                        new HybridLayerSpec(HybridLayerKind.Mamba), new HybridLayerSpec(HybridLayerKind.Attention, AttentionMask.SlidingWindow(3)),
                        new HybridLayerSpec(HybridLayerKind.Attention, AttentionMask.LambdaShaped(1, 3)), new HybridLayerSpec(HybridLayerKind.Attention),
                    },
                }, rng, Device.Cpu);
            case "jamba-block":
                var j = Config("M") with { Layers = HybridPattern.Jamba(4, 2, 1) };
                return new HybridLM(j with { Attention = j.Attention with { Mask = AttentionMask.Block(4, causal: true) } }, rng, Device.Cpu);
            case "transformer":
                return new TransformerLM(new TransformerConfig
                {
                    DModel = 8, NLayer = 2, VocabSize = Vocab,
                    Attention = new AttentionConfig { DModel = 8, NumHeads = 4, NumHeadsKv = 2, HeadDim = 2, RotaryEmbDim = 2, Mask = AttentionMask.SlidingWindow(4) },
                    Block = new BlockConfig { DIntermediate = 16, Mlp = MlpKind.Gelu, MlpBias = true, Dropout = 0.1f },
                }, rng, Device.Cpu);
            case "MSAS": return new HybridLM(Config("MSAS") with { Block = new BlockConfig { DIntermediate = 8 } }, rng, Device.Cpu);
            case "landmark":
                var lm = Config("MAA");
                return new HybridLM(lm with { Attention = lm.Attention with { LandmarkBlockSize = 3 } }, rng, Device.Cpu);
            case "transformer-causal":
                return new TransformerLM(new TransformerConfig
                {
                    DModel = 16, NLayer = 2, VocabSize = Vocab,
                    Attention = new AttentionConfig { DModel = 16, NumHeads = 2, RotaryEmbDim = 8 },
                    Block = new BlockConfig { DIntermediate = 32, Mlp = MlpKind.Gelu, Dropout = 0.1f },
                }, rng, Device.Cpu);
            default: throw new ArgumentException(name);
        }
    }

    private static Tensor Ids(int seed)
    {
        var rng = new Rng(seed);
        return Tensor.From(Enumerable.Range(0, Batch * Length).Select(_ => rng.Next(Vocab)).ToArray(), new[] { Batch, Length });
    }

    private static void Place(float[] logits, int count, int from, int vocab, float[] output)
    {
        for (int b = 0; b < Batch; b++) Array.Copy(logits, b * count * vocab, output, (b * Length + from) * vocab, count * vocab);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ParallelEqualsStepEqualsChunkedPrefill(string name)
    {
        var model = Build(name);
        model.Eval();
        var ids = Ids(9);
        int vocab = model.VocabSize;
        using var noGrad = Autograd.NoGrad();
        var full = model.Forward(ids).Data.ToArray();
        Assert.Equal(Batch * Length * vocab, full.Length);

        using (var cache = model.AllocateCache(Batch))
        {
            var stepped = new float[full.Length];
            var host = ids.ToInt32Array();
            for (int t = 0; t < Length; t++)
            {
                using var scope = TensorScope.Begin();
                var column = Tensor.From(new[] { host[t], host[Length + t] }, new[] { Batch });
                Place(model.Step(cache, column).ToArray(), 1, t, vocab, stepped);
            }
            Close.All(full, stepped, 1e-4, 1e-5, $"{name}: step vs parallel");
            Assert.Equal(Length, cache.Position);
        }

        foreach (var splits in new[] { new[] { 1, 4, 6 }, new[] { 6, 5 }, new[] { 3, 3, 3, 2 } })
        {
            using var cache = model.AllocateCache(Batch);
            var joined = new float[full.Length];
            int at = 0;
            foreach (var len in splits)
            {
                Place(model.Forward(Layout.Narrow(ids, 1, at, len), cache).Data.ToArray(), len, at, vocab, joined);
                at += len;
            }
            Close.All(full, joined, 1e-4, 1e-5, $"{name}: prefill {string.Join("|", splits)}");
        }
    }

    [Fact]
    public void PureMambaPatternIsAMambaLMHeadModel()
    {
        var config = Config("MM");
        var hybrid = new HybridLM(config, new Rng(21), Device.Cpu);
        var mamba = new MambaLMHeadModel(new MambaLMConfig { DModel = 8, NLayer = 2, VocabSize = Vocab, Mixer = config.Mamba }, new Rng(21), Device.Cpu);
        var h = hybrid.StateDict();
        var m = mamba.StateDict();
        Assert.Equal(m.Keys, h.Keys);
        foreach (var (key, value) in m) Assert.Equal(value.ToArray(), h[key].ToArray());

        // And a MambaLMHeadModel checkpoint loads into the hybrid with the same outputs.
        var other = new MambaLMHeadModel(new MambaLMConfig { DModel = 8, NLayer = 2, VocabSize = Vocab, Mixer = config.Mamba }, new Rng(22), Device.Cpu);
        hybrid.LoadStateDict(other.StateDict());
        using var noGrad = Autograd.NoGrad();
        Close.All(other.Forward(Ids(3)).Data, hybrid.Forward(Ids(3)).Data, 1e-6, 1e-7, "hybrid MM vs MambaLMHeadModel");
    }

    [Fact]
    public void AttentionLayersUseMambaSsmNames()
    {
        var model = new HybridLM(Config("MA") with { Block = new BlockConfig { DIntermediate = 8 } }, new Rng(1), Device.Cpu);
        var names = model.NamedParameters().Select(p => p.Name).Where(n => n.StartsWith("backbone.layers.1.", StringComparison.Ordinal));
        Assert.Equal(new[]
        {
            "backbone.layers.1.norm.weight", "backbone.layers.1.mixer.in_proj.weight", "backbone.layers.1.mixer.in_proj.bias",
            "backbone.layers.1.mixer.out_proj.weight", "backbone.layers.1.mixer.out_proj.bias", "backbone.layers.1.norm2.weight",
            "backbone.layers.1.mlp.fc1.weight", "backbone.layers.1.mlp.fc2.weight",
        }, names);
        Assert.Equal("backbone.embedding.weight", model.NamedParameters().First().Name);
        Assert.Equal("backbone.norm_f.weight", model.NamedParameters().Last().Name);
        // mamba_ssm's _init_weights: Linear biases zero.
        Assert.All(model.Layers[1].Attention!.InProj.Bias!.Data.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void GreedyGenerationMatchesTheArgmaxOfTheFullForward()
    {
        var model = Build("masformer-mixed");
        var prompts = new[] { new[] { 5, 1, 3 }, new[] { 9, 1, 4, 2, 7 } };
        var generated = Generator.Generate(model, prompts, maxNewTokens: 5);
        using var noGrad = Autograd.NoGrad();
        for (int b = 0; b < prompts.Length; b++)
        {
            var seq = prompts[b].ToList();
            foreach (var token in generated[b])
            {
                using var scope = TensorScope.Begin();
                var logits = model.Forward(Tensor.From(seq.ToArray(), new[] { 1, seq.Count })).Data;
                Assert.Equal(SamplingOptions.ArgMax(Layout.Narrow(logits, 1, seq.Count - 1, 1).ToArray()), token);
                seq.Add(token);
            }
        }
    }

    [Theory]
    [InlineData("MAMA")]
    [InlineData("transformer-causal")]
    public void AdamWStepsReduceTheLossOnAFixedBatch(string name)
    {
        var model = Build(name, seed: 7);
        var ids = Ids(11);
        var inputs = Layout.Narrow(ids, 1, 0, Length - 1);
        var targets = Layout.Narrow(ids, 1, 1, Length - 1).Reshape(Batch * (Length - 1));
        var groups = ParamGroups.Split(model.NamedParameters(), CausalLM.IsNoDecayParameter, weightDecay: 0);
        using var opt = new AdamW(groups, lr: 1e-2, weightDecay: 0.01);
        var losses = new List<float>();
        for (int step = 0; step < 25; step++)
        {
            using var scope = TensorScope.Begin();
            var logits = model.Forward(inputs);
            var loss = F.CrossEntropy(F.Reshape(logits, Batch * (Length - 1), model.VocabSize), targets);
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
            losses.Add(loss.Item());
        }
        Assert.True(losses[0] > 2.0, $"{name}: initial loss {losses[0]} should be near ln 16");
        Assert.True(losses[^1] < 0.5 * losses[0], $"{name}: loss went {losses[0]} → {losses[^1]}, expected to halve on a memorizable batch");
    }

    [Fact]
    public void WrongCachesAreClearErrors()
    {
        var model = Build("MAMA");
        var ids = Ids(1);
        using var small = model.AllocateCache(1);
        Assert.Contains("1 sequences", Assert.Throws<ArgumentException>(() => model.Forward(ids, small)).Message);
        var other = (IRecurrentLanguageModel)model;
        using var mambaCache = new MambaLMHeadModel(new MambaLMConfig { DModel = 8, NLayer = 1, VocabSize = Vocab, Mixer = Config("M").Mamba }, new Rng(1), Device.Cpu).AllocateInferenceCache(Batch);
        Assert.Contains("HybridCache", Assert.Throws<ArgumentException>(() => other.Forward(ids, mambaCache)).Message);
        var transformer = Build("transformer");
        using var foreign = transformer.AllocateCache(Batch);
        Assert.Throws<ArgumentException>(() => model.Forward(ids, foreign));
        using var cache = model.AllocateCache(Batch);
        Assert.Throws<ArgumentException>(() => model.Step(cache, Tensor.From(new[] { 1, 2, 3 }, new[] { 3 })));
        Assert.IsType<Mamba2State>(cache.Layers[0]);
        Assert.IsType<AttentionCache>(cache.Layers[1]);
        Assert.Throws<ArgumentException>(() => cache.Attention(0));
        Assert.Throws<ArgumentException>(() => cache.Mamba(1));
    }
}
