using Ssm.Kernels;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Tasks;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Tests;

/// <summary>Every model the CLI offers builds for per-token and per-sequence tasks and trains a few steps.</summary>
public sealed class ModelFactoryTests
{
    public static TheoryData<string> Models()
    {
        var d = new TheoryData<string>();
        foreach (var name in ModelFactory.Names.Keys) d.Add(name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryModelTrainsOnATokenTaskAndAClassificationTask(string name)
    {
        ISequenceTask[] tasks = { new MqarTask(new MqarOptions(VocabSize: 16, NumKvPairs: 1)), new ListOpsTask(new ListOpsOptions(MinLength: 8, MaxLength: 24)) };
        foreach (var task in tasks)
        {
            var spec = new ModelSpec
            {
                Name = name, DModel = 16, Layers = 1, DState = 4, HeadDim = 8, Chunk = 8, Vocab = task.VocabSize, Outputs = task.OutputSize,
                PerSequence = task.TargetKind == TargetKind.PerSequence,
            };
            if (name == "s4" && !spec.PerSequence)
            {
                Assert.Contains("--model s4d", Assert.Throws<ArgumentException>(() => ModelFactory.Create(spec, new Rng(0), Device.Cpu)).Message);
                continue;
            }
            var model = ModelFactory.Create(spec, new Rng(0), Device.Cpu);
            var dir = Path.Combine(Path.GetTempPath(), $"ssm-factory-{Guid.NewGuid():N}");
            var result = new Trainer(task, model, new TrainOptions { Length = 24, Steps = 3, Batch = 4, Warmup = 1, EvalEvery = 3, EvalBatches = 1 }, Device.Cpu, dir).Run();
            Assert.All(result.Steps, s => Assert.True(double.IsFinite(s.Loss), $"{name} on {task.Name}: loss {s.Loss}"));
            Assert.InRange(result.Final[0].Metric, 0, 1);
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void StateDiagnosticsReachMamba2AndS4DLanguageModelsOnly()
    {
        TrainableModel Build(string name, bool perSequence = false) => ModelFactory.Create(
            new ModelSpec { Name = name, DModel = 8, Layers = 1, DState = 4, HeadDim = 4, Chunk = 8, Vocab = 10, Outputs = 10, PerSequence = perSequence }, new Rng(0), Device.Cpu);
        Assert.IsType<Ssm.Mamba.MambaLMHeadModel>(ModelFactory.StateTracedOf(Build("mamba2")));
        Assert.IsType<Ssm.S4.S4DLanguageModel>(ModelFactory.StateTracedOf(Build("s4d")));
        Assert.Contains("need a Mamba-2 or S4D language model", Assert.Throws<ArgumentException>(() => ModelFactory.StateTracedOf(Build("transformer"))).Message);
        Assert.Contains("need a Mamba-2 or S4D language model", Assert.Throws<ArgumentException>(() => ModelFactory.StateTracedOf(Build("s4d", perSequence: true))).Message);
    }
}
