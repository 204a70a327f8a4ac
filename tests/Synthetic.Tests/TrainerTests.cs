using Ssm.Kernels;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Reports;
using Ssm.Synthetic.Tasks;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Tests;

public sealed class TrainerTests
{
    private static readonly MqarTask Easy = new(new MqarOptions(VocabSize: 16, NumKvPairs: 1));

    private static ModelSpec TinyMamba => new()
    {
        Name = "mamba2", DModel = 32, Layers = 1, DState = 8, HeadDim = 8, Chunk = 8, Vocab = Easy.VocabSize, Outputs = Easy.OutputSize,
    };

    private static string TempDir() => Path.Combine(Path.GetTempPath(), $"ssm-train-{Guid.NewGuid():N}");

    [Fact]
    public void ATinyMambaLearnsOnePairRecallAboveNinetyPercent()
    {
        var options = new TrainOptions { Length = 8, Steps = 200, Batch = 32, Lr = 1e-2, Warmup = 20, EvalEvery = 100, EvalBatches = 4, Seed = 0 };
        var dir = TempDir();
        var model = ModelFactory.Create(TinyMamba, new Rng(options.Seed), Device.Cpu);
        var result = new Trainer(Easy, model, options, Device.Cpu, dir).Run();
        Assert.True(result.Final[0].Metric >= 0.9, $"query accuracy {result.Final[0].Metric} after 200 steps (chance is 1/16)");
        Assert.True(result.Steps[^1].Loss < result.Steps[0].Loss / 4, "loss did not fall");
        foreach (var f in new[] { "metrics.jsonl", "loss.png", "metric.png", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors", "checkpoint/trainer.json" })
            Assert.True(File.Exists(Path.Combine(dir, f)), $"{f} was not written");
        Assert.Equal(200 + 2 + 1, MetricsLog.Read(Path.Combine(dir, "metrics.jsonl")).Count); // steps, evals, final
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ResumingFromACheckpointReproducesTheUninterruptedRun()
    {
        var options = new TrainOptions { Length = 8, Steps = 12, Batch = 8, Lr = 5e-3, Warmup = 3, EvalEvery = 5, EvalBatches = 1, CheckpointEvery = 6, Seed = 3 };
        var full = new Trainer(Easy, ModelFactory.Create(TinyMamba, new Rng(3), Device.Cpu), options, Device.Cpu, TempDir()).Run();

        var dir = TempDir();
        var first = new Trainer(Easy, ModelFactory.Create(TinyMamba, new Rng(3), Device.Cpu), options, Device.Cpu, dir).Run(stopAtStep: 6);
        Assert.Equal(full.Steps.Take(6).Select(s => s.Loss), first.Steps.Select(s => s.Loss));
        // A fresh process would rebuild the model from the spec and seed, then resume from the checkpoint.
        var resumed = new Trainer(Easy, ModelFactory.Create(TinyMamba, new Rng(3), Device.Cpu), options, Device.Cpu, dir).Run(resume: true);
        Assert.Equal(Enumerable.Range(7, 6), resumed.Steps.Select(s => s.Step));
        Assert.Equal(full.Steps.Skip(6).Select(s => s.Loss), resumed.Steps.Select(s => s.Loss));
        Assert.Equal(full.Final[0].Metric, resumed.Final[0].Metric);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void TargetMetricStopsEarlyAndBadOptionsAreNamed()
    {
        var options = new TrainOptions { Length = 8, Steps = 400, Batch = 32, Lr = 1e-2, Warmup = 20, EvalEvery = 25, EvalBatches = 2, TargetMetric = 0.8, Seed = 1 };
        var r = new Trainer(Easy, ModelFactory.Create(TinyMamba, new Rng(1), Device.Cpu), options, Device.Cpu, TempDir()).Run();
        Assert.StartsWith("reached query_accuracy", r.StopReason);
        Assert.True(r.Steps.Count < 400);
        var e = Assert.Throws<ArgumentException>(() => (options with { Length = 0 }).Validate());
        Assert.Contains("--len", e.Message);
        e = Assert.Throws<ArgumentException>(() => ModelFactory.Create(TinyMamba with { Name = "rnn" }, new Rng(0), Device.Cpu));
        Assert.Contains("mamba2", e.Message);
    }

    [Fact]
    public void PerSequenceTasksReadOutTheLastValidPosition()
    {
        var task = new ListOpsTask(new ListOpsOptions(MinLength: 10, MaxLength: 40));
        var spec = new ModelSpec { Name = "mamba2", DModel = 16, Layers = 1, DState = 4, HeadDim = 8, Chunk = 16, Vocab = task.VocabSize, Outputs = task.OutputSize, PerSequence = true };
        var model = ModelFactory.Create(spec, new Rng(0), Device.Cpu);
        var batch = task.Sample(new Rng(1), 3, 40);
        using var scope = TensorScope.Begin();
        var logits = model.Logits(batch, Device.Cpu);
        Assert.Equal(new[] { 3, 10 }, logits.Data.ShapeArray());
        var eval = Trainer.Evaluate(model, task, 40, 1, 5, Device.Cpu, 0);
        Assert.InRange(eval.Metric, 0, 1);
        Assert.True(double.IsFinite(eval.Loss));
    }
}
