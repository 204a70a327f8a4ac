using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Ssm.Kernels;
using Ssm.Mamba;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Cli;

/// <summary><c>ssm eval</c>: evaluates a trained run's checkpoint, also at lengths beyond training.</summary>
internal static class EvalCommand
{
    public static Command Build()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Run folder written by ssm train (holds run.json and checkpoint/).", Required = true };
        var task = new Option<string?>("--task") { Description = "Task to evaluate on (default: the run's task and options)." };
        var len = new Option<string?>("--len") { Description = "Comma-separated evaluation lengths (default: the training length), e.g. 64,256,1024." };
        var batches = new Option<int>("--batches") { Description = "Held-out batches of 16 sequences per length.", DefaultValueFactory = _ => 8 };
        var mitigation = DiagnoseCommand.MitigationOption();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var cmd = new Command("eval", "Evaluates a checkpoint on held-out data at one or more lengths; prints a table and writes eval.json into the run folder.")
        {
            checkpoint, task, len, batches, mitigation, device, threads,
        };
        cmd.SetAction(r =>
        {
            var dev = CommonOptions.Apply(r, device, threads);
            var dir = r.GetValue(checkpoint)!;
            var config = RunConfig.Load(dir);
            var taskName = r.GetValue(task) ?? config.Task;
            var t = TaskOptions.Create(taskName, taskName == config.Task ? config.TaskOptions : new Dictionary<string, string>());
            var model = ModelFactory.Create(config.Model, new Rng(config.Training.Seed), dev);
            Trainer.LoadModel(model, Trainer.CheckpointDir(dir), dev);
            var m = StateMitigation.Parse(r.GetValue(mitigation)!);
            if (!m.IsNone) ModelFactory.Mamba2Of(model).Mitigation = m;
            var lengths = TrainCommand.ParseLengths(r.GetValue(len), "--len");
            if (lengths.Length == 0) lengths = new[] { config.Training.Length };
            var table = new Table().Border(TableBorder.Rounded).Title($"[bold]eval {Markup.Escape(taskName)} · {Markup.Escape(config.Model.Name)}{(m.IsNone ? "" : " · " + Markup.Escape(m.ToString()))}[/]");
            table.AddColumn("length"); table.AddColumn("loss"); table.AddColumn(t.MetricName);
            var rows = new List<object>();
            foreach (var l in lengths)
            {
                var e = Trainer.Evaluate(model, t, l, r.GetValue(batches), Trainer.EvalSeed(config.Training.Seed, l), dev, 0);
                table.AddRow(l == config.Training.Length ? $"{l} (train)" : l.ToString(), e.Loss.ToString("F4"), e.Metric.ToString("F4"));
                rows.Add(new { length = l, loss = e.Loss, metric = e.Metric, metric_name = e.MetricName });
            }
            AnsiConsole.Write(table);
            AtomicFile.WriteText(Path.Combine(dir, "eval.json"), JsonSerializer.Serialize(new { task = taskName, mitigation = m.ToString(), results = rows }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        });
        return cmd;
    }
}
