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

public sealed class TruncatedBpttTests
{
    /// <summary>A task whose batches come from its own generator in a fixed order, whatever generator the trainer passes.</summary>
    private sealed class FixedStream(ISequenceTask inner, long seed) : ISequenceTask
    {
        private readonly Rng _rng = new(seed);
        public string Name => inner.Name;
        public int VocabSize => inner.VocabSize;
        public int OutputSize => inner.OutputSize;
        public TargetKind TargetKind => inner.TargetKind;
        public string MetricName => inner.MetricName;
        public TokenBatch Sample(Rng rng, int batch, int length, DataSplit split = DataSplit.Train) => inner.Sample(_rng, batch, length, split);
        public TaskMetric Score(TokenBatch batch, int[] predictions) => inner.Score(batch, predictions);
        public string Describe(TokenBatch batch, int index) => inner.Describe(batch, index);
        public void WriteJsonLines(string path, TokenBatch batch) => inner.WriteJsonLines(path, batch);
        public TokenBatch ReadJsonLines(string path, int length) => inner.ReadJsonLines(path, length);
    }

    private static readonly PasskeyTokenTask Passkey = new(new PasskeyTokenOptions(VocabSize: 16, KeyDigits: 2));

    private static ModelSpec Spec(string name = "mamba2") => new()
    {
        Name = name, DModel = 16, Layers = 2, DState = 4, HeadDim = 8, Chunk = 4, Vocab = Passkey.VocabSize, Outputs = Passkey.OutputSize,
    };

    // Embeddings of unit scale (instead of 0.02) so that the carried state visibly changes the logits.
    private static TrainableModel Model()
    {
        var model = ModelFactory.Create(Spec(), new Rng(5), Device.Cpu);
        var embedding = ModelFactory.Mamba2Of(model).EmbeddingLayer.Weight.Data;
        embedding.CopyFrom(Elementwise.Scale(embedding, 50f));
        return model;
    }

    [Fact]
    public void SegmentsContinueTheStateOfThePreviousOnes()
    {
        const int segments = 3, batch = 4, length = 10;
        var options = new TrainOptions { Length = length, Steps = 2, Batch = batch, Warmup = 0, EvalEvery = 2, EvalBatches = 1, TbpttSegments = segments, Seed = 5 };
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-tbptt-{Guid.NewGuid():N}");
        var result = new Trainer(new FixedStream(Passkey, 9), Model(), options, Device.Cpu, dir).Run();

        // The first step's loss: the mean cross-entropy over the three segments' targets, each segment continuing the
        // state the previous one left (the model before any update).
        var model = Model();
        var stream = new FixedStream(Passkey, 9);
        var data = Enumerable.Range(0, segments).Select(_ => stream.Sample(new Rng(0), batch, length)).ToArray();
        using var noGrad = Autograd.NoGrad();
        double Mean(bool carry)
        {
            using var cache = carry ? model.AllocateCache(batch) : null;
            double sum = 0;
            long count = 0;
            foreach (var s in data)
            {
                var logits = carry ? model.Logits(s, Device.Cpu, cache) : model.Logits(s, Device.Cpu);
                sum += F.CrossEntropy(logits, Tensor.From(s.Targets, new[] { s.Targets.Length }), reduction: "sum").Item();
                count += s.Targets.Count(t => t != TokenBatch.Ignore);
            }
            return sum / count;
        }
        double carried = Mean(carry: true), fresh = Mean(carry: false);
        Assert.Equal(carried, result.Steps[0].Loss, 1e-5);
        Assert.True(Math.Abs(carried - fresh) > 1e-4, $"carrying the state must matter for this test to mean anything ({carried} vs {fresh})");
        Assert.True(result.Steps[1].Loss != result.Steps[0].Loss);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void ModelsWithoutATrainableStateAreRefused()
    {
        var options = new TrainOptions { Length = 10, Steps = 1, Batch = 2, TbpttSegments = 2 };
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-tbptt-{Guid.NewGuid():N}");
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Passkey, ModelFactory.Create(Spec("mlp"), new Rng(1), Device.Cpu), options, Device.Cpu, dir).Run());
        Assert.Contains("no recurrent state", e.Message);
        // LongVQ carries a state only at inference (its cached forward steps token by token without autograd).
        e = Assert.Throws<ArgumentException>(() => new Trainer(Passkey, ModelFactory.Create(Spec("longvq"), new Rng(1), Device.Cpu), options, Device.Cpu, dir).Run());
        Assert.Contains("only at inference", e.Message);
        Assert.Contains("--tbptt-segments", Assert.Throws<ArgumentException>(() => (options with { TbpttSegments = 0 }).Validate()).Message);
    }
}
