using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// <c>report RESULTS.jsonl.. [--out DIR]</c>: how the compare results grow with the sequence length. For every case whose
/// shapes name a sequence length (a token <c>L=1024</c> or <c>L1024</c>: attention, s4d, mamba2, ssd_scan) it writes a
/// log-log plot of time per call against L (<c>CASE-time.png</c>; one line per implementation × op × the other shape
/// parameters, or one plot per op where there are many shapes; guides ∝ L, and ∝ L² for attention), the same for peak resident memory where the rows record it
/// (<c>CASE-memory.png</c>), and a markdown table (<c>scaling.md</c>, also printed). Time is the median over rounds of
/// each round's median, as in report.py. Cases without a length (gemm, elementwise, mamba2_step) are left out.
/// </summary>
internal static class CompareReport
{
    /// <summary>The measurements of one (case, implementation, op, shape) over rounds; L and the other shape parameters split.</summary>
    internal sealed record Measurement(string Case, string Impl, string Name, string Shape, int? L, string Others)
    {
        public List<double> Ms { get; } = new();
        public List<double> PeakMb { get; } = new();
        public double MedianMs => CompareHarness.Median(Ms);
        public double? PeakMbMax => PeakMb.Count > 0 ? PeakMb.Max() : null;
    }

    /// <summary>Above this many combinations of the other shape parameters, a case is plotted per op.</summary>
    internal const int MaxShapesPerPlot = 4;

    private static readonly Dictionary<string, double[]> GuideSlopes = new() { ["attention"] = new[] { 1.0, 2.0 } };

    public static int Run(string[] args)
    {
        if (!ReportInput.TryParse("report", args, out var inputs, out var outDir)) return 2;
        var rows = Load(inputs);
        if (rows.Count == 0)
        {
            Console.Error.WriteLine("report: no compare rows in the inputs.");
            return 1;
        }
        var cases = rows.Where(r => r.L is not null).GroupBy(r => r.Case).ToList();
        if (cases.Count == 0)
        {
            Console.Error.WriteLine("report: no case with a sequence length in the inputs; nothing to plot.");
            return 0;
        }
        Directory.CreateDirectory(outDir);
        var md = new StringBuilder();
        foreach (var c in cases)
        {
            var caseRows = c.ToList();
            md.AppendLine($"### {c.Key}").AppendLine().Append(Table(caseRows)).AppendLine();
            foreach (var path in PlotCase(c.Key, caseRows, outDir)) Console.Error.WriteLine($"report: wrote {path}");
        }
        File.WriteAllText(Path.Combine(outDir, "scaling.md"), md.ToString());
        Console.Write(md);
        return 0;
    }

    /// <summary>The compare rows of the JSON-lines files (the machine limits left out), grouped over rounds.</summary>
    internal static List<Measurement> Load(IEnumerable<string> paths)
    {
        var rows = new Dictionary<(string, string, string, string), Measurement>();
        foreach (var r in ReportInput.Rows(paths))
        {
            string @case = (string)r["case"]!, impl = (string)r["impl"]!, name = (string)r["name"]!, shape = (string)r["shape"]!;
            if (@case == "limits") continue;
            var key = (@case, impl, name, shape);
            if (!rows.TryGetValue(key, out var m))
            {
                var (l, rest) = SplitLength(shape);
                rows[key] = m = new Measurement(@case, impl, name, shape, l, rest);
            }
            m.Ms.Add((double)r["median_ms"]!);
            if (r["peak_rss_mb"] is { } peak) m.PeakMb.Add((double)peak);
        }
        return rows.Values.ToList();
    }

    /// <summary>The sequence length named in a shape ("L=1024" or "L1024") and the other tokens (Others); L null when none.</summary>
    internal static (int? L, string Others) SplitLength(string shape)
    {
        var tokens = shape.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var length = tokens.Select(t => Regex.Match(t, @"^L=?(\d+)$")).FirstOrDefault(m => m.Success);
        if (length is null) return (null, shape);
        return (int.Parse(length.Groups[1].Value, CultureInfo.InvariantCulture), string.Join(" ", tokens.Where(t => t != length.Value)));
    }

