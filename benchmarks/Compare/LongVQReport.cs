using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// <c>longvq-report RESULTS.jsonl.. [--out DIR]</c>: the "longvq" and "longvq_layer" compare rows
/// (<see cref="LongVQCompare"/>) as markdown tables — time per call (median over runs of each run's median), process CPU
/// time, the working set (peak resident memory − resident memory at the start of the case, inputs excluded) — with the
/// codebook/full time ratio, the crossover length (where codebook attention becomes faster than full attention,
/// interpolated linearly in log L–log t between the two measured lengths around it) and the log-log slope of each
/// series (least squares; wall and CPU time); and log-log plots against L (<see cref="LogLogPlot"/>): process CPU time
/// (<c>longvq-time.png</c>; on a shared machine it depends far less on the load than the wall time), wall time
/// (<c>longvq-wall.png</c>), working set (<c>longvq-memory.png</c>) and the layers' CPU time (<c>longvq-layer-time.png</c>). Full attention beyond its longest measured length is
/// extrapolated ∝ L² from that length, marked "~" in the tables and drawn dotted, and never used for a slope.
/// </summary>
internal static class LongVQReport
{
    /// <summary>Measurements of one series (case, name, configuration) at one L.</summary>
    private sealed record Point(int L, List<double> Ms, List<double> CpuMs, List<double> PeakMb, List<double> WorkingMb);

    private sealed record Series(string Case, string Name, string Config)
    {
        public SortedDictionary<int, Point> Points { get; } = new();
        public bool Full => Name.StartsWith("full", StringComparison.Ordinal);
        public bool Backward => Name.EndsWith("fwd_bwd", StringComparison.Ordinal);
    }

    public static int Run(string[] args)
    {
        if (!ReportInput.TryParse("longvq-report", args, out var inputs, out var outDir)) return 2;
        var series = new Dictionary<(string, string, string), Series>();
        foreach (var r in ReportInput.Rows(inputs, "longvq", "longvq_layer"))
        {
            string kase = (string?)r["case"] ?? "";
            string name = (string)r["name"]!;
            var parts = ((string)r["shape"]!).Split(' ');
            int l = int.Parse(parts[0]["L=".Length..], CultureInfo.InvariantCulture);
            // The op's configuration is its block length and codebook size; full attention has none.
            string config = kase == "longvq_layer" ? ""
                : string.Join(" ", parts.Skip(1).Where(p => p.StartsWith("block=", StringComparison.Ordinal) || p.StartsWith("S=", StringComparison.Ordinal)));
            var key = (kase, name, config);
            var s = series.TryGetValue(key, out var found) ? found : series[key] = new Series(kase, name, config);
            if (!s.Points.TryGetValue(l, out var p)) s.Points[l] = p = new Point(l, new(), new(), new(), new());
            p.Ms.Add((double)r["median_ms"]!);
            if (r["cpu_ms"] is { } cpu) p.CpuMs.Add((double)cpu);
            if (r["peak_rss_mb"] is { } peak)
            {
                p.PeakMb.Add((double)peak);
                if (r["base_rss_mb"] is { } start) p.WorkingMb.Add((double)peak - (double)start);
            }
        }
        if (series.Count == 0)
        {
            Console.Error.WriteLine("longvq-report: no longvq or longvq_layer rows in the inputs.");
            return 1;
        }
        var all = series.Values.ToList();
        var sb = new StringBuilder();
        foreach (var config in all.Where(s => s.Case == "longvq" && !s.Full && s.Config != "").Select(s => s.Config).Distinct().Order(StringComparer.Ordinal))
            sb.AppendLine(OpTable(all, config));
        if (all.Any(s => s.Case == "longvq_layer")) sb.AppendLine(LayerTable(all));
        sb.AppendLine(Summary(all));
        Console.WriteLine(sb.ToString());

        Directory.CreateDirectory(outDir);
        var ops = all.Where(s => s.Case == "longvq").ToList();
        string opShape = "B=1 H=4 D=64";
        LogLogPlot.Save(Path.Combine(outDir, "longvq-time.png"),
            $"Codebook (LongVQ) vs full causal attention: process CPU time vs L ({opShape}, 2 threads)", "sequence length L",
            "CPU time per call (s, both threads)", Lines(ops, p => CompareHarness.Median(p.CpuMs.Count > 0 ? p.CpuMs : p.Ms) / 1e3, extrapolate: true), Guides);
        LogLogPlot.Save(Path.Combine(outDir, "longvq-wall.png"), $"Codebook (LongVQ) vs full causal attention: wall time vs L ({opShape})",
            "sequence length L", "wall time per call (s)", Lines(ops, p => CompareHarness.Median(p.Ms) / 1e3, extrapolate: true), Guides);
        LogLogPlot.Save(Path.Combine(outDir, "longvq-memory.png"),
            $"Codebook vs full causal attention: working set vs L (peak − start resident memory, {opShape})", "sequence length L",
            "working set (MiB)", Lines(ops.Where(s => s.Name != "vq_fwd").ToList(), p => p.WorkingMb.Count > 0 ? p.WorkingMb.Max() : double.NaN, extrapolate: false), Guides);
        var layers = all.Where(s => s.Case == "longvq_layer").ToList();
        if (layers.Count > 0)
            LogLogPlot.Save(Path.Combine(outDir, "longvq-layer-time.png"),
                "LongVQ layer vs transformer block (d_model 256, 4 heads): process CPU time vs L", "sequence length L",
                "CPU time per call (s, both threads)", Lines(layers, p => CompareHarness.Median(p.CpuMs.Count > 0 ? p.CpuMs : p.Ms) / 1e3, extrapolate: true), Guides);
        Console.Error.WriteLine($"longvq-report: wrote longvq-time.png, longvq-wall.png, longvq-memory.png{(layers.Count > 0 ? ", longvq-layer-time.png" : "")} in {outDir}");
        return 0;
    }

