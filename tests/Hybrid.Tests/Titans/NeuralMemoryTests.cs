using Ssm.Hybrid.Titans;
using Ssm.Kernels;

namespace Ssm.Hybrid.Tests.Titans;

[Collection("ilgpu")]
public sealed class NeuralMemoryTests
{
    private static NeuralMemoryConfig Small(int chunk = 3, int conv = 3, int depth = 2, float? clamp = null) => new()
    {
        DModel = 12, Heads = 2, HeadDim = 4, Depth = depth, Expansion = 2, ChunkSize = chunk, ConvWidth = conv,
        MaxLearningRate = 0.5f, LearningRateBias = 0.5f, MaxGradNorm = clamp,
    };

    private static Tensor Input(int batch, int length, int dModel, int seed, Device? device = null)
        => new Rng(seed).Normal(new[] { batch, length, dModel }, device: device);

    /// <summary>Rows [t, t + n) of x [B, L, D] as a new tensor.</summary>
    private static Tensor Rows(Tensor x, int t, int n) => Layout.Narrow(x, 1, t, n);

    [Theory]
    [InlineData(3, 3, 2, null)]
    [InlineData(3, 3, 2, 0.5f)]
    [InlineData(1, 4, 1, null)]
    [InlineData(4, 0, 3, null)]
    public void TokenByTokenStreamingEqualsTheWholeSequence(int chunk, int conv, int depth, float? clamp)
    {
        var memory = new NeuralMemory(Small(chunk, conv, depth, clamp), new Rng(1));
        var x = Input(2, 10, 12, seed: 2);
        using var noGrad = Autograd.NoGrad();
        var full = memory.Forward(new Variable(x)).Data;
        using var cache = new NeuralMemoryCache(memory, 2);
        for (int t = 0; t < 10; t++)
        {
            var (y, next) = memory.Forward(new Variable(Rows(x, t, 1)), cache.AsStream());
            cache.Store(next);
            Close.All(Rows(full, t, 1), y.Data, 1e-4, 1e-5, $"token {t}");
        }
    }

    [Fact]
    public void ChunkedPrefillThenStepsEqualsTheWholeSequence()
    {
        var memory = new NeuralMemory(Small(chunk: 4), new Rng(3));
        var x = Input(1, 11, 12, seed: 4);
        using var noGrad = Autograd.NoGrad();
        var full = memory.Forward(new Variable(x)).Data;
        using var cache = new NeuralMemoryCache(memory, 1);
        int at = 0;
        foreach (int n in new[] { 6, 1, 3, 1 }) // 6 ends mid-chunk; 3 crosses a boundary
        {
            var (y, next) = memory.Forward(new Variable(Rows(x, at, n)), cache.AsStream());
            cache.Store(next);
            Close.All(Rows(full, at, n), y.Data, 1e-4, 1e-5, $"tokens [{at}, {at + n})");
            at += n;
        }
        Assert.Equal(11 % 4, cache.Offset);
    }

