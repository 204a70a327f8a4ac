using Ssm.Kernels;

namespace Ssm.Hybrid.Tests.Stacks;

/// <summary>The hybrid stack on an ILGPU device (the CPU accelerator): same logits as on the CPU, and step ≡ parallel there.</summary>
[Collection("ilgpu")]
public sealed class HybridLMIlgpuTests
{
    [Fact]
    public void MixedStackRunsOnIlgpuLikeOnTheCpu()
    {
        var device = TestDevices.Get("w4x4");
        var config = HybridLMTests.Config("M") with
        {
            Layers = new[]
            {
                new HybridLayerSpec(HybridLayerKind.Mamba), new HybridLayerSpec(HybridLayerKind.Attention, AttentionMask.SlidingWindow(3)),
                new HybridLayerSpec(HybridLayerKind.Attention, AttentionMask.LambdaShaped(1, 2)),
            },
            Block = new BlockConfig { DIntermediate = 8 },
        };
        var cpu = new HybridLM(config, new Rng(3), Device.Cpu);
        var gpu = new HybridLM(config, new Rng(3), device);
        const int batch = 1, length = 7;
        var host = new[] { 3, 1, 4, 1, 5, 9, 2 };
        using var noGrad = Autograd.NoGrad();
        var expected = cpu.Forward(Tensor.From(host, new[] { batch, length })).Data.ToArray();
        Close.All(expected, gpu.Forward(Tensor.From(host, new[] { batch, length }, device)).Data.ToArray(), 1e-4, 1e-5, "ILGPU vs CPU forward");

        using var cache = gpu.AllocateCache(batch);
        int vocab = gpu.VocabSize;
        var prefix = gpu.Forward(Tensor.From(host.AsSpan(0, 3), new[] { batch, 3 }, device), cache).Data.ToArray();
        Close.All(expected.AsSpan(0, 3 * vocab), prefix, 1e-4, 1e-5, "ILGPU prefill");
        for (int t = 3; t < length; t++)
        {
            var logits = gpu.Step(cache, Tensor.From(new[] { host[t] }, new[] { batch }, device)).ToArray();
            Close.All(expected.AsSpan(t * vocab, vocab), logits, 1e-4, 1e-5, $"ILGPU step {t}");
        }
    }
}
