using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.Tests;

/// <summary>
/// End-to-end proof of the engine: embedding → MLP → LM head, trained with AdamW (weight decay, gradient clipping,
/// cosine schedule) on a toy next-token task, on the CPU and on the ILGPU CPU accelerator from the same seed.
/// </summary>
[Collection("ilgpu")]
public sealed class EndToEndTrainingTests
{
    private const int Vocab = 16, Width = 24, Hidden = 48, Batch = 64, Steps = 60;

    /// <summary>Target of token x: (5x + 3) mod 16 — learnable from the current token only.</summary>
    private static int Target(int x) => (5 * x + 3) % Vocab;

    private sealed class TinyLm : Module
    {
        public TinyLm(Rng rng, Device device)
        {
            Emb = RegisterModule("embedding", new Embedding(Vocab, Width, rng, 1.0, device));
            Up = RegisterModule("up", new Linear(Width, Hidden, bias: true, rng, device));
            Down = RegisterModule("down", new Linear(Hidden, Width, bias: true, rng, device));
            Head = RegisterModule("lm_head", new Linear(Width, Vocab, bias: false, rng, device));
        }

        public Embedding Emb { get; }
        public Linear Up { get; }
        public Linear Down { get; }
        public Linear Head { get; }

        public Variable Forward(Tensor ids)
        {
            var h = Emb.Forward(ids);
            h = F.Add(h, Down.Forward(F.Gelu(Up.Forward(h))));
            return Head.Forward(h);
        }
    }

    private static List<float> Train(Device device)
    {
        var model = new TinyLm(new Rng(42), device);
        var groups = ParamGroups.Split(model.NamedParameters(), n => n.EndsWith("bias"), weightDecay: 0);
        using var opt = new AdamW(groups, lr: 3e-2, weightDecay: 0.01);
        var sched = new LrScheduler(opt, new CosineWithWarmup(5, Steps, 0.1));
        var data = new Rng(7);
        var losses = new List<float>();
        for (int step = 0; step < Steps; step++)
        {
            using var scope = TensorScope.Begin();
            var x = new int[Batch];
            var y = new int[Batch];
            for (int i = 0; i < Batch; i++) { x[i] = data.Next(Vocab); y[i] = Target(x[i]); }
            var logits = model.Forward(Tensor.From(x, new[] { 1, Batch }, device));
            var loss = F.CrossEntropy(F.Reshape(logits, Batch, Vocab), Tensor.From(y, new[] { Batch }, device));
            opt.ZeroGrad();
            loss.Backward();
            GradClip.ClipGradNorm(model.Parameters(), 1.0);
            opt.Step();
            sched.Step();
            losses.Add(loss.Item());
        }
        return losses;
    }

    [Fact]
    public void MlpLanguageModelLearnsTheToyTaskIdenticallyOnCpuAndIlgpu()
    {
        var cpu = Train(Device.Cpu);
        Assert.True(cpu[0] > 2.0, $"initial loss {cpu[0]} should be near ln 16 = 2.77");
        Assert.True(cpu[^1] < 0.05, $"final loss {cpu[^1]} did not fall below 0.05");
        var gpu = Train(TestDevices.Get("w4x4"));
        Close.All(cpu.ToArray(), gpu.ToArray(), 2e-3, 2e-4, "CPU vs ILGPU losses");
    }
}