    private static string Label(Series s) => (s.Case, s.Name) switch
    {
        ("longvq", "vq_fwd") => $"VQ nearest codeword ({s.Config})",
        ("longvq", _) when s.Full => $"full attention {(s.Backward ? "fwd+bwd" : "fwd")}",
        ("longvq", _) => $"codebook attention {(s.Backward ? "fwd+bwd" : "fwd")} ({s.Config})",
        (_, _) when s.Full => $"transformer block {(s.Backward ? "fwd+bwd" : "fwd")}",
        _ => $"LongVQ layer {(s.Backward ? "fwd+bwd" : "fwd")}",
    };

    /// <summary>Guide slopes of every plot: ∝ L and ∝ L².</summary>
    private static readonly double[] Guides = { 1, 2 };

    private static List<PlotSeries> Lines(List<Series> series, Func<Point, double> value, bool extrapolate)
    {
        var lengths = series.SelectMany(s => s.Points.Keys).Distinct().Order().ToList();
        var result = new List<PlotSeries>();
        foreach (var s in series.OrderBy(s => s.Full).ThenBy(s => s.Config, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal))
        {
            string color = s.Full ? "full" : s.Name == "vq_fwd" ? "vq " + s.Config : s.Config;
            var points = s.Points.Values.Select(p => ((double)p.L, value(p))).Where(p => p.Item2 > 0).ToList();
            result.Add(new PlotSeries(Label(s), points) { ColorKey = color, Dashed = s.Backward });
            if (extrapolate && s.Full && s.Points.Count > 0)
            {
                var last = s.Points.Values.Last();
                var beyond = lengths.Where(l => l > last.L).Select(l => ((double)l, value(last) * Math.Pow((double)l / last.L, 2))).ToList();
                if (beyond.Count > 0)
                    result.Add(new PlotSeries(Label(s) + " (extrapolated ∝ L²)", beyond.Prepend(((double)last.L, value(last))).ToList()) { ColorKey = color, Dotted = true });
            }
        }
        return result;
    }

    /// <summary>Median time at L, or the ∝ L² extrapolation from the longest measured L (extrapolated = true).</summary>
    private static (double Ms, bool Extrapolated)? Time(Series? s, int l, bool cpu = false)
    {
        if (s is null || s.Points.Count == 0) return null;
        double Value(Point p) => CompareHarness.Median(cpu && p.CpuMs.Count > 0 ? p.CpuMs : p.Ms);
        if (s.Points.TryGetValue(l, out var p)) return (Value(p), false);
        var last = s.Points.Values.Last();
        if (!s.Full || l < last.L) return null;
        return (Value(last) * Math.Pow((double)l / last.L, 2), true);
    }

    private static string Ms((double Ms, bool Extrapolated)? t) => t is not { } v ? "–"
        : (v.Extrapolated ? "~" : "") + v.Ms.ToString(v.Ms >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture);

