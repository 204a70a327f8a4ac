using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Tests.Mamba;

public sealed class StateMitigationTests
{
    private const int DModel = 8, Batch = 2, Length = 13;

    // Slow decays (Δ up to 0.3, A in [0.5, 2]) so that the tokens before a window still weigh in h_t.
    private static Mamba2Config Small(int groups = 1) => new()
    {
        DModel = DModel, DState = 4, HeadDim = 4, Expand = 2, NGroups = groups, DConv = 3, ChunkSize = 4,
        AInitRange = (0.5, 2), DtMin = 0.05, DtMax = 0.3,
    };

    private static Tensor Input(int seed, int length = Length) => new Rng(seed).Normal(new[] { Batch, length, DModel });

    private static float[] Row(float[] y, int b, int t, int length) => y.AsSpan((b * length + t) * DModel, DModel).ToArray();

    /// <summary>Output at every t of the plain layer whose SSM state is restarted from zero r tokens back (conv history kept).</summary>
    private static float[] RestartedReference(Mamba2 layer, Tensor u, int r)
    {
        int length = u.Size(1);
        var y = new float[Batch * length * DModel];
        for (int t = 0; t < length; t++)
        {
            using var state = layer.AllocateState(Batch);
            int start = Math.Max(0, t - r + 1);
            if (start > 0) layer.Forward(new Variable(Layout.Narrow(u, 1, 0, start)), state);
            state.SsmState.Zero();
            var window = layer.Forward(new Variable(Layout.Narrow(u, 1, start, t - start + 1)), state).Data.ToArray();
            for (int b = 0; b < Batch; b++) Array.Copy(window, (b * (t - start + 1) + t - start) * DModel, y, (b * length + t) * DModel, DModel);
        }
        return y;
    }

    private static float[] Stepped(Mamba2 layer, Mamba2State state, Tensor u)
    {
        int length = u.Size(1);
        var y = new float[Batch * length * DModel];
        for (int t = 0; t < length; t++)
        {
            var yt = layer.Step(state, Layout.Narrow(u, 1, t, 1).Reshape(Batch, DModel)).ToArray();
            for (int b = 0; b < Batch; b++) Array.Copy(yt, b * DModel, y, (b * length + t) * DModel, DModel);
        }
        return y;
    }

