using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Optim;
using Ssm.S4;

namespace Ssm.Tests.S4;

public sealed class S4ModelTests
{
    private static Tensor Ids(int batch, int length, int vocab, int seed)
    {
        var rng = new Rng(seed);
        return Tensor.From(Enumerable.Range(0, batch * length).Select(_ => rng.Next(vocab)).ToArray(), new[] { batch, length });
    }

    /// <summary>Runs AdamW (with the S4 parameter groups) for a few steps on one fixed batch; returns the first and last loss.</summary>
    private static (float First, float Last) Train(Module model, IReadOnlyList<ParamGroup> groups, Func<Variable> loss, int steps)
    {
        var opt = new AdamW(groups, lr: 1e-2, weightDecay: 0.01);
        float first = 0, last = 0;
        for (int s = 0; s < steps; s++)
        {
            using var scope = TensorScope.Begin();
            opt.ZeroGrad();
            var l = loss();
            if (s == 0) first = l.Item();
            last = l.Item();
            l.Backward();
            opt.Step();
        }
        return (first, last);
    }

    [Theory]
    [InlineData(S4LayerKind.S4D, false)]
    [InlineData(S4LayerKind.S4, true)]
    public void ClassifierOnTokensHasTheRightShapesIgnoresPaddingAndLearns(S4LayerKind kind, bool bidirectional)
    {
        var config = new S4ClassifierConfig { DModel = 8, NLayers = 2, NumClasses = 3, VocabSize = 11, Layer = kind, DState = 8, Bidirectional = bidirectional, DtMin = 0.01, DtMax = 0.2 };
        using var model = new S4Classifier(config, new Rng(41));
        var names = model.StateDict().Keys.ToList();
        Assert.Equal("encoder.weight", names[0]);
        Assert.Equal(kind == S4LayerKind.S4D ? "s4_layers.0.D" : "s4_layers.0.layer.D", names[1]);
        Assert.Contains("s4_layers.1.output_linear.0.bias", names);
        Assert.Contains("norms.1.weight", names);
        Assert.Equal("decoder.bias", names[^1]);
        var ids = Ids(4, 12, 11, 42);
        var lengths = Tensor.From(new[] { 12, 7, 3, 9 }, new[] { 4 });
        model.Eval();
        using (Autograd.NoGrad())
        {
            var logits = model.Forward(ids, lengths).Data;
            Assert.Equal(new[] { 4, 3 }, logits.ShapeArray());
            // Changing padded tokens leaves the logits unchanged (also for a bidirectional model).
            var changed = ids.ToInt32Array();
            for (int t = 7; t < 12; t++) changed[12 + t] = (changed[12 + t] + 5) % 11;
            for (int t = 3; t < 12; t++) changed[24 + t] = (changed[24 + t] + 1) % 11;
            var again = model.Forward(Tensor.From(changed, new[] { 4, 12 }), lengths).Data;
            Close.All(logits.ToArray(), again.ToArray(), 1e-5, 1e-6, "padding");
            // Without lengths the same padded tokens do matter.
            Assert.NotEqual(model.Forward(ids).Data.ToArray(), model.Forward(Tensor.From(changed, new[] { 4, 12 })).Data.ToArray());
        }
        model.Train();
        var targets = Tensor.From(new[] { 0, 1, 2, 1 }, new[] { 4 });
        var (first, last) = Train(model, model.ParameterGroups(), () => F.CrossEntropy(model.Forward(ids, lengths), targets), 20);
        Assert.True(last < 0.5 * first, $"{kind}: loss {first} → {last}");
    }

