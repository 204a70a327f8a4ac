using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// <c>titans-report RESULTS.jsonl.. [--out DIR]</c>: the titans_memory and titans_models rows of compare runs as markdown
/// tables (time per call: median over rounds of each round's median; tokens/s; process CPU time; peak resident memory;
/// the models' finiteness check) and two log-log PNG plots: <c>titans-time.png</c> (MAC/MAG/MAL forward and
/// forward+backward time against L, guide ∝ L) and <c>titans-memory-throughput.png</c> (neural memory tokens/s against
/// the chunk size, one line per depth and pass).
/// </summary>
internal static class TitansReport
{
    private sealed record Row(string Case, string Name, string Shape, Dictionary<string, string> Keys, List<double> Ms, List<double> CpuMs,
        List<double> PeakMb, List<bool> Finite)
    {
        public int Int(string key) => int.Parse(Keys[key], CultureInfo.InvariantCulture);
        public double Ms50 => CompareHarness.Median(Ms);
        public double KTokPerS => Int("L") * Int("B") / Ms50;
    }

    public static int Run(string[] args)
    {
        if (!ReportInput.TryParse("titans-report", args, out var inputs, out var outDir)) return 2;
        var rows = new Dictionary<(string, string, string), Row>();
        foreach (var r in ReportInput.Rows(inputs, "titans_memory", "titans_models"))
        {
            string kind = (string?)r["case"] ?? "";
            string name = (string)r["name"]!, shape = (string)r["shape"]!;
            if (!rows.TryGetValue((kind, name, shape), out var row))
                rows[(kind, name, shape)] = row = new Row(kind, name, shape,
                    shape.Split(' ').Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]), new(), new(), new(), new());
            row.Ms.Add((double)r["median_ms"]!);
            if (r["cpu_ms"] is { } cpu) row.CpuMs.Add((double)cpu);
            if (r["peak_rss_mb"] is { } peak) row.PeakMb.Add((double)peak);
            if (r["finite"] is { } finite) row.Finite.Add((bool)finite);
        }
        if (rows.Count == 0)
        {
            Console.Error.WriteLine("titans-report: no titans_memory or titans_models rows in the inputs.");
            return 1;
        }
        var all = rows.Values.ToList();
        var memory = all.Where(r => r.Case == "titans_memory").ToList();
        var models = all.Where(r => r.Case == "titans_models").ToList();
        Directory.CreateDirectory(outDir);
        if (memory.Count > 0)
        {
            Console.WriteLine(MemoryTable(memory));
            PlotMemory(memory, Path.Combine(outDir, "titans-memory-throughput.png"));
        }
        if (models.Count > 0)
        {
            Console.WriteLine(ModelTable(models));
            PlotModels(models, Path.Combine(outDir, "titans-time.png"));
        }
        Console.Error.WriteLine($"titans-report: wrote the plots to {outDir}");
        return 0;
    }

    private static string F(double v) => v.ToString(v >= 100 ? "F0" : v >= 10 ? "F1" : "F2", CultureInfo.InvariantCulture);

    private static double Cpu(Row r) => r.CpuMs.Count == 0 ? double.NaN : CompareHarness.Median(r.CpuMs);

    private static string Cell(Row? r, Func<Row, double> value) => r is null ? "–" : F(value(r));

    /// <summary>Per (L, depth, chunk): the layer's fwd and fwd+bwd time and tokens/s, the scan alone's share, the fwd+bwd peak.</summary>
    private static string MemoryTable(List<Row> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| L | depth | chunk | layer fwd ms | fwd CPU ms | fwd K tok/s | layer fwd+bwd ms | fwd+bwd CPU ms | fwd+bwd K tok/s | scan alone fwd CPU ms (share) | scan alone fwd+bwd CPU ms (share) | peak MiB fwd+bwd |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var g in rows.GroupBy(r => r.Shape).OrderByDescending(g => g.First().Int("L")).ThenBy(g => g.First().Int("depth")).ThenBy(g => g.First().Int("chunk")))
        {
            Row? Get(string name) => g.FirstOrDefault(r => r.Name == name);
            Row? fwd = Get("layer_fwd"), fb = Get("layer_fwd_bwd"), sf = Get("scan_fwd"), sfb = Get("scan_fwd_bwd");
            // The scan's share of the layer in process CPU time (robust to other processes' load, unlike the wall time).
            string Share(Row? scan, Row? layer) => scan is null ? "–" : layer is null ? F(Cpu(scan)) : $"{F(Cpu(scan))} ({100 * Cpu(scan) / Cpu(layer):F0}%)";
            var k = g.First();
            sb.AppendLine($"| {k.Int("L")} | {k.Int("depth")} | {k.Int("chunk")} | {Cell(fwd, r => r.Ms50)} | {Cell(fwd, Cpu)} | {Cell(fwd, r => r.KTokPerS)} | " +
                $"{Cell(fb, r => r.Ms50)} | {Cell(fb, Cpu)} | {Cell(fb, r => r.KTokPerS)} | {Share(sf, fwd)} | {Share(sfb, fb)} | " +
                $"{(fb is { PeakMb.Count: > 0 } ? F(fb.PeakMb.Max()) : "–")} |");
        }
        return sb.ToString();
    }

    /// <summary>Per (d_model, variant, L): fwd and fwd+bwd time, tokens/s, CPU time, peak memory, finiteness.</summary>
    private static string ModelTable(List<Row> rows)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| variant | d_model | L | fwd ms | fwd CPU ms | fwd K tok/s | fwd+bwd ms | fwd+bwd CPU ms | fwd+bwd K tok/s | peak MiB fwd | peak MiB fwd+bwd | finite |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var g in rows.GroupBy(r => (Variant: r.Name.Split('_')[0], r.Shape))
                     .OrderByDescending(g => g.First().Int("d")).ThenBy(g => g.Key.Variant).ThenBy(g => g.First().Int("L")))
        {
            Row? fwd = g.FirstOrDefault(r => !r.Name.EndsWith("fwd_bwd", StringComparison.Ordinal));
            Row? fb = g.FirstOrDefault(r => r.Name.EndsWith("fwd_bwd", StringComparison.Ordinal));
            string Peak(Row? r) => r is { PeakMb.Count: > 0 } ? F(r.PeakMb.Max()) : "–";
            var finite = g.SelectMany(r => r.Finite).ToList();
            var k = g.First();
            sb.AppendLine($"| {g.Key.Variant.ToUpperInvariant()} | {k.Int("d")} | {k.Int("L")} | {Cell(fwd, r => r.Ms50)} | {Cell(fwd, Cpu)} | {Cell(fwd, r => r.KTokPerS)} | " +
                $"{Cell(fb, r => r.Ms50)} | {Cell(fb, Cpu)} | {Cell(fb, r => r.KTokPerS)} | {Peak(fwd)} | {Peak(fb)} | " +
                $"{(finite.Count == 0 ? "–" : finite.All(f => f) ? "yes" : "NO")} |");
        }
        return sb.ToString();
    }

    private static void PlotModels(List<Row> rows, string path)
    {
        // The widest model is the sweep; narrower ones (the 16K finiteness check) are left out of the plot.
        int width = rows.Max(r => r.Int("d"));
        var series = rows.Where(r => r.Int("d") == width).GroupBy(r => r.Name).OrderBy(g => g.Key).Select(g =>
        {
            var points = g.OrderBy(r => r.Int("L")).ToList();
            string variant = g.Key.Split('_')[0];
            bool backward = g.Key.EndsWith("fwd_bwd", StringComparison.Ordinal);
            return new PlotSeries($"{variant.ToUpperInvariant()} {(backward ? "fwd+bwd" : "fwd")}",
                points.Select(r => ((double)r.Int("L"), r.Ms50 / 1e3)).ToList()) { ColorKey = variant, Dashed = backward };
        }).ToList();
        var k = rows.First(r => r.Int("d") == width).Keys;
        LogLogPlot.Save(path, $"Titans LM time vs L (d_model {width}, {k["layers"]} layers, window {k["window"]}, segment {k["segment"]}, memory chunk {k["chunk"]}; batch 1)",
            "sequence length L", "time per call (s)", series, new[] { 1.0 });
    }

    private static void PlotMemory(List<Row> rows, string path)
    {
        // The longest length is the chunk sweep.
        int length = rows.Max(r => r.Int("L"));
        var series = rows.Where(r => r.Int("L") == length && r.Name.StartsWith("layer", StringComparison.Ordinal))
            .GroupBy(r => (Depth: r.Int("depth"), r.Name)).OrderBy(g => g.Key.Depth).ThenBy(g => g.Key.Name).Select(g =>
            {
                var points = g.OrderBy(r => r.Int("chunk")).ToList();
                bool backward = g.Key.Name.EndsWith("fwd_bwd", StringComparison.Ordinal);
                return new PlotSeries($"depth {g.Key.Depth} {(backward ? "fwd+bwd" : "fwd")}",
                    points.Select(r => ((double)r.Int("chunk"), r.KTokPerS * 1e3)).ToList()) { ColorKey = $"depth {g.Key.Depth}", Dashed = backward };
            }).ToList();
        var k = rows.First(r => r.Int("L") == length).Keys;
        LogLogPlot.Save(path, $"Titans neural memory layer throughput vs chunk size (L {length}, d_model {k["d"]}, {k["H"]} heads, expansion {k["E"]})",
            "chunk size (tokens per memory update)", "tokens/s", series);
    }
}
