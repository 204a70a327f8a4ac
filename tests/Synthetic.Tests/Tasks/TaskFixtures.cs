using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Tests.Tasks;

/// <summary>Small instances of every token task (fast to build and sample) with a length that suits each.</summary>
internal static class TaskFixtures
{
    private static readonly Lazy<IcllTask> SmallIcll = new(() => new IcllTask(new IcllOptions(TrainDfas: 300, TestDfas: 60, DfaSeed: 7)));

    public static IcllTask Icll => SmallIcll.Value;

    public static IEnumerable<(ISequenceTask Task, int Length)> All()
    {
        yield return (new PasskeyTextTask(), 600);
        yield return (new PasskeyTokenTask(new PasskeyTokenOptions(VocabSize: 24, KeyDigits: 4)), 80);
        yield return (Icll, 400);
        yield return (new MqarTask(new MqarOptions(VocabSize: 256, NumKvPairs: 8)), 64);
        yield return (new ListOpsTask(new ListOpsOptions(MinLength: 20, MaxLength: 120)), 128);
    }

    public static IEnumerable<object[]> Names() => All().Select(t => new object[] { t.Task.Name });

    public static (ISequenceTask Task, int Length) Get(string name) => All().Single(t => t.Task.Name == name);

    public static string TempFile(string ext) => Path.Combine(Path.GetTempPath(), $"ssm-tasks-{Guid.NewGuid():N}.{ext}");
}
