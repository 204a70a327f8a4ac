using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Tests.Tasks;

public sealed class TaskCommonTests
{
    [Theory]
    [MemberData(nameof(TaskFixtures.Names), MemberType = typeof(TaskFixtures))]
    public void SameSeedSameDataDifferentSeedDifferentData(string name)
    {
        var (task, length) = TaskFixtures.Get(name);
        var a = task.Sample(new Rng(11), 4, length);
        var b = task.Sample(new Rng(11), 4, length);
        var c = task.Sample(new Rng(12), 4, length);
        Assert.Equal(a.Inputs, b.Inputs);
        Assert.Equal(a.Targets, b.Targets);
        Assert.Equal(a.Lengths, b.Lengths);
        Assert.NotEqual(a.Inputs, c.Inputs);
    }

    [Theory]
    [MemberData(nameof(TaskFixtures.Names), MemberType = typeof(TaskFixtures))]
    public void BatchesHaveTheDeclaredShape(string name)
    {
        var (task, length) = TaskFixtures.Get(name);
        var batch = task.Sample(new Rng(3), 5, length);
        Assert.Equal(5, batch.Batch);
        Assert.Equal(length, batch.Length);
        Assert.Equal(5 * length, batch.Inputs.Length);
        Assert.Equal(task.TargetKind, batch.Kind);
        Assert.Equal(task.TargetKind == TargetKind.PerToken ? 5 * length : 5, batch.Targets.Length);
        Assert.All(batch.Inputs, t => Assert.InRange(t, 0, task.VocabSize - 1));
        Assert.All(batch.Targets.Where(t => t != TokenBatch.Ignore), t => Assert.InRange(t, 0, task.OutputSize - 1));
        Assert.Contains(batch.Targets, t => t != TokenBatch.Ignore);
        Assert.False(string.IsNullOrWhiteSpace(task.Describe(batch, 4)));
    }

    [Theory]
    [MemberData(nameof(TaskFixtures.Names), MemberType = typeof(TaskFixtures))]
    public void PredictingTheTargetsScoresOneAndAConstantScoresLess(string name)
    {
        var (task, length) = TaskFixtures.Get(name);
        var batch = task.Sample(new Rng(5), 6, length);
        var perfect = batch.Targets.Select(t => t == TokenBatch.Ignore ? 0 : t).ToArray();
        var score = task.Score(batch, perfect);
        Assert.Equal(1.0, score.Value);
        Assert.True(score.Count > 0);
        var wrong = batch.Targets.Select(t => t == TokenBatch.Ignore ? 0 : (t + 1) % task.OutputSize).ToArray();
        Assert.True(task.Score(batch, wrong).Value < 1.0);
    }

    [Theory]
    [MemberData(nameof(TaskFixtures.Names), MemberType = typeof(TaskFixtures))]
    public void JsonLinesRoundTripIdentically(string name)
    {
        var (task, length) = TaskFixtures.Get(name);
        var batch = task.Sample(new Rng(9), 3, length);
        var path = TaskFixtures.TempFile("jsonl");
        try
        {
            task.WriteJsonLines(path, batch);
            Assert.Equal(3, File.ReadAllLines(path).Length);
            var back = task.ReadJsonLines(path, length);
            Assert.Equal(batch.Inputs, back.Inputs);
            Assert.Equal(batch.Targets, back.Targets);
            Assert.Equal(batch.Lengths, back.Lengths);
            var perfect = batch.Targets.Select(t => t == TokenBatch.Ignore ? 0 : t).ToArray();
            Assert.Equal(task.Score(batch, perfect), task.Score(back, perfect));
            Assert.Equal(task.Describe(batch, 1), task.Describe(back, 1));
            // Writing what was read gives the same bytes.
            var again = TaskFixtures.TempFile("jsonl");
            task.WriteJsonLines(again, back);
            Assert.Equal(File.ReadAllText(path), File.ReadAllText(again));
            File.Delete(again);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ScoreRejectsPredictionsOfTheWrongShape()
    {
        var (task, length) = TaskFixtures.Get("mqar");
        var batch = task.Sample(new Rng(1), 2, length);
        var ex = Assert.Throws<ArgumentException>(() => task.Score(batch, new int[7]));
        Assert.Contains("expected 128", ex.Message);
    }

    [Fact]
    public void TaskMetricsAddExactly()
    {
        var m = new TaskMetric(3, 4) + new TaskMetric(1, 4);
        Assert.Equal(new TaskMetric(4, 8), m);
        Assert.Equal(0.5, m.Value);
        Assert.True(double.IsNaN(default(TaskMetric).Value));
    }

    [Fact]
    public void RegistryCreatesEveryNamedTask()
    {
        foreach (var name in TaskRegistry.Names.Where(n => n != "icll")) Assert.Equal(name, TaskRegistry.Create(name).Name);
        Assert.Throws<ArgumentException>(() => TaskRegistry.Create("nope"));
    }

    [Fact]
    public void OptionsValidateWithClearMessages()
    {
        Assert.Contains("NumKvPairs", Assert.ThrowsAny<ArgumentException>(() => new MqarTask(new MqarOptions(NumKvPairs: 0))).Message);
        Assert.Contains("MaxEdges", Assert.ThrowsAny<ArgumentException>(() => new IcllOptions(MinStates: 3, MaxEdges: 3).Validate()).Message);
        Assert.Contains("MaxLength", Assert.ThrowsAny<ArgumentException>(() => new ListOpsOptions(MinLength: 10, MaxLength: 11).Validate()).Message);
        Assert.Contains("KeyDigits", Assert.ThrowsAny<ArgumentException>(() => new PasskeyOptions(KeyDigits: 0).Validate()).Message);
        Assert.Contains("depth", Assert.ThrowsAny<ArgumentException>(() => new PasskeyOptions(Depth: 1.5).Validate()).Message);
        Assert.Contains("NoiseStd", Assert.ThrowsAny<ArgumentException>(() => new RegressionOptions(NoiseStd: -1).Validate()).Message);
        Assert.Contains("even", Assert.ThrowsAny<ArgumentException>(() => new MqarTask().Sample(new Rng(0), 1, 63)).Message);
        Assert.Contains("1999", Assert.ThrowsAny<ArgumentException>(() => new ListOpsTask().Sample(new Rng(0), 1, 1000)).Message);
    }
}