    private static float[] Prefilled(Mamba2 layer, Mamba2State state, Tensor u, int[] splits)
    {
        int length = u.Size(1), at = 0;
        var y = new float[Batch * length * DModel];
        foreach (var len in splits)
        {
            var piece = layer.Forward(new Variable(Layout.Narrow(u, 1, at, len)), state).Data.ToArray();
            for (int b = 0; b < Batch; b++) Array.Copy(piece, b * len * DModel, y, (b * length + at) * DModel, len * DModel);
            at += len;
        }
        return y;
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 1)]
    [InlineData(5, 2)]
    [InlineData(20, 1)]
    public void WindowEqualsTheRecurrenceRestartedRTokensBack(int r, int groups)
    {
        var layer = new Mamba2(Small(groups), new Rng(11), Device.Cpu);
        var u = Input(12);
        using var noGrad = Autograd.NoGrad();
        var plain = layer.Forward(new Variable(u)).Data.ToArray();
        var expected = RestartedReference(layer, u, r);
        if (r < Length - 2)
            Assert.True(plain.Zip(expected).Max(p => Math.Abs(p.First - p.Second)) > 1e-2, "the window must change the output for this test to mean anything");

        layer.Mitigation = StateMitigation.SlidingWindow(r);
        Close.All(expected, layer.Forward(new Variable(u)).Data.ToArray(), 1e-4, 1e-5, $"parallel, no state, r={r}");
        foreach (var splits in new[] { new[] { 13 }, new[] { 4, 6, 3 }, new[] { 1, 1, 9, 2 } })
        {
            using var state = layer.AllocateState(Batch);
            Close.All(expected, Prefilled(layer, state, u, splits), 1e-4, 1e-5, $"parallel with state {string.Join("|", splits)}, r={r}");
            Assert.Equal(Length, state.Tokens);
        }
        using var stepState = layer.AllocateState(Batch);
        Close.All(expected, Stepped(layer, stepState, u), 1e-4, 1e-5, $"step, r={r}");

        // The state the output reads is the restarted recurrence's state.
        using var restarted = layer.AllocateState(Batch);
        layer.Mitigation = StateMitigation.None;
        int start = Math.Max(0, Length - r);
        if (start > 0) layer.Forward(new Variable(Layout.Narrow(u, 1, 0, start)), restarted);
        restarted.SsmState.Zero();
        layer.Forward(new Variable(Layout.Narrow(u, 1, start, Length - start)), restarted);
        Close.All(restarted.SsmState.ToArray(), stepState.ReadoutState().ToArray(), 1e-4, 1e-5, "readout state");
    }

    [Fact]
    public void WindowNeedsTheStateHistoryAndAFixedRadius()
    {
        var layer = new Mamba2(Small(), new Rng(1), Device.Cpu);
        var u = Input(2, 4);
        using var noGrad = Autograd.NoGrad();
        using var state = layer.AllocateState(Batch);
        layer.Forward(new Variable(u), state);
        layer.Mitigation = StateMitigation.SlidingWindow(2);
        var e = Assert.Throws<InvalidOperationException>(() => layer.Forward(new Variable(u), state));
        Assert.Contains("first token", e.Message);
        state.Reset();
        layer.Forward(new Variable(u), state);
        layer.Mitigation = StateMitigation.SlidingWindow(3);
        Assert.Contains("window of 2 tokens", Assert.Throws<InvalidOperationException>(() => layer.Forward(new Variable(u), state)).Message);
    }

    [Fact]
    public void InferenceOnlyMitigationsRefuseToDropGradients()
    {
        var layer = new Mamba2(Small(), new Rng(1), Device.Cpu) { Mitigation = StateMitigation.SlidingWindow(2) };
        var e = Assert.Throws<InvalidOperationException>(() => layer.Forward(new Variable(Input(2, 4))));
        Assert.Contains("NoGrad", e.Message);
        layer.Mitigation = StateMitigation.Normalize(1);
        Assert.Throws<InvalidOperationException>(() => layer.Forward(new Variable(Input(2, 4))));
    }

    [Fact]
    public void RriWithUnitFactorsIsThePlainModel()
    {
        var layer = new Mamba2(Small(2), new Rng(21), Device.Cpu);
        var u = Input(22);
        using var noGrad = Autograd.NoGrad();
        using var plainState = layer.AllocateState(Batch);
        var plain = Prefilled(layer, plainState, u, new[] { 6, 7 });
        layer.Mitigation = StateMitigation.Rri(1, 1);
        using var rriState = layer.AllocateState(Batch);
        Close.All(plain, Prefilled(layer, rriState, u, new[] { 6, 7 }), 1e-5, 1e-6, "parallel");
        Close.All(plainState.SsmState, rriState.SsmState, 1e-5, 1e-6, "state");
        using var stepState = layer.AllocateState(Batch);
        Close.All(plain, Stepped(layer, stepState, u), 1e-4, 1e-5, "step");
    }

    [Fact]
    public void RriScalesRetentionAndInsertion()
    {
        var layer = new Mamba2(Small(), new Rng(31), Device.Cpu);
        var u = Input(32);
        using var noGrad = Autograd.NoGrad();
        using var plain = layer.AllocateState(Batch);
        layer.Forward(new Variable(u), plain);

        // B ← f_B·B with α unchanged: the state is linear in B (zero initial state), so it scales by f_B.
        layer.Mitigation = StateMitigation.Rri(1, 0.5);
        using var half = layer.AllocateState(Batch);
        layer.Forward(new Variable(u), half);
        Close.All(Elementwise.Scale(plain.SsmState, 0.5f), half.SsmState, 1e-5, 1e-6, "insertion factor");

        // α ← f_α·α: ln α_{1:t} drops by t·ln f_α; the parallel and step forms agree.
        var rri = StateMitigation.Rri(0.9, 0.75);
        layer.Mitigation = rri;
        using var reduced = layer.AllocateState(Batch);
        var parallel = Prefilled(layer, reduced, u, new[] { 5, 8 });
        var shift = (float)(Length * Math.Log(0.9));
        Close.All(plain.LogRetention.ToArray().Select(v => v + shift).ToArray(), reduced.LogRetention.ToArray(), 1e-5, 1e-5, "retention");
        using var stepped = layer.AllocateState(Batch);
        Close.All(parallel, Stepped(layer, stepped, u), 1e-4, 1e-5, "rri step vs parallel");
        Close.All(reduced.SsmState, stepped.SsmState, 1e-4, 1e-5, "rri states");
        Assert.True(plain.SsmState.ToArray().Zip(reduced.SsmState.ToArray()).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    [Fact]
    public void RriIsDifferentiable()
    {
        var layer = new Mamba2(Small(2) with { ChunkSize = 3 }, new Rng(5), Device.Cpu) { Mitigation = StateMitigation.Rri(0.9, 0.75) };
        var u = new Variable(new Rng(6).Normal(new[] { 1, 7, DModel }, std: 0.5), requiresGrad: true);
        var inputs = new List<Variable> { u };
        inputs.AddRange(layer.Parameters());
        GradCheck.Assert(v => layer.Forward(v[0]), inputs.ToArray(), eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxElements: 12);
    }

    [Fact]
    public void NormalizationWithAnInfiniteBoundIsThePlainModel()
    {
        var layer = new Mamba2(Small(), new Rng(41), Device.Cpu);
        var u = Input(42);
        using var noGrad = Autograd.NoGrad();
        using var plainState = layer.AllocateState(Batch);
        var plain = Prefilled(layer, plainState, u, new[] { 9, 4 });
        layer.Mitigation = StateMitigation.Normalize(double.PositiveInfinity);
        using var state = layer.AllocateState(Batch);
        Close.All(plain, Prefilled(layer, state, u, new[] { 9, 4 }), 1e-4, 1e-5, "outputs");
        Close.All(plainState.SsmState, state.SsmState, 1e-4, 1e-5, "state");
    }

    [Fact]
    public void NormalizationKeepsEveryHeadsStateWithinTheBound()
    {
        var config = Small();
        var layer = new Mamba2(config, new Rng(51), Device.Cpu);
        var u = Input(52);
        using var noGrad = Autograd.NoGrad();
        using var plain = layer.AllocateState(Batch);
        var norms = new List<double>();
        for (int t = 0; t < Length; t++)
        {
            layer.Step(plain, Layout.Narrow(u, 1, t, 1).Reshape(Batch, DModel));
            norms.AddRange(HeadNorms(plain.SsmState, config));
        }
        double bound = 0.5 * norms.Max();
        Assert.True(norms.Count(n => n > bound) > 2, "the bound must bind for this test to mean anything");

        layer.Mitigation = StateMitigation.Normalize(bound);
        using var state = layer.AllocateState(Batch);
        var stepped = new float[Batch * Length * DModel];
        for (int t = 0; t < Length; t++)
        {
            var yt = layer.Step(state, Layout.Narrow(u, 1, t, 1).Reshape(Batch, DModel)).ToArray();
            for (int b = 0; b < Batch; b++) Array.Copy(yt, b * DModel, stepped, (b * Length + t) * DModel, DModel);
            Assert.All(HeadNorms(state.SsmState, config), n => Assert.True(n <= bound * (1 + 1e-5), $"norm {n} > bound {bound} at t={t}"));
        }
        using var parallelState = layer.AllocateState(Batch);
        Close.All(stepped, Prefilled(layer, parallelState, u, new[] { 5, 8 }), 1e-4, 1e-5, "parallel vs step");
        Close.All(state.SsmState, parallelState.SsmState, 1e-4, 1e-5, "final state");
    }

    private static IEnumerable<double> HeadNorms(Tensor state, Mamba2Config c)
    {
        var h = state.ToArray();
        int per = c.HeadDim * c.DState;
        for (int i = 0; i < h.Length / per; i++)
            yield return Math.Sqrt(h.AsSpan(i * per, per).ToArray().Sum(v => (double)v * v));
    }

    [Fact]
    public void RetentionIsTheProductOfThePerStepDecays()
    {
        var c = Small();
        var layer = new Mamba2(c, new Rng(61), Device.Cpu);
        var u = Input(62);
        using var noGrad = Autograd.NoGrad();
        using var state = layer.AllocateState(Batch);
        layer.Forward(new Variable(Layout.Narrow(u, 1, 0, 6)), state);
        Stepped(layer, state, Layout.Narrow(u, 1, 6, Length - 6));

        // Δ_t = softplus(dt_raw + dt_bias) with dt_raw the last nheads outputs of in_proj; α_{1:t} = Π_t exp(Δ_t a).
        float[] w = layer.InProj.Weight.Data.ToArray(), us = u.ToArray(), bias = layer.DtBias.Data.ToArray(), aLog = layer.ALog.Data.ToArray();
        var product = new double[Batch * c.NHeads];
        for (int b = 0; b < Batch; b++)
        for (int h = 0; h < c.NHeads; h++)
        {
            double p = 1;
            int row = c.DInProj - c.NHeads + h;
            for (int t = 0; t < Length; t++)
            {
                double raw = bias[h];
                for (int k = 0; k < DModel; k++) raw += w[row * DModel + k] * (double)us[(b * Length + t) * DModel + k];
                double delta = Math.Log(1 + Math.Exp(raw));
                p *= Math.Exp(-delta * Math.Exp(aLog[h]));
            }
            product[b * c.NHeads + h] = p;
        }
        Close.All(product.Select(v => (float)v).ToArray(), state.LogRetention.ToArray().Select(v => MathF.Exp(v)).ToArray(), 1e-4, 1e-7, "α_{1:t}");
        Assert.Equal(Length, state.Tokens);
    }

    [Fact]
    public void CarriedStateGivesCorrectGradients()
    {
        // Truncated BPTT: the state from a first segment is a constant for the second; gradients of the second are exact.
        var layer = new Mamba2(Small(2) with { ChunkSize = 3 }, new Rng(71), Device.Cpu);
        var first = new Rng(72).Normal(new[] { 1, 5, DModel }, std: 0.5);
        var second = new Variable(new Rng(73).Normal(new[] { 1, 6, DModel }, std: 0.5), requiresGrad: true);
        var inputs = new List<Variable> { second };
        inputs.AddRange(layer.Parameters());
        using var carried = layer.AllocateState(1);
        using (Autograd.NoGrad()) layer.Forward(new Variable(first), carried);
        Assert.True(carried.SsmState.ToArray().Max(Math.Abs) > 1e-2);
        GradCheck.Assert(v =>
        {
            using var state = layer.AllocateState(1);
            state.ConvState.CopyFrom(carried.ConvState);
            state.SsmState.CopyFrom(carried.SsmState);
            return layer.Forward(v[0], state);
        }, inputs.ToArray(), eps: 1e-2, atol: 2e-3, rtol: 2e-2, maxElements: 12);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("rri")]
    [InlineData("rri:0.99,0.5")]
    [InlineData("window:64")]
    [InlineData("normalize:2.5")]
    [InlineData("normalize:inf")]
    public void ParseRoundTrips(string text)
    {
        var m = StateMitigation.Parse(text);
        Assert.Equal(m, StateMitigation.Parse(m.ToString()));
        Assert.Equal(text, m.ToString());
    }

    [Theory]
    [InlineData("window", "unknown mitigation")]
    [InlineData("window:0", "at least 1")]
    [InlineData("window:x", "not an integer")]
    [InlineData("rri:2,1", "(0, 1]")]
    [InlineData("rri:0.9", "two factors")]
    [InlineData("normalize:-1", "positive")]
    [InlineData("clip:3", "unknown mitigation")]
    public void ParseRejectsBadSpellings(string text, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => StateMitigation.Parse(text));
        Assert.Contains(message, e.Message);
        Assert.Contains(text, e.Message);
    }
}

