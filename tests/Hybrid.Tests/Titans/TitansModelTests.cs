using Ssm.Hybrid.Titans;
using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.Hybrid.Tests.Titans;

[Collection("ilgpu")]
public sealed class TitansModelTests
{
    /// <summary>A tiny model: width 16, 2 heads of 8, memory chunk 2, window 5, segment 4, 2 persistent tokens.</summary>
    private static TitansConfig Tiny(TitansVariant variant, int persistent = 2, int layers = 2) => TitansConfig.Create(variant, 16, layers, 11, heads: 2) with
    {
        Window = 5, SegmentLength = 4, PersistentTokens = persistent, FfnHidden = 24,
        Memory = new NeuralMemoryConfig { DModel = 16, Heads = 2, HeadDim = 8, Depth = 2, Expansion = 2, ChunkSize = 2, ConvWidth = 3 },
    };

    private static Tensor Ids(int batch, int length, int seed)
    {
        var rng = new Rng(seed);
        return Tensor.From(Enumerable.Range(0, batch * length).Select(_ => rng.Next(11)).ToArray(), new[] { batch, length });
    }

    /// <summary>Logits row t [batch, vocab] of [batch, length, vocab].</summary>
    private static Tensor At(Tensor logits, int t) => Layout.Narrow(logits, 1, t, 1).Reshape(logits.Size(0), logits.Size(2));