    /// <summary>
    /// Writes <c>CASE-time.png</c> (and <c>CASE-memory.png</c> when memory was recorded) into outDir and returns their
    /// paths. Lines: one color per op × other shape parameters, solid for Ssm and dashed for the peer. A case with more
    /// than <see cref="MaxShapesPerPlot"/> other-parameter combinations (e.g. every Mamba-2 shape) gets one pair of
    /// plots per op instead, <c>CASE-OP-time.png</c>.
    /// </summary>
    internal static List<string> PlotCase(string caseName, IReadOnlyList<Measurement> rows, string outDir)
    {
        rows = rows.Where(r => r.L is not null).ToList();
        var written = new List<string>();
        bool perOp = rows.Select(r => r.Others).Distinct().Count() > MaxShapesPerPlot && rows.Select(r => r.Name).Distinct().Count() > 1;
        var parts = perOp
            ? rows.GroupBy(r => r.Name).Select(g => (File: $"{caseName}-{g.Key}", Title: $"{caseName} {Pretty(g.Key)}", Rows: g.ToList()))
            : new[] { (File: caseName, Title: caseName, Rows: rows.ToList()) };
        foreach (var (file, title, part) in parts)
        {
            var others = part.Select(r => r.Others).Distinct().ToList();
            string common = others.Count == 1 && others[0].Length > 0 ? $" ({others[0]})" : "";
            var guides = GuideSlopes.GetValueOrDefault(caseName, new[] { 1.0 });

            List<PlotSeries> Series(Func<Measurement, double?> value) => part
                .GroupBy(r => (r.Impl, r.Name, r.Others))
                .OrderBy(g => g.Key.Others, StringComparer.Ordinal).ThenBy(g => g.Key.Name, StringComparer.Ordinal).ThenBy(g => g.Key.Impl == "ssm" ? 0 : 1)
                .Select(g =>
                {
                    string label = ImplLabel(g.Key.Impl) + (perOp ? "" : " " + Pretty(g.Key.Name)) + (others.Count > 1 ? $" ({g.Key.Others})" : "");
                    var points = g.Where(r => value(r) is not null).Select(r => ((double)r.L!.Value, value(r)!.Value)).ToList();
                    return new PlotSeries(label, points) { ColorKey = $"{g.Key.Name} {g.Key.Others}", Dashed = g.Key.Impl != "ssm" };
                })
                .Where(s => s.Points.Count > 0).ToList();

            string time = Path.Combine(outDir, $"{file}-time.png");
            LogLogPlot.Save(time, $"{title}: time per call vs L{common}", "sequence length L", "time per call (ms)", Series(r => r.MedianMs), guides);
            written.Add(time);
            var memory = Series(r => r.PeakMbMax);
            if (memory.Count == 0) continue;
            string path = Path.Combine(outDir, $"{file}-memory.png");
            LogLogPlot.Save(path, $"{title}: peak process memory vs L{common} (runtime and inputs included)", "sequence length L",
                "peak resident memory (MiB)", memory, guides);
            written.Add(path);
        }
        return written;
    }

    /// <summary>A markdown table: per op, other shape parameters and L, each implementation's time and peak memory.</summary>
    internal static string Table(IReadOnlyList<Measurement> rows)
    {
        var impls = rows.Select(r => r.Impl).Distinct().OrderBy(i => i == "ssm" ? 0 : i == "torch" ? 1 : 2).ThenBy(i => i, StringComparer.Ordinal).ToList();
        bool ratio = impls.Contains("ssm") && impls.Contains("torch");
        var sb = new StringBuilder();
        sb.Append("| op | shape | L | ").Append(string.Join(" | ", impls.Select(i => $"{ImplLabel(i)} ms")))
            .Append(ratio ? " | PyTorch/Ssm" : "").Append(" | ").Append(string.Join(" | ", impls.Select(i => $"{ImplLabel(i)} peak MiB"))).AppendLine(" |");
        sb.Append("|---|---|").Append(string.Concat(Enumerable.Repeat("---:|", 1 + 2 * impls.Count + (ratio ? 1 : 0)))).AppendLine();
        foreach (var g in rows.Where(r => r.L is not null).GroupBy(r => (r.Name, r.Others, L: r.L!.Value))
                     .OrderBy(g => g.Key.Name, StringComparer.Ordinal).ThenBy(g => g.Key.Others, StringComparer.Ordinal).ThenBy(g => g.Key.L))
        {
            Measurement? Of(string impl) => g.FirstOrDefault(r => r.Impl == impl);
            string Ms(Measurement? m) => m is null ? "–" : m.MedianMs.ToString(m.MedianMs >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture);
            string Mb(Measurement? m) => m?.PeakMbMax is { } mb ? mb.ToString("F0", CultureInfo.InvariantCulture) : "–";
            sb.Append($"| {Pretty(g.Key.Name)} | {g.Key.Others} | {g.Key.L} | ").Append(string.Join(" | ", impls.Select(i => Ms(Of(i)))));
            if (ratio)
                sb.Append(" | ").Append(Of("ssm") is { } s && Of("torch") is { } t ? (t.MedianMs / s.MedianMs).ToString("F2", CultureInfo.InvariantCulture) : "–");
            sb.Append(" | ").Append(string.Join(" | ", impls.Select(i => Mb(Of(i))))).AppendLine(" |");
        }
        return sb.ToString();
    }

    internal static string ImplLabel(string impl) => impl switch { "ssm" => "Ssm", "torch" => "PyTorch", _ => impl };

    // "causal_fwd_bwd" → "causal fwd+bwd", "forward_backward" → "fwd+bwd".
    private static string Pretty(string name) => Regex.Replace(name.Replace("forward", "fwd").Replace("backward", "bwd"), "fwd_bwd", "fwd+bwd").Replace('_', ' ');
}