    [Fact]
    public void ClassifierOnRealValuedFeaturesHasTheRightShapesAndLearns()
    {
        var config = new S4ClassifierConfig { DModel = 8, NLayers = 1, NumClasses = 2, DInput = 3, DState = 4, Prenorm = false, Dropout = 0.1f };
        using var model = new S4Classifier(config, new Rng(43));
        var x = new Rng(44).Normal(new[] { 4, 10, 3 });
        Assert.Equal(new[] { 4, 2 }, model.Forward(x).Data.ShapeArray());
        var targets = Tensor.From(new[] { 0, 1, 1, 0 }, new[] { 4 });
        var groups = model.ParameterGroups(ssmLr: 1e-3);
        Assert.Equal(3, groups[1].Parameters.Count);
        var (first, last) = Train(model, groups, () => F.CrossEntropy(model.Forward(x), targets), 20);
        Assert.True(last < 0.5 * first, $"loss {first} → {last}");
        var e = Assert.Throws<ArgumentException>(() => model.Forward(new Rng(1).Normal(new[] { 4, 10, 5 })));
        Assert.Contains("input has shape [4, 10, 5], expected [*, *, 3]", e.Message);
        Assert.Throws<ArgumentException>(() => new S4Classifier(config with { VocabSize = 5 }, new Rng(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(x, Tensor.From(new[] { 1, 11, 2, 3 }, new[] { 4 })));
    }

    [Fact]
    public void LanguageModelStepsPrefillsAndGeneratesLikeItsConvolutionalForm()
    {
        var config = new S4DLanguageModelConfig { VocabSize = 13, DModel = 8, NLayers = 2, DState = 8, DtMin = 0.01, DtMax = 0.3 };
        using var model = new S4DLanguageModel(config, new Rng(45));
        model.Eval();
        Assert.Equal(new[] { "embedding.weight", "layers.0.norm.weight", "layers.0.norm.bias", "layers.0.mixer.D", "layers.0.mixer.kernel.C" },
            model.StateDict().Keys.Take(5));
        const int batch = 2, length = 15;
        var ids = Ids(batch, length, 13, 46);
        float[] full;
        using (Autograd.NoGrad()) full = model.Forward(ids).Data.ToArray();
        Assert.Equal(batch * length * 13, full.Length);

        IRecurrentLanguageModel lm = model;
        using var cache = lm.AllocateInferenceCache(batch);
        var host = ids.ToInt32Array();
        var stepped = new float[full.Length];
        for (int t = 0; t < length; t++)
        {
            var logits = lm.Step(cache, Tensor.From(new[] { host[t], host[length + t] }, new[] { batch })).ToArray();
            for (int b = 0; b < batch; b++) Array.Copy(logits, b * 13, stepped, (b * length + t) * 13, 13);
        }
        Assert.Equal(length, cache.Position);
        Close.All(full, stepped, 1e-4, 1e-4, "step-by-step logits");

        // Prefill 9 tokens, then step the rest.
        using var cache2 = model.AllocateCache(batch);
        float[] prefix;
        using (Autograd.NoGrad()) prefix = model.Forward(Tensor.From(Enumerable.Range(0, batch).SelectMany(b => host.Skip(b * length).Take(9)).ToArray(), new[] { batch, 9 }), cache2).Data.ToArray();
        for (int b = 0; b < batch; b++)
            Close.All(full.AsSpan((b * length) * 13, 9 * 13), prefix.AsSpan(b * 9 * 13, 9 * 13), 1e-4, 1e-4, "prefill logits");
        for (int t = 9; t < length; t++)
        {
            var logits = model.Step(cache2, Tensor.From(new[] { host[t], host[length + t] }, new[] { batch })).ToArray();
            for (int b = 0; b < batch; b++)
                Close.All(full.AsSpan((b * length + t) * 13, 13), logits.AsSpan(b * 13, 13), 1e-4, 1e-4, $"logits after prefill, t = {t}");
        }

        var generated = Generator.Generate(model, new[] { new[] { 1, 2, 3 }, new[] { 4, 5 } }, maxNewTokens: 4);
        Assert.All(generated, g => Assert.Equal(4, g.Length));
    }

    [Fact]
    public void LanguageModelLearnsAFixedBatch()
    {
        var config = new S4DLanguageModelConfig { VocabSize = 7, DModel = 8, NLayers = 1, DState = 4, TieEmbeddings = false, Discretization = Discretization.Bilinear };
        using var model = new S4DLanguageModel(config, new Rng(47));
        Assert.NotNull(model.LmHead);
        var seq = Enumerable.Range(0, 2 * 17).Select(i => i % 7).ToArray(); // a periodic sequence: next = current + 1
        var ids = Tensor.From(seq, new[] { 2, 17 });
        var inputs = Layout.Narrow(ids, 1, 0, 16);
        var targets = Layout.Narrow(ids, 1, 1, 16);
        var (first, last) = Train(model, model.ParameterGroups(), () => F.CrossEntropy(model.Forward(inputs), targets), 25);
        Assert.True(last < 0.5 * first, $"loss {first} → {last}");
    }
}
