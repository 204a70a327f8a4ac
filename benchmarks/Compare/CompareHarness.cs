using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// One side-by-side measurement: <see cref="Run"/> is timed; <see cref="Work"/> is the work of one call in
/// <see cref="Unit"/> (×1e9: flops for GFLOP/s, bytes for GB/s).
/// </summary>
internal sealed record CompareCase(string Case, string Name, string Shape, double Work, string Unit, Action Run) : IDisposable
{
    /// <summary>Tensors to release after the measurement.</summary>
    public IDisposable[] Resources { get; init; } = Array.Empty<IDisposable>();

    /// <summary>Flops of one call when <see cref="Unit"/> is not GFLOP/s (reported as an extra "flops" field), else null.</summary>
    public double? Flops { get; init; }

    /// <summary>Extra fields of the JSON line, read after the measurement (e.g. a check of the last call's result), or null.</summary>
    public Func<IReadOnlyDictionary<string, object>>? Extra { get; init; }

    public void Dispose()
    {
        foreach (var r in Resources) r.Dispose();
    }
}

/// <summary>
/// The compare mode: for each case, warm up (one call, then until 3 calls and 1 s so tiered JIT has settled, or 3 s in
/// all), then time <c>--reps</c> calls one by one with a Stopwatch and report the median as a JSON line
/// <c>{impl, case, name, shape, median_ms, cpu_ms, throughput, unit, work, threads, round}</c> (cpu_ms: the median process
/// CPU time, all threads; plus <c>flops</c> when the case counts them). <c>--max-tokens N</c> skips shapes whose batch × length exceeds N; <c>--where k=v,..</c> keeps the
/// shapes whose listed keys (when present) have those values; plus <c>peak_rss_mb</c> (peak resident memory during the case, see <see cref="PeakMemory"/>) and <c>base_rss_mb</c> (resident memory when the case started, its inputs
/// included: peak − base is the case's own working set). The PyTorch peers in
/// <c>benchmarks/peer/</c> follow the same protocol (peer/common.py). Adding a case: a <c>CASE.py</c> peer, shapes in
/// cases.json, and a factory in <see cref="Factories"/>.
/// </summary>
internal static class CompareHarness
{
    private static readonly Dictionary<string, Func<JsonNode, bool, IEnumerable<CompareCase>>> Factories = new()
    {
        ["gemm"] = GemmCompare.Cases,
        ["elementwise"] = ElementwiseCompare.Cases,
        ["attention"] = AttentionCompare.Cases,
        ["s4d"] = S4DCompare.Cases,
        ["s4d_phases"] = S4DCompare.Phases,
        ["mamba2"] = Mamba2Compare.Layer,
        ["mamba2_step"] = Mamba2Compare.Step,
        ["ssd_scan"] = Mamba2Compare.Scan,
        ["titans_memory"] = TitansCompare.Memory,
        ["titans_models"] = TitansCompare.Models,
        ["longvq"] = LongVQCompare.Ops,
        ["longvq_layer"] = LongVQCompare.Layer,
        ["limits"] = (_, small) => MachineLimits.Cases(small),
    };