    [Fact]
    public void GradientsOfTheInputAndEveryParameterMatchFiniteDifferences()
    {
        // The exact gradient: no backward clamp (its default bound 1 is below this check's state gradients).
        var memory = new NeuralMemory(Small(chunk: 2) with { DModel = 6, HeadDim = 3, MaxStateGradNorm = null }, new Rng(5));
        var x = new Variable(Input(1, 5, 6, seed: 6), requiresGrad: true);
        var parameters = memory.Parameters().Cast<Variable>().ToArray();
        var inputs = parameters.Prepend(x).ToArray();
        GradCheck.Assert(_ => memory.Forward(x), inputs, eps: 3e-3, maxElements: 6);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpuForwardAndBackward(string shape)
    {
        var dev = TestDevices.Get(shape);
        var results = new List<(float[] y, float[][] grads)>();
        foreach (var device in new Device[] { Device.Cpu, dev })
        {
            var memory = new NeuralMemory(Small(chunk: 3), new Rng(7), device);
            var x = new Variable(Input(2, 7, 12, seed: 8, device), requiresGrad: true);
            var y = memory.Forward(x);
            F.Sum(F.Square(y)).Backward();
            results.Add((y.Data.ToArray(), memory.Parameters().Select(p => p.Grad!.ToArray()).Append(x.Grad!.ToArray()).ToArray()));
        }
        Close.All(results[0].y, results[1].y, 1e-4, 1e-5, "y");
        for (int i = 0; i < results[0].grads.Length; i++)
            Close.All(results[0].grads[i], results[1].grads[i], 1e-3, 1e-4, $"gradient {i}");
    }

    /// <summary>The default stability settings (gradient clamp 4, θ ≤ 0.1) over 16K random tokens: no NaN or ∞ anywhere.</summary>
    [Fact]
    public void SixteenThousandTokensStayFiniteForwardAndBackward()
    {
        var config = new NeuralMemoryConfig { DModel = 8, Heads = 2, HeadDim = 4, Depth = 2, Expansion = 2, ChunkSize = 16 };
        var memory = new NeuralMemory(config, new Rng(9));
        var x = new Variable(Input(1, 16384, 8, seed: 10), requiresGrad: true);
        var y = memory.Forward(x);
        Assert.All(y.Data.ToArray(), v => Assert.True(float.IsFinite(v)));
        F.Mean(F.Square(y)).Backward();
        Assert.All(x.Grad!.ToArray(), v => Assert.True(float.IsFinite(v)));
        foreach (var (name, p) in memory.NamedParameters())
            Assert.True(p.Grad!.ToArray().All(float.IsFinite), $"gradient of {name} is not finite");
    }

    /// <summary>
    /// A memory whose inner steps are large (θ ≈ 1.8, 256 chunks of 4): the forward stays bounded (the per-token
    /// gradient clamp), but the exact gradient through the chain of chunk updates grows exponentially and overflows
    /// float32 (checked: without the backward clamp some gradient is NaN/∞). With the default settings (the backward
    /// clamp of each chunk-end state's gradient) every gradient is finite.
    /// </summary>
    [Fact]
    public void GradientsThroughManyUnstableChunksStayFiniteWithTheDefaultSettings()
    {
        var config = new NeuralMemoryConfig { DModel = 8, Heads = 2, HeadDim = 4, Depth = 2, Expansion = 2, ChunkSize = 4, MaxLearningRate = 2f, LearningRateBias = 2f };
        (Tensor Output, Tensor InputGrad, (string Name, Tensor Grad)[] Grads) Run(NeuralMemoryConfig c)
        {
            var memory = new NeuralMemory(c, new Rng(15));
            var x = new Variable(Input(1, 1024, 8, seed: 16), requiresGrad: true);
            var y = memory.Forward(x);
            F.Mean(F.Square(y)).Backward();
            return (y.Data, x.Grad!, memory.NamedParameters().Select(p => (p.Name, p.Parameter.Grad!)).ToArray());
        }
        static bool Finite(Tensor t) => t.ToArray().All(float.IsFinite);

        var exact = Run(config with { MaxStateGradNorm = null });
        Assert.True(Finite(exact.Output), "the forward is bounded by the per-token clamp");
        Assert.False(Finite(exact.InputGrad) && exact.Grads.All(g => Finite(g.Grad)), "the exact gradient was expected to overflow here");

        var clipped = Run(config);
        Assert.True(Finite(clipped.Output), "non-finite output");
        Assert.True(Finite(clipped.InputGrad), "non-finite input gradient");
        foreach (var (name, grad) in clipped.Grads)
            Assert.True(Finite(grad), $"gradient of {name} is not finite");
    }

    [Fact]
    public void BadInputsAndSettingsAreRejectedClearly()
    {
        var memory = new NeuralMemory(Small(), new Rng(11));
        var e = Assert.Throws<ArgumentException>(() => memory.Forward(new Variable(Tensor.Zeros(new[] { 2, 5, 10 }))));
        Assert.Contains("x has shape [2, 5, 10], expected [*, *, 12]", e.Message);
        e = Assert.Throws<ArgumentException>(() => memory.Forward(new Variable(Tensor.Zeros(new[] { 3, 5, 12 })), memory.InitialStream(2)));
        Assert.Contains("expected 2 of 6 (batch 3 · heads 2)", e.Message);
        e = Assert.Throws<ArgumentException>(() => new NeuralMemory(Small() with { Activation = UnaryOp.Tanh }, new Rng(1)));
        Assert.Contains("activation must be Silu or Gelu", e.Message);
        e = Assert.Throws<ArgumentException>(() => new NeuralMemory(Small() with { Depth = 0 }, new Rng(1)));
        Assert.Contains("depth must be at least 1", e.Message);
        var state = memory.InitialStream(1).Memory;
        var q = new Variable(Tensor.Zeros(new[] { 2, 3, 4 }));
        var g = new Variable(Tensor.Zeros(new[] { 2, 3 }));
        e = Assert.Throws<ArgumentException>(() => NeuralMemoryScan.Run(state, q, q, q, g, g, new Variable(Tensor.Zeros(new[] { 2, 4 })), new NeuralMemoryScanOptions(2)));
        Assert.Contains("decay has shape [2, 4], expected [2, 3]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => NeuralMemoryScan.Run(state with { Offset = 2 }, q, q, q, g, g, g, new NeuralMemoryScanOptions(2)));
        var a = Assert.Throws<ArgumentOutOfRangeException>(() => NeuralMemoryScan.Run(state, q, q, q, g, g, g, new NeuralMemoryScanOptions(2, MaxStateGradNorm: 0f)));
        Assert.Contains("MaxStateGradNorm is 0, expected a finite value > 0", a.Message);
        e = Assert.Throws<ArgumentException>(() => new NeuralMemory(Small() with { MaxStateGradNorm = -1f }, new Rng(1)));
        Assert.Contains("max_state_grad_norm must be positive", e.Message);
    }
}
