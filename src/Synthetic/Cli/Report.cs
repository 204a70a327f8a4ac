using System.Text.Json;
using Spectre.Console;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Cli;

/// <summary>The result table printed at the end of <c>ssm train</c>, and <c>summary.json</c>.</summary>
internal static class Report
{
    public static void Print(RunConfig config, TrainResult r, string outPath)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(config.Task)} · {Markup.Escape(config.Model.Name)}[/]");
        table.AddColumn("length");
        table.AddColumn("eval loss");
        table.AddColumn(r.Final.FirstOrDefault()?.MetricName ?? "metric");
        foreach (var e in r.Final) table.AddRow(e.Length == config.Training.Length ? $"{e.Length} (train)" : e.Length.ToString(), e.Loss.ToString("F4"), e.Metric.ToString("F4"));
        AnsiConsole.Write(table);
        double lastLoss = r.Steps.Count == 0 ? double.NaN : r.Steps.TakeLast(Math.Min(20, r.Steps.Count)).Average(s => s.Loss);
        double tps = r.Steps.Count == 0 ? 0 : r.Steps.Average(s => s.TokensPerSecond);
        AnsiConsole.MarkupLine($"{r.Steps.LastOrDefault()?.Step ?? 0} steps · {r.Parameters:N0} parameters · final train loss {lastLoss:F4} · {tps:N0} tokens/s · {r.Seconds:F1} s · {Markup.Escape(r.StopReason)}");
        AnsiConsole.MarkupLine($"plots: {Markup.Escape(Path.Combine(outPath, "loss.png"))}, {Markup.Escape(Path.Combine(outPath, "metric.png"))}{(r.Final.Count > 1 ? ", " + Markup.Escape(Path.Combine(outPath, "length.png")) : "")} · metrics: {Markup.Escape(Path.Combine(outPath, "metrics.jsonl"))}");
        var summary = new
        {
            task = config.Task, model = config.Model.Name, parameters = r.Parameters, steps = r.Steps.LastOrDefault()?.Step ?? 0,
            seconds = r.Seconds, final_train_loss = lastLoss, tokens_per_second = tps, stop_reason = r.StopReason,
            final = r.Final.Select(e => new { length = e.Length, loss = e.Loss, metric = e.Metric, metric_name = e.MetricName }),
        };
        AtomicFile.WriteText(Path.Combine(outPath, "summary.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
    }
}
