using System.Globalization;
using System.Text;
using static Ssm.Benchmarks.Compare.CompareReport;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// <c>attention-report RESULTS.jsonl.. [--out DIR]</c>: the attention rows of compare runs (both implementations) as a
/// markdown table with one column per implementation × mask × pass (time per call, median over rounds of each round's
/// median; peak resident memory), and the log-log plots of <see cref="CompareReport"/> for the attention case:
/// <c>attention-time.png</c> and <c>attention-memory.png</c>, with guide lines ∝ L and ∝ L².
/// </summary>
internal static class AttentionReport
{
    public static int Run(string[] args)
    {
        if (!ReportInput.TryParse("attention-report", args, out var inputs, out var outDir)) return 2;
        var rows = Load(inputs).Where(r => r.Case == "attention" && r.L is not null).ToList();
        if (rows.Count == 0)
        {
            Console.Error.WriteLine("attention-report: no attention rows in the inputs.");
            return 1;
        }
        Console.WriteLine(Table(rows));
        Directory.CreateDirectory(outDir);
        foreach (var path in PlotCase("attention", rows, outDir)) Console.Error.WriteLine($"attention-report: wrote {path}");
        return 0;
    }

    private static string Table(List<Measurement> rows)
    {
        var lengths = rows.Select(r => r.L!.Value).Distinct().Order().ToList();
        var columns = new[] { ("ssm", "causal_fwd"), ("torch", "causal_fwd"), ("ssm", "sliding_fwd"), ("torch", "sliding_fwd"),
            ("ssm", "causal_fwd_bwd"), ("torch", "causal_fwd_bwd"), ("ssm", "sliding_fwd_bwd"), ("torch", "sliding_fwd_bwd") };
        var sb = new StringBuilder();
        sb.AppendLine("| L | " + string.Join(" | ", columns.Select(c => $"{ImplLabel(c.Item1)} {c.Item2.Replace('_', ' ')} ms")) + " | Ssm peak MiB (causal fwd+bwd) | PyTorch peak MiB (causal fwd+bwd) |");
        sb.AppendLine("|---:|" + string.Concat(Enumerable.Repeat("---:|", columns.Length + 2)));
        foreach (int l in lengths)
        {
            var cells = columns.Select(c => rows.FirstOrDefault(r => r.Impl == c.Item1 && r.Name == c.Item2 && r.L == l) is { } r
                ? r.MedianMs.ToString(r.MedianMs >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture) : "–");
            string Peak(string impl) => rows.FirstOrDefault(r => r.Impl == impl && r.Name == "causal_fwd_bwd" && r.L == l)?.PeakMbMax is { } mb
                ? mb.ToString("F0", CultureInfo.InvariantCulture) : "–";
            sb.AppendLine($"| {l} | {string.Join(" | ", cells)} | {Peak("ssm")} | {Peak("torch")} |");
        }
        return sb.ToString();
    }
}
