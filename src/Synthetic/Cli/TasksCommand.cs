using System.CommandLine;
using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Cli;

/// <summary><c>ssm tasks list|sample|write</c>: look at the synthetic data.</summary>
internal static class TasksCommand
{
    public static Command Build()
    {
        var list = new Command("list", "Lists the tasks.");
        list.SetAction(_ =>
        {
            foreach (var name in TaskRegistry.Names)
            {
                var t = TaskOptions.Create(name, new Dictionary<string, string>());
                Console.WriteLine($"{name,-16} vocab {t.VocabSize,5}  outputs {t.OutputSize,5}  {t.TargetKind,-11}  metric {t.MetricName}");
            }
            return 0;
        });

        var taskArg = new Argument<string>("task") { Description = $"Task: {string.Join(", ", TaskRegistry.Names)}." };
        var len = new Option<int?>("--len") { Description = "Sequence length (default 64; ListOps: the longest sequence it generates)." };
        var count = new Option<int>("--count") { Description = "Examples to print.", DefaultValueFactory = _ => 1 };
        var seed = CommonOptions.Seed();
        var split = new Option<string>("--split") { Description = "train or test.", DefaultValueFactory = _ => "train" };
        split.AcceptOnlyFromAmong("train", "test");
        var taskOptions = new TaskOptions();
        var sample = new Command("sample", "Prints examples of a task, human-readably.") { taskArg, len, count, seed, split };
        foreach (var o in taskOptions.All) sample.Add(o);
        sample.SetAction(r =>
        {
            var t = TaskOptions.Create(r.GetValue(taskArg)!, taskOptions.Given(r));
            int length = r.GetValue(len) ?? (t is ListOpsTask l ? l.Options.MaxLength - 1 : 64);
            var b = t.Sample(new Rng(r.GetValue(seed)), r.GetValue(count), length, r.GetValue(split) == "test" ? DataSplit.Test : DataSplit.Train);
            for (int i = 0; i < b.Batch; i++) Console.WriteLine(t.Describe(b, i) + (i + 1 < b.Batch ? "\n" : ""));
            return 0;
        });

        var outFile = new Option<string>("--out") { Description = "JSON-lines file to write.", Required = true };
        var taskArg2 = new Argument<string>("task") { Description = "Task name." };
        var len2 = new Option<int>("--len") { Description = "Sequence length.", DefaultValueFactory = _ => 64 };
        var count2 = new Option<int>("--count") { Description = "Examples to write.", DefaultValueFactory = _ => 100 };
        var seed2 = CommonOptions.Seed();
        var taskOptions2 = new TaskOptions();
        var write = new Command("write", "Writes examples of a task as JSON lines (one example per line) for reproducible runs and other tools.") { taskArg2, len2, count2, seed2, outFile };
        foreach (var o in taskOptions2.All) write.Add(o);
        write.SetAction(r =>
        {
            var t = TaskOptions.Create(r.GetValue(taskArg2)!, taskOptions2.Given(r));
            var b = t.Sample(new Rng(r.GetValue(seed2)), r.GetValue(count2), r.GetValue(len2));
            t.WriteJsonLines(r.GetValue(outFile)!, b);
            Console.WriteLine($"wrote {b.Batch} {t.Name} examples to {r.GetValue(outFile)}");
            return 0;
        });
        return new Command("tasks", "Inspect and export the synthetic tasks.") { list, sample, write };
    }
}
