using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Tests.Mamba;

public sealed class Mamba2Tests
{
    private static Mamba2Config Small(int groups = 1) => new()
    {
        DModel = 8, DState = 4, HeadDim = 4, Expand = 2, NGroups = groups, DConv = 3, ChunkSize = 4,
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ParallelEqualsStepEqualsChunkedPrefill(int groups)
    {
        var layer = new Mamba2(Small(groups), new Rng(3), Device.Cpu);
        var u = new Rng(4).Normal(new[] { 2, 11, 8 });
        using var noGrad = Autograd.NoGrad();
        var full = layer.Forward(new Variable(u)).Data.ToArray();

        // Token by token.
        using var state = layer.AllocateState(2);
        var stepped = new float[full.Length];
        for (int t = 0; t < 11; t++)
        {
            var xt = Layout.Narrow(u, 1, t, 1).Reshape(2, 8);
            var yt = layer.Step(state, xt).ToArray();
            for (int b = 0; b < 2; b++) Array.Copy(yt, b * 8, stepped, (b * 11 + t) * 8, 8);
        }
        Close.All(full, stepped, 1e-4, 1e-5, "step vs parallel");

        // Chunked prefill split at arbitrary points (1 | 5 | 5), continuing with steps equals the same.
        foreach (var splits in new[] { new[] { 1, 5, 5 }, new[] { 7, 4 }, new[] { 2, 2, 7 } })
        {
            using var s = layer.AllocateState(2);
            var pieces = new List<float[]>();
            int at = 0;
            foreach (var len in splits)
            {
                pieces.Add(layer.Forward(new Variable(Layout.Narrow(u, 1, at, len)), s).Data.ToArray());
                at += len;
            }
            var joined = new float[full.Length];
            at = 0;
            for (int p = 0; p < splits.Length; p++)
            {
                for (int b = 0; b < 2; b++) Array.Copy(pieces[p], b * splits[p] * 8, joined, (b * 11 + at) * 8, splits[p] * 8);
                at += splits[p];
            }
            Close.All(full, joined, 1e-4, 1e-5, $"prefill {string.Join("|", splits)}");
            Close.All(state.SsmState.ToArray(), s.SsmState.ToArray(), 1e-4, 1e-5, "final ssm state");
            Close.All(state.ConvState.ToArray(), s.ConvState.ToArray(), 1e-6, 1e-7, "final conv state");
        }
    }

    [Fact]
    public void BlockGradientsMatchFiniteDifferences()
    {
        var layer = new Mamba2(Small(2) with { ChunkSize = 3 }, new Rng(5), Device.Cpu);
        var u = new Variable(new Rng(6).Normal(new[] { 1, 7, 8 }, std: 0.5), requiresGrad: true);
        var inputs = new List<Variable> { u };
        inputs.AddRange(layer.Parameters());
        GradCheck.Assert(v => layer.Forward(v[0]), inputs.ToArray(), eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxElements: 12);
    }

    [Fact]
    public void InitializationFollowsMambaSsm()
    {
        var c = Small() with { DModel = 32, HeadDim = 8 };
        var layer = new Mamba2(c, new Rng(7), Device.Cpu);
        var a = layer.ALog.Data.ToArray().Select(v => Math.Exp(v)).ToArray();
        Assert.All(a, v => Assert.InRange(v, 1, 16));
        var dt = layer.DtBias.Data.ToArray().Select(v => Math.Log(1 + Math.Exp(v))).ToArray(); // softplus(dt_bias) = Δ₀
        Assert.All(dt, v => Assert.InRange(v, 1e-3 * 0.999, 0.1 * 1.001));
        Assert.All(layer.D.Data.ToArray(), v => Assert.Equal(1f, v));
        Assert.Equal(new[] { c.DInProj, 32 }, layer.InProj.Weight.Data.ShapeArray());
        Assert.Equal(new[] { c.ConvDim, 1, 3 }, layer.Conv1d.Weight.Data.ShapeArray());
        var names = layer.NamedParameters().Select(p => p.Name).ToArray();
        Assert.Equal(new[] { "dt_bias", "A_log", "D", "in_proj.weight", "conv1d.weight", "conv1d.bias", "norm.weight", "out_proj.weight" }, names);
        Assert.Equal(new[] { "dt_bias", "A_log", "D" }, names.Where(Mamba2.IsSsmParameter));
    }

    [Fact]
    public void BadInputIsAClearError()
    {
        var layer = new Mamba2(Small(), new Rng(1), Device.Cpu);
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 2, 5, 7 }))));
        Assert.Contains("[2, 5, 7]", e.Message);
        Assert.Contains("d_model", e.Message);
        using var state = layer.AllocateState(3);
        Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 2, 5, 8 })), state));
        Assert.Throws<ArgumentException>(() => new Mamba2(Small() with { HeadDim = 5 }, new Rng(1)));
    }

    [Fact]
    public void GreedyGenerationMatchesArgmaxOfTheFullForward()
    {
        var model = MambaLMHeadModel.Load(MambaReferenceTests.TinyDir, Device.Cpu);
        var prompts = new[] { new[] { 5, 17, 3 }, new[] { 9, 1, 40, 2, 7 } };
        var generated = Generator.Generate(model, prompts, maxNewTokens: 6);
        using var noGrad = Autograd.NoGrad();
        for (int b = 0; b < prompts.Length; b++)
        {
            Assert.Equal(6, generated[b].Length);
            var seq = prompts[b].ToList();
            foreach (var token in generated[b])
            {
                using var scope = TensorScope.Begin();
                var logits = model.Forward(Tensor.From(seq.ToArray(), new[] { 1, seq.Count })).Data;
                var last = Layout.Narrow(logits, 1, seq.Count - 1, 1).ToArray();
                Assert.Equal(SamplingOptions.ArgMax(last), token);
                seq.Add(token);
            }
        }
        var sampled = Generator.Generate(model, prompts, 4, new SamplingOptions { Temperature = 0.8, TopK = 10, TopP = 0.9 }, new Rng(1));
        var again = Generator.Generate(model, prompts, 4, new SamplingOptions { Temperature = 0.8, TopK = 10, TopP = 0.9 }, new Rng(1));
        Assert.Equal(sampled, again);
        Assert.Throws<ArgumentOutOfRangeException>(() => Generator.Generate(model, new[] { new[] { 96 } }, 1));
    }
}