    private static string Ratio((double Ms, bool Extrapolated)? a, (double Ms, bool Extrapolated)? b) => a is { } x && b is { } y
        ? (x.Extrapolated || y.Extrapolated ? "~" : "") + (x.Ms / y.Ms).ToString("F2", CultureInfo.InvariantCulture) : "–";

    private static string Mib(Series? s, int l) => s is not null && s.Points.TryGetValue(l, out var p) && p.WorkingMb.Count > 0
        ? p.WorkingMb.Max().ToString("F0", CultureInfo.InvariantCulture) : "–";

    private static string Cpu(Series? s, int l) => s is not null && s.Points.TryGetValue(l, out var p) && p.CpuMs.Count > 0
        ? CompareHarness.Median(p.CpuMs).ToString(CompareHarness.Median(p.CpuMs) >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture) : "–";

    private static Series? Find(List<Series> all, string kase, string name, string config = "")
        => all.FirstOrDefault(s => s.Case == kase && s.Name == name && s.Config == config);

    private static string OpTable(List<Series> all, string config)
    {
        Series? cf = Find(all, "longvq", "codebook_fwd", config), cb = Find(all, "longvq", "codebook_fwd_bwd", config),
            ff = Find(all, "longvq", "full_fwd"), fb = Find(all, "longvq", "full_fwd_bwd"), vq = Find(all, "longvq", "vq_fwd", config);
        var lengths = new[] { cf, cb }.Where(s => s is not null).SelectMany(s => s!.Points.Keys).Distinct().Order().ToList();
        var sb = new StringBuilder();
        sb.AppendLine($"Codebook attention ({config}) vs full causal attention: ms per call as wall (process CPU, both threads); " +
            "ratios codebook/full as wall (CPU); WS = working set in MiB (peak − start resident memory); " +
            "~ = full attention extrapolated ∝ L² from its longest measured L.");
        sb.AppendLine();
        sb.AppendLine("| L | codebook fwd | full fwd | codebook/full fwd | codebook fwd+bwd | full fwd+bwd | codebook/full fwd+bwd | VQ nearest | WS codebook fwd / full fwd | WS codebook fwd+bwd / full fwd+bwd |");
        sb.AppendLine("|---:|" + string.Concat(Enumerable.Repeat("---:|", 9)));
        foreach (int l in lengths)
            sb.AppendLine($"| {l} | {WallCpu(cf, l)} | {WallCpu(ff, l)} | {Ratios(cf, ff, l)} | {WallCpu(cb, l)} | {WallCpu(fb, l)} | {Ratios(cb, fb, l)} | " +
                $"{WallCpu(vq, l)} | {Mib(cf, l)} / {Mib(ff, l)} | {Mib(cb, l)} / {Mib(fb, l)} |");
        return sb.ToString();
    }

    private static string WallCpu(Series? s, int l) => Time(s, l) is { } wall
        ? Ms(wall) + (Time(s, l, cpu: true) is { Extrapolated: false } cpu ? $" ({Ms(cpu)})" : "") : "–";

    private static string Ratios(Series? a, Series? b, int l) => Ratio(Time(a, l), Time(b, l)) + $" ({Ratio(Time(a, l, cpu: true), Time(b, l, cpu: true))})";

    private static string LayerTable(List<Series> all)
    {
        Series? lf = Find(all, "longvq_layer", "longvq_fwd"), lb = Find(all, "longvq_layer", "longvq_fwd_bwd"),
            tf = Find(all, "longvq_layer", "full_fwd"), tb = Find(all, "longvq_layer", "full_fwd_bwd");
        var lengths = new[] { lf, lb }.Where(s => s is not null).SelectMany(s => s!.Points.Keys).Distinct().Order().ToList();
        var sb = new StringBuilder();
        sb.AppendLine("LongVQ layer vs transformer block: ms per call as wall (process CPU); ratios LongVQ/transformer as wall (CPU); " +
            "WS = working set MiB; ~ = extrapolated ∝ L².");
        sb.AppendLine();
        sb.AppendLine("| L | LongVQ fwd | transformer fwd | LongVQ/transformer fwd | LongVQ fwd+bwd | transformer fwd+bwd | LongVQ/transformer fwd+bwd | WS LongVQ / transformer fwd+bwd |");
        sb.AppendLine("|---:|" + string.Concat(Enumerable.Repeat("---:|", 7)));
        foreach (int l in lengths)
            sb.AppendLine($"| {l} | {WallCpu(lf, l)} | {WallCpu(tf, l)} | {Ratios(lf, tf, l)} | {WallCpu(lb, l)} | {WallCpu(tb, l)} | {Ratios(lb, tb, l)} | {Mib(lb, l)} / {Mib(tb, l)} |");
        return sb.ToString();
    }