    public static TheoryData<TitansVariant, int> Variants => new()
    {
        { TitansVariant.Mac, 2 }, { TitansVariant.Mag, 2 }, { TitansVariant.Mal, 2 },
        { TitansVariant.Mac, 0 }, { TitansVariant.Mag, 0 }, { TitansVariant.Mal, 0 },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void StepByStepEqualsTheParallelForm(TitansVariant variant, int persistent)
    {
        var model = new TitansLM(Tiny(variant, persistent), new Rng(1));
        var ids = Ids(2, 13, seed: 2); // longer than the window, several segments and memory chunks, one partial
        using var noGrad = Autograd.NoGrad();
        var full = model.Forward(ids).Data;
        using var cache = model.AllocateCache(2);
        var idHost = ids.ToInt32Array();
        for (int t = 0; t < 13; t++)
        {
            var logits = model.Step(cache, Tensor.From(new[] { idHost[t], idHost[13 + t] }, new[] { 2 }));
            Close.All(At(full, t), logits, 2e-4, 2e-5, $"{variant} step {t}");
        }
        Assert.Equal(13, cache.Position);
    }

    [Theory]
    [InlineData(TitansVariant.Mac)]
    [InlineData(TitansVariant.Mag)]
    [InlineData(TitansVariant.Mal)]
    public void ChunkedPrefillThenStepsEqualsTheParallelForm(TitansVariant variant)
    {
        var model = new TitansLM(Tiny(variant), new Rng(3));
        var ids = Ids(1, 12, seed: 4);
        using var noGrad = Autograd.NoGrad();
        var full = model.Forward(ids).Data;
        using var cache = model.AllocateCache(1);
        var prefill = model.Forward(Layout.Narrow(ids, 1, 0, 7), cache).Data; // ends mid-segment and mid-chunk
        Close.All(Layout.Narrow(full, 1, 0, 7), prefill, 2e-4, 2e-5, $"{variant} prefill");
        var more = model.Forward(Layout.Narrow(ids, 1, 7, 3), cache).Data;
        Close.All(Layout.Narrow(full, 1, 7, 3), more, 2e-4, 2e-5, $"{variant} second prefill");
        var idHost = ids.ToInt32Array();
        for (int t = 10; t < 12; t++)
            Close.All(At(full, t), model.Step(cache, Tensor.From(new[] { idHost[t] }, new[] { 1 })), 2e-4, 2e-5, $"{variant} step {t}");
    }

    [Theory]
    [InlineData(TitansVariant.Mac)]
    [InlineData(TitansVariant.Mag)]
    [InlineData(TitansVariant.Mal)]
    public void GreedyGenerationEqualsRepeatedParallelArgmax(TitansVariant variant)
    {
        var model = new TitansLM(Tiny(variant), new Rng(12));
        var prompt = new[] { 3, 1, 4, 1, 5 };
        var generated = Generator.Generate(model, new[] { prompt }, maxNewTokens: 7)[0];
        var sequence = prompt.ToList();
        using var noGrad = Autograd.NoGrad();
        for (int i = 0; i < 7; i++)
        {
            var logits = At(model.Forward(Tensor.From(sequence.ToArray(), new[] { 1, sequence.Count })).Data, sequence.Count - 1).ToArray(); // over the padded vocabulary, as the generator
            sequence.Add(Array.IndexOf(logits, logits.Max()));
        }
        Assert.Equal(sequence.Skip(prompt.Length).ToArray(), generated);
    }

    [Theory]
    [InlineData(TitansVariant.Mac)]
    [InlineData(TitansVariant.Mag)]
    [InlineData(TitansVariant.Mal)]
    public void LogitsDoNotDependOnFutureTokens(TitansVariant variant)
    {
        var model = new TitansLM(Tiny(variant), new Rng(5));
        var ids = Ids(1, 10, seed: 6).ToInt32Array();
        using var noGrad = Autograd.NoGrad();
        var a = model.Forward(Tensor.From(ids, new[] { 1, 10 })).Data;
        foreach (int changed in new[] { 9, 6, 5 })
        {
            var other = (int[])ids.Clone();
            other[changed] = (other[changed] + 1) % 11;
            var b = model.Forward(Tensor.From(other, new[] { 1, 10 })).Data;
            Close.All(Layout.Narrow(a, 1, 0, changed), Layout.Narrow(b, 1, 0, changed), 0, 0, $"{variant}: positions before {changed}");
            Assert.True(At(a, changed).ToArray().Zip(At(b, changed).ToArray(), (x, y) => Math.Abs(x - y)).Max() > 1e-6,
                $"{variant}: the changed token {changed} changed nothing");
        }
    }

    [Theory]
    [InlineData(TitansVariant.Mac)]
    [InlineData(TitansVariant.Mag)]
    [InlineData(TitansVariant.Mal)]
    public void MixerGradientsMatchFiniteDifferences(TitansVariant variant)
    {
        var config = TitansConfig.Create(variant, 8, 1, 11, heads: 2) with
        {
            Window = 3, SegmentLength = 2, PersistentTokens = 1,
            Memory = new NeuralMemoryConfig { DModel = 8, Heads = 1, HeadDim = 4, Depth = 2, Expansion = 1, ChunkSize = 2, ConvWidth = 2, MaxGradNorm = null },
        };
        var layer = new TitansLM(config, new Rng(7)).Layers[0].Mixer;
        var x = new Variable(new Rng(8).Normal(new[] { 1, 5, 8 }), requiresGrad: true);
        var inputs = layer.Parameters().Cast<Variable>().Prepend(x).ToArray();
        GradCheck.Assert(_ => layer.Forward(x), inputs, eps: 3e-3, maxElements: 4);
    }

    [Theory]
    [InlineData(TitansVariant.Mac)]
    [InlineData(TitansVariant.Mag)]
    [InlineData(TitansVariant.Mal)]
    public void TrainingStepsReduceTheLossOnARepeatedSequence(TitansVariant variant)
    {
        var model = new TitansLM(Tiny(variant, layers: 1), new Rng(9));
        var ids = Tensor.From(Enumerable.Range(0, 17).Select(i => i * 3 % 11).ToArray(), new[] { 1, 17 });
        var inputs = Layout.Narrow(ids, 1, 0, 16);
        var targets = Layout.Narrow(ids, 1, 1, 16);
        var opt = new AdamW(model.Parameters(), lr: 1e-2);
        float first = 0, last = 0;
        for (int step = 0; step < 25; step++)
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            var loss = F.CrossEntropy(F.Reshape(model.Forward(inputs), 16, model.VocabSize), targets.Reshape(16));
            loss.Backward();
            opt.Step();
            if (step == 0) first = loss.Item();
            last = loss.Item();
        }
        Assert.True(float.IsFinite(last) && last < 0.5f * first, $"{variant}: loss {first} → {last}");
    }

    [Fact]
    public void IlgpuMatchesCpuForTheMacModel()
    {
        var dev = TestDevices.Get("w4x4");
        var ids = Ids(1, 6, seed: 10);
        var results = new List<(float[] logits, float[] grad)>();
        foreach (var device in new Device[] { Device.Cpu, dev })
        {
            var model = new TitansLM(Tiny(TitansVariant.Mac, layers: 1), new Rng(11), device);
            var logits = model.Forward(ids.To(device));
            F.Sum(F.Square(logits)).Backward();
            results.Add((logits.Data.ToArray(), model.Layers[0].Mixer.Memory.InitialWeights[0].Grad!.ToArray()));
        }
        Close.All(results[0].logits, results[1].logits, 1e-4, 1e-5, "logits");
        Close.All(results[0].grad, results[1].grad, 1e-3, 1e-4, "initial memory weight gradient");
    }