    public static int Run(string[] args)
    {
        var cases = new List<string>();
        int reps = 7, round = 0;
        string? json = null;
        bool small = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads": CpuDevice.Threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--round": round = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--json": json = args[++i]; break;
                case "--small": small = true; break;
                case "--max-tokens": MaxTokens = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--where":
                    Where = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2))
                        .ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
                    break;
                case "all": cases.AddRange(Factories.Keys); break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal) || !Factories.ContainsKey(args[i]))
                    {
                        Console.Error.WriteLine($"compare: unknown argument '{args[i]}'. Usage: compare CASE.. [--threads N] [--reps R] " +
                            $"[--round I] [--json FILE] [--small] [--max-tokens N] [--where key=value,..]; cases: all, {string.Join(", ", Factories.Keys)}.");
                        return 2;
                    }
                    cases.Add(args[i]);
                    break;
            }
        }
        if (cases.Count == 0) cases.AddRange(Factories.Keys);

        var shapes = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "cases.json")))!;
        using var sink = json is null ? null : new StreamWriter(json, append: true);
        foreach (var name in cases.Distinct())
        foreach (var c in Factories[name](shapes[name] ?? new JsonObject(), small))
        {
            using (c)
            {
                // Start from an empty tensor pool and a collected heap, so that peak − base is this case's own working set.
                Device.Cpu.EmptyCache();
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                PeakMemory.Reset();
                double? baseline = PeakMemory.CurrentMiB();
                var (median, cpu) = MeasureWithCpu(c.Run, reps);
                var record = new Dictionary<string, object>
                {
                    ["impl"] = "ssm", ["case"] = c.Case, ["name"] = c.Name, ["shape"] = c.Shape,
                    ["median_ms"] = Math.Round(median * 1e3, 6), ["cpu_ms"] = Math.Round(cpu * 1e3, 6),
                    ["throughput"] = Math.Round(c.Work / median / 1e9, 3),
                    ["unit"] = c.Unit, ["work"] = c.Work, ["threads"] = CpuDevice.Threads, ["round"] = round,
                };
                if (PeakMemory.ResidentMiB() is double peak) record["peak_rss_mb"] = Math.Round(peak, 1);
                if (baseline is double start) record["base_rss_mb"] = Math.Round(start, 1);
                if (c.Flops is double flops) record["flops"] = flops;
                if (c.Extra is { } extra)
                    foreach (var (key, value) in extra()) record[key] = value;
                var line = JsonSerializer.Serialize(record);
                Console.WriteLine(line);
                sink?.WriteLine(line);
            }
        }
        return 0;
    }

    /// <summary>
    /// Least warm-up time per case: tiered JIT only starts counting calls once no new method was compiled for 100 ms,
    /// so the first case of a process needs about a second before its hot code is optimized.
    /// </summary>
    private const double WarmSeconds = 1.0;

    /// <summary>
    /// Medians of the wall time and of the process CPU time (all threads; seconds) of <paramref name="reps"/> calls after
    /// a warm-up. On a loaded machine the CPU time of a one-thread run barely depends on the load, unlike the wall time.
    /// </summary>
    public static (double Wall, double Cpu) MeasureWithCpu(Action run, int reps)
    {
        var warm = Stopwatch.StartNew();
        for (int calls = 0; calls < 1 || ((calls < 3 || warm.Elapsed.TotalSeconds < WarmSeconds) && warm.Elapsed.TotalSeconds < 3 * WarmSeconds); calls++) run();
        var times = new double[Math.Max(1, reps)];
        var cpu = new double[times.Length];
        for (int r = 0; r < times.Length; r++)
        {
            var c0 = ProcessCpu();
            long t0 = Stopwatch.GetTimestamp();
            run();
            times[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            cpu[r] = (ProcessCpu() - c0).TotalSeconds;
        }
        return (Median(times), Median(cpu));
    }

    /// <summary>CPU time of this process so far (all threads).</summary>
    internal static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    /// <summary>The median of the values (NaN when there are none).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        int n = s.Length;
        return n == 0 ? double.NaN : n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /// <summary>Shapes with batch × length ("batch"/"b" × "length"/"l") above this are skipped (<c>--max-tokens</c>); null: no limit.</summary>
    public static long? MaxTokens { get; private set; }

    /// <summary>Shape filter of <c>--where</c>: key → value as written in cases.json; null: every shape.</summary>
    public static Dictionary<string, string>? Where { get; private set; }

    /// <summary>
    /// The "full" or "small" shape list of a case in cases.json, without shapes over <see cref="MaxTokens"/> or not
    /// matching <see cref="Where"/>.
    /// </summary>
    public static IEnumerable<JsonNode> ShapeList(JsonNode caseShapes, bool small)
        => (caseShapes[small ? "small" : "full"] as JsonArray ?? new JsonArray()).Select(n => n!)
            .Where(n => MaxTokens is null || (long)((int?)n["batch"] ?? (int?)n["b"] ?? 1) * ((int?)n["length"] ?? (int?)n["l"] ?? 1) <= MaxTokens)
            .Where(n => Where is null || Where.All(kv => n[kv.Key] is not JsonNode v || v.ToJsonString().Trim('"') == kv.Value));
}