[Collection("ilgpu")]
public sealed class StateMitigationIlgpuTests
{
    private static MambaLMHeadModel Model(Device device) => new(new MambaLMConfig
    {
        DModel = 8, NLayer = 2, VocabSize = 20,
        Mixer = new Mamba2Config { DModel = 8, DState = 4, HeadDim = 4, DConv = 3, ChunkSize = 4, AInitRange = (0.5, 2), DtMin = 0.05, DtMax = 0.3 },
    }, new Rng(91), device);

    [Theory]
    [InlineData("rri:0.9,0.75")]
    [InlineData("window:3")]
    [InlineData("normalize:0.2")]
    public void MitigationsGiveTheSameResultsOnIlgpu(string mitigation)
    {
        var m = StateMitigation.Parse(mitigation);
        var rng = new Rng(92);
        var ids = Enumerable.Range(0, 2 * 9).Select(_ => rng.Next(20)).ToArray();
        (float[] Prefill, float[] Steps, float[] Readout, float[] Retention) Run(Device device)
        {
            var model = Model(device);
            model.Mitigation = m;
            using var noGrad = Autograd.NoGrad();
            var t = Tensor.From(ids, new[] { 2, 9 }, device);
            using var cache = model.AllocateCache(2);
            var first = model.Forward(Layout.Narrow(t, 1, 0, 5), cache).Data.ToArray();
            var steps = new List<float>(first);
            for (int i = 5; i < 9; i++) steps.AddRange(model.Step(cache, Layout.Narrow(t, 1, i, 1).Reshape(2)).ToArray());
            return (model.Forward(t).Data.ToArray(), steps.ToArray(), cache.Layers[1].ReadoutState().ToArray(), cache.Layers[1].LogRetention.ToArray());
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(TestDevices.Get("w4x4"));
        Close.All(cpu.Prefill, gpu.Prefill, 1e-4, 1e-5, $"{m}: parallel");
        Close.All(cpu.Steps, gpu.Steps, 1e-4, 1e-5, $"{m}: prefill + steps");
        Close.All(cpu.Readout, gpu.Readout, 1e-4, 1e-5, $"{m}: readout state");
        Close.All(cpu.Retention, gpu.Retention, 1e-5, 1e-5, $"{m}: retention");
    }
}
