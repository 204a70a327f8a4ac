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

    public void Dispose()
    {
        foreach (var r in Resources) r.Dispose();
    }
}

/// <summary>
/// The compare mode: for each case, warm up (at least 3 calls and 0.25 s, so tiered JIT has settled), then time
/// <c>--reps</c> calls one by one with a Stopwatch and report the median as a JSON line
/// <c>{impl, case, name, shape, median_ms, throughput, unit, work, threads, round}</c>, plus <c>peak_rss_mb</c> (the
/// process's peak resident memory during the case, where Linux can reset it; <see cref="PeakMemory"/>). The PyTorch peers in
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
                case "all": cases.AddRange(Factories.Keys); break;
                default:
                    if (args[i].StartsWith("--", StringComparison.Ordinal) || !Factories.ContainsKey(args[i]))
                    {
                        Console.Error.WriteLine($"compare: unknown argument '{args[i]}'. Usage: compare CASE.. [--threads N] [--reps R] " +
                            $"[--round I] [--json FILE] [--small]; cases: all, {string.Join(", ", Factories.Keys)}.");
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
                PeakMemory.Reset();
                double median = Measure(c.Run, reps);
                var fields = new Dictionary<string, object>
                {
                    ["impl"] = "ssm", ["case"] = c.Case, ["name"] = c.Name, ["shape"] = c.Shape,
                    ["median_ms"] = Math.Round(median * 1e3, 6), ["throughput"] = Math.Round(c.Work / median / 1e9, 3),
                    ["unit"] = c.Unit, ["work"] = c.Work, ["threads"] = CpuDevice.Threads, ["round"] = round,
                };
                if (PeakMemory.ResidentMiB() is double peak) fields["peak_rss_mb"] = Math.Round(peak, 1);
                var line = JsonSerializer.Serialize(fields);
                Console.WriteLine(line);
                sink?.WriteLine(line);
            }
        }
        return 0;
    }

    /// <summary>Median wall time (seconds) of <paramref name="reps"/> calls after a warm-up.</summary>
    public static double Measure(Action run, int reps)
    {
        var warm = Stopwatch.StartNew();
        for (int calls = 0; calls < 3 || warm.Elapsed.TotalSeconds < 0.25; calls++) run();
        var times = new double[Math.Max(1, reps)];
        for (int r = 0; r < times.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            times[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return times.Length % 2 == 1 ? times[times.Length / 2] : 0.5 * (times[times.Length / 2 - 1] + times[times.Length / 2]);
    }

    /// <summary>The "full" or "small" shape list of a case in cases.json.</summary>
    public static IEnumerable<JsonNode> ShapeList(JsonNode caseShapes, bool small)
        => (caseShapes[small ? "small" : "full"] as JsonArray ?? new JsonArray()).Select(n => n!);
}