    /// <summary>
    /// 16K tokens of a training step (forward, cross-entropy, backward) with the default stability settings: finite
    /// logits and gradients. Width 8: one layer, heads of 4. Width 64: the benchmark's layout (cases.json titans_models:
    /// 2 layers, 4 heads of 16, memory depth 2 / expansion 4 / chunk 16, window 128, segment 64, vocabulary 256), whose
    /// exact gradient through the memory's chunk chain overflows float32 from 8K tokens (MAC, MAG) without the
    /// backward clamp of the chunk-state gradient.
    /// </summary>
    [Theory]
    [Trait("Category", "Slow")]
    [InlineData(TitansVariant.Mac, 8)]
    [InlineData(TitansVariant.Mag, 8)]
    [InlineData(TitansVariant.Mal, 8)]
    [InlineData(TitansVariant.Mac, 64)]
    [InlineData(TitansVariant.Mag, 64)]
    [InlineData(TitansVariant.Mal, 64)]
    public void SixteenThousandTokensStayFinite(TitansVariant variant, int width)
    {
        TitansConfig config;
        int vocab;
        if (width == 8)
        {
            vocab = 11;
            config = TitansConfig.Create(variant, 8, 1, vocab, heads: 2) with
            {
                Window = 64, SegmentLength = 64, FfnHidden = 16,
                Memory = new NeuralMemoryConfig { DModel = 8, Heads = 2, HeadDim = 4, Expansion = 2, ChunkSize = 16 },
            };
        }
        else
        {
            vocab = 256;
            var c = TitansConfig.Create(variant, width, 2, vocab, heads: 4);
            config = c with { Window = 128, SegmentLength = 64, Memory = c.Memory with { ChunkSize = 16 } };
        }
        var model = new TitansLM(config, new Rng(13));
        using var scope = TensorScope.Begin();
        var rng = new Rng(14);
        var ids = Tensor.From(Enumerable.Range(0, 16385).Select(_ => rng.Next(vocab)).ToArray(), new[] { 1, 16385 });
        var logits = model.Forward(Layout.Narrow(ids, 1, 0, 16384));
        Assert.True(logits.Data.ToArray().All(float.IsFinite), $"{variant} width {width}: non-finite logits");
        F.CrossEntropy(F.Reshape(logits, 16384, model.VocabSize), Layout.Narrow(ids, 1, 1, 16384).Reshape(16384)).Backward();
        foreach (var (name, p) in model.NamedParameters())
            Assert.True(p.Grad!.ToArray().All(float.IsFinite), $"{variant} width {width}: gradient of {name} is not finite");
    }

    [Fact]
    public void VariantNamesParse()
    {
        Assert.Equal(TitansVariant.Mac, TitansConfig.ParseVariant("titans-mac"));
        Assert.Equal(TitansVariant.Mag, TitansConfig.ParseVariant("MAG"));
        Assert.Equal(TitansVariant.Mal, TitansConfig.ParseVariant(" titans-mal "));
        Assert.Contains("unknown Titans variant 'titans-xl'", Assert.Throws<ArgumentException>(() => TitansConfig.ParseVariant("titans-xl")).Message);
    }

    [Fact]
    public void BadConfigurationsAndInputsAreRejectedClearly()
    {
        var e = Assert.Throws<ArgumentException>(() => new TitansLM(Tiny(TitansVariant.Mac) with { SegmentLength = 5 }, new Rng(1)));
        Assert.Contains("segment_length 5 must be a positive multiple of the memory chunk size 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => new TitansLM(Tiny(TitansVariant.Mag) with { DModel = 12 }, new Rng(1)));
        Assert.Contains("memory d_model 16 differs from d_model 12", e.Message);
        var model = new TitansLM(Tiny(TitansVariant.Mag), new Rng(1));
        e = Assert.Throws<ArgumentException>(() => model.Forward(Ids(2, 3, 1), model.AllocateCache(1)));
        Assert.Contains("cache holds 1 sequences, expected 2", e.Message);
        e = Assert.Throws<ArgumentException>(() => model.Layers[0].Mixer.Forward(new Variable(Tensor.Zeros(new[] { 1, 3, 8 }))));
        Assert.Contains("x has shape [1, 3, 8], expected [*, *, 16]", e.Message);
        var mac = new TitansLM(Tiny(TitansVariant.Mac), new Rng(1));
        e = Assert.Throws<ArgumentException>(() => mac.Layers[0].Mixer.Forward(new Variable(Tensor.Zeros(new[] { 1, 3, 16 })), model.Layers[0].Mixer.AllocateCache(1)));
        Assert.Contains("not allocated by a MacLayer", e.Message);
    }
}
