using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ScottPlot;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// <c>attention-report RESULTS.jsonl.. [--out DIR]</c>: the attention rows of compare runs (both implementations) as a
/// markdown table (time per call, median over rounds of each round's median; peak resident memory) and two log-log
/// PNG plots against L: time (<c>attention-time.png</c>) and peak memory (<c>attention-memory.png</c>), with guide lines
/// ∝ L and ∝ L² (<see cref="LogLogPlot"/>).
/// </summary>
internal static class AttentionReport
{
    private sealed record Row(string Impl, string Name, int L, List<double> Ms, List<double> PeakMb);

    public static int Run(string[] args)
    {
        var inputs = new List<string>();
        string outDir = ".";
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--out") outDir = args[++i];
            else inputs.Add(args[i]);
        }
        if (inputs.Count == 0)
        {
            Console.Error.WriteLine("usage: attention-report RESULTS.jsonl.. [--out DIR]");
            return 2;
        }
        var rows = new Dictionary<(string, string, int), Row>();
        var shapes = new HashSet<string>();
        foreach (var path in inputs)
            foreach (var line in File.ReadLines(path))
            {
                if (!line.TrimStart().StartsWith('{')) continue;
                var r = JsonNode.Parse(line)!;
                if ((string?)r["case"] != "attention") continue;
                string impl = (string)r["impl"]!, name = (string)r["name"]!, shape = (string)r["shape"]!;
                var parts = shape.Split(' ');
                int l = int.Parse(parts[0]["L=".Length..], CultureInfo.InvariantCulture);
                shapes.Add(string.Join(" ", parts.Skip(1)));
                var row = rows.TryGetValue((impl, name, l), out var found) ? found : rows[(impl, name, l)] = new Row(impl, name, l, new(), new());
                row.Ms.Add((double)r["median_ms"]!);
                if (r["peak_rss_mb"] is { } peak) row.PeakMb.Add((double)peak);
            }
        if (rows.Count == 0)
        {
            Console.Error.WriteLine("attention-report: no attention rows in the inputs.");
            return 1;
        }
        Console.WriteLine(Table(rows.Values.ToList()));
        Directory.CreateDirectory(outDir);
        // Shapes that only add a window to another are shown once ("B=1 H=8 D=64 w=256").
        string sizes = string.Join(", ", shapes.Where(a => !shapes.Any(b => b != a && b.StartsWith(a, StringComparison.Ordinal))).Order());
        Plot(rows.Values.ToList(), r => Median(r.Ms) / 1e3, "time per call (s)", $"Attention time vs L ({sizes})",
            Path.Combine(outDir, "attention-time.png"));
        Plot(rows.Values.Where(r => r.PeakMb.Count > 0).ToList(), r => r.PeakMb.Max(), "peak resident memory (MiB)",
            "Attention: peak process memory vs L (runtime and inputs included)", Path.Combine(outDir, "attention-memory.png"));
        Console.Error.WriteLine($"attention-report: wrote {Path.Combine(outDir, "attention-time.png")} and attention-memory.png");
        return 0;
    }

    private static string Table(List<Row> rows)
    {
        var lengths = rows.Select(r => r.L).Distinct().Order().ToList();
        var columns = new[] { ("ssm", "causal_fwd"), ("torch", "causal_fwd"), ("ssm", "sliding_fwd"), ("torch", "sliding_fwd"),
            ("ssm", "causal_fwd_bwd"), ("torch", "causal_fwd_bwd"), ("ssm", "sliding_fwd_bwd"), ("torch", "sliding_fwd_bwd") };
        string Label(string impl) => impl == "ssm" ? "Ssm" : "PyTorch";
        var sb = new StringBuilder();
        sb.AppendLine("| L | " + string.Join(" | ", columns.Select(c => $"{Label(c.Item1)} {c.Item2.Replace('_', ' ')} ms")) + " | Ssm peak MiB (causal fwd+bwd) | PyTorch peak MiB (causal fwd+bwd) |");
        sb.AppendLine("|---:|" + string.Concat(Enumerable.Repeat("---:|", columns.Length + 2)));
        foreach (int l in lengths)
        {
            var cells = columns.Select(c => rows.FirstOrDefault(r => r.Impl == c.Item1 && r.Name == c.Item2 && r.L == l) is { } r
                ? Median(r.Ms).ToString(Median(r.Ms) >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture) : "–");
            string Peak(string impl) => rows.FirstOrDefault(r => r.Impl == impl && r.Name == "causal_fwd_bwd" && r.L == l) is { PeakMb.Count: > 0 } r
                ? r.PeakMb.Max().ToString("F0", CultureInfo.InvariantCulture) : "–";
            sb.AppendLine($"| {l} | {string.Join(" | ", cells)} | {Peak("ssm")} | {Peak("torch")} |");
        }
        return sb.ToString();
    }

    private static void Plot(List<Row> rows, Func<Row, double> value, string yLabel, string title, string path)
    {
        var colors = new Dictionary<(string, string), Color>
        {
            [("ssm", "causal")] = Colors.Blue, [("ssm", "sliding")] = Colors.Green,
            [("torch", "causal")] = Colors.Red, [("torch", "sliding")] = Colors.Orange,
        };
        var series = rows.GroupBy(r => (r.Impl, r.Name)).OrderBy(g => g.Key.Name).ThenBy(g => g.Key.Impl).Select(group =>
        {
            string mask = group.Key.Name.StartsWith("causal", StringComparison.Ordinal) ? "causal" : "sliding";
            bool backward = group.Key.Name.EndsWith("fwd_bwd", StringComparison.Ordinal);
            return new LogLogSeries($"{(group.Key.Impl == "ssm" ? "Ssm" : "PyTorch")} {mask} {(backward ? "fwd+bwd" : "fwd")}",
                colors.GetValueOrDefault((group.Key.Impl, mask), Colors.Gray), group.Select(r => ((double)r.L, value(r))).ToList(),
                Dashed: backward, Square: backward);
        }).ToList();
        LogLogPlot.Save(series, title, "sequence length L", yLabel, path);
    }

    private static double Median(List<double> values)
    {
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : 0.5 * (s[s.Count / 2 - 1] + s[s.Count / 2]);
    }
}