    private static string Summary(List<Series> all)
    {
        var sb = new StringBuilder();
        sb.AppendLine("Log-log slopes of time vs L (least squares over the measured points; ≈ 1 linear, ≈ 2 quadratic), of the wall time and of the process CPU time:");
        sb.AppendLine();
        foreach (var s in all.Where(s => s.Points.Count >= 2).OrderBy(s => s.Case, StringComparer.Ordinal).ThenBy(s => s.Full).ThenBy(s => s.Config, StringComparer.Ordinal).ThenBy(s => s.Name, StringComparer.Ordinal))
        {
            var pts = s.Points.Values.ToList();
            var upper = pts.Where(p => p.L >= 4096).ToList();
            string tail = upper.Count >= 2 ? $"; L ≥ 4096: wall {Slope(upper, false):F2}, CPU {Slope(upper, true):F2}" : "";
            sb.AppendLine($"- {Label(s)}: wall {Slope(pts, false):F2}, CPU {Slope(pts, true):F2} (L = {pts[0].L}…{pts[^1].L}{tail})");
        }
        sb.AppendLine();
        sb.AppendLine("Crossover (codebook faster than full attention from this L on; by wall time, and by process CPU time, which depends less on the machine's load):");
        sb.AppendLine();
        var pairs = all.Where(s => !s.Full && s.Name != "vq_fwd").Select(s => (Fast: s,
            Full: Find(all, s.Case, s.Backward ? "full_fwd_bwd" : "full_fwd")));
        foreach (var (fast, full) in pairs.OrderBy(p => p.Fast.Case, StringComparer.Ordinal).ThenBy(p => p.Fast.Config, StringComparer.Ordinal).ThenBy(p => p.Fast.Name, StringComparer.Ordinal))
            sb.AppendLine($"- {Label(fast)} vs {(full is null ? "(no full-attention rows)" : Label(full))}: wall {Crossover(fast, full, cpu: false)}; " +
                $"CPU {Crossover(fast, full, cpu: true)}");
        return sb.ToString();
    }

    /// <summary>
    /// The L where the two time curves cross, interpolated in log-log between the consecutive lengths where the ratio
    /// fast/full goes from ≥ 1 to &lt; 1 (full attention extrapolated ∝ L² where not measured, and then said so).
    /// </summary>
    private static string Crossover(Series fast, Series? full, bool cpu)
    {
        if (full is null || full.Points.Count == 0) return "–";
        var lengths = fast.Points.Keys.ToList();
        (int L, double Ratio, bool Extrapolated)? previous = null;
        foreach (int l in lengths)
        {
            var f = Time(full, l, cpu);
            if (f is null) continue;
            double ratio = Time(fast, l, cpu)!.Value.Ms / f.Value.Ms;
            if (ratio < 1)
            {
                if (previous is null) return $"faster already at the shortest length compared, L = {l} (ratio {ratio:F2})";
                var p = previous.Value;
                // log ratio is linear in log L between the two points; solve log ratio = 0.
                double x0 = Math.Log(p.L), x1 = Math.Log(l), y0 = Math.Log(p.Ratio), y1 = Math.Log(ratio);
                double cross = Math.Exp(x0 + (0 - y0) * (x1 - x0) / (y1 - y0));
                bool extrapolated = p.Extrapolated || f.Value.Extrapolated;
                return $"L ≈ {cross:F0} (between {p.L}, ratio {p.Ratio:F2}, and {l}, ratio {ratio:F2}; log-log interpolation" +
                    (extrapolated ? "; uses full-attention times extrapolated ∝ L²" : "; both lengths measured") + ")";
            }
            previous = (l, ratio, f.Value.Extrapolated);
        }
        return previous is { } last ? $"none up to L = {last.L} (ratio {last.Ratio:F2} there)" : "–";
    }

    private static double Slope(List<Point> points, bool cpu)
    {
        var xs = points.Select(p => Math.Log(p.L)).ToArray();
        var ys = points.Select(p => Math.Log(CompareHarness.Median(cpu && p.CpuMs.Count > 0 ? p.CpuMs : p.Ms))).ToArray();
        double mx = xs.Average(), my = ys.Average();
        double sxy = xs.Zip(ys).Sum(t => (t.First - mx) * (t.Second - my)), sxx = xs.Sum(x => (x - mx) * (x - mx));
        return sxy / sxx;
    }
}
