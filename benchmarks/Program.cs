using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Ssm.Benchmarks.Compare;
using Ssm.Benchmarks.Gpu;
using Ssm.Benchmarks.Profile;

namespace Ssm.Benchmarks;

/// <summary>
/// Entry point. Its modes:
/// <list type="bullet">
/// <item><c>[BenchmarkDotNet args]</c>: the BenchmarkDotNet switcher over every benchmark class (e.g. <c>--filter *Gemm*</c>).</item>
/// <item><c>compare CASE.. [--threads N] [--reps R] [--round I] [--json FILE] [--small]</c>: the side-by-side harness
/// (warm-up, then the median of R timed calls) printing one JSON line per measurement; <c>benchmarks/compare.sh</c>
/// runs it alternately with the PyTorch peer scripts in <c>benchmarks/peer/</c>.</item>
/// <item><c>report RESULTS.jsonl.. [--out DIR]</c>: for every compare case with a sequence length, log-log plots of time
/// (and peak memory) against L and a markdown table (<see cref="CompareReport"/>); compare.sh runs it after every run.</item>
/// <item><c>attention-report RESULTS.jsonl.. [--out DIR]</c>: the attention compare rows as a markdown table and log-log
/// plots of time and memory against L (<see cref="AttentionReport"/>).</item>
/// <item><c>titans-report RESULTS.jsonl.. [--out DIR]</c>: the titans_memory and titans_models compare rows as markdown
/// tables and log-log plots (<see cref="TitansReport"/>).</item>
/// <item><c>longvq-report RESULTS.jsonl.. [--out DIR]</c>: the LongVQ compare rows (codebook vs full attention, LongVQ
/// layer vs transformer block) as markdown tables with crossover lengths and slopes, and log-log plots
/// (<see cref="LongVQReport"/>).</item>
/// <item><c>profile layer|step [options]</c>: a per-phase Stopwatch breakdown of a Mamba-2 layer
/// (<see cref="Mamba2Profile"/>).</item>
/// <item><c>gpu [--out FILE] [--tiny] [--reps R]</c>: CUDA parity checks of every op family against the CPU backend and
/// GPU timings of the main kernels, as JSON (<see cref="GpuRunner"/>; benchmarks/gpu/run.sh on the GPU machine).</item>
/// <item><c>--smoke</c>: every BenchmarkDotNet class at tiny sizes (dry job, in process) and every compare case at tiny
/// sizes (then every report mode over those rows), to keep the benchmarks from rotting; numbers are meaningless.</item>
/// </list>
/// </summary>
public static class Program
{
    /// <summary>True in <c>--smoke</c> mode: benchmark classes use tiny shapes.</summary>
    public static bool Smoke { get; private set; }

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "compare") return CompareHarness.Run(args[1..]);
        if (args.Length > 0 && args[0] == "report") return CompareReport.Run(args[1..]);
        if (args.Length > 0 && args[0] == "attention-report") return AttentionReport.Run(args[1..]);
        if (args.Length > 0 && args[0] == "titans-report") return TitansReport.Run(args[1..]);
        if (args.Length > 0 && args[0] == "longvq-report") return LongVQReport.Run(args[1..]);
        if (args.Length > 0 && args[0] == "profile") return Mamba2Profile.Run(args[1..]);
        if (args.Length > 0 && args[0] == "gpu") return GpuRunner.Run(args[1..]);
        if (args.Contains("--smoke"))
        {
            Smoke = true;
            // Numbers of a smoke run are meaningless, so a Debug build (e.g. tests run without -c Release) may run it too.
            var config = ManualConfig.Create(DefaultConfig.Instance)
                .AddJob(Job.Dry.WithToolchain(InProcessEmitToolchain.Instance))
                .WithOptions(ConfigOptions.DisableOptimizationsValidator)
                .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "ssm-benchmarks-smoke"));
            var summaries = BenchmarkRunner.Run(typeof(Program).Assembly, config);
            bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
            // Every compare case at its small shapes, then every report over those rows.
            var smokeDir = Path.Combine(Path.GetTempPath(), "ssm-benchmarks-smoke", $"compare-{Environment.ProcessId}");
            Directory.CreateDirectory(smokeDir);
            var rows = Path.Combine(smokeDir, "results.jsonl");
            File.Delete(rows);
            int compare = CompareHarness.Run(new[] { "all", "--small", "--reps", "1", "--json", rows });
            // Every report mode over those rows (tables and plots).
            string[] reportArgs = { rows, "--out", smokeDir };
            int report = compare != 0 ? 1
                : new Func<string[], int>[] { CompareReport.Run, AttentionReport.Run, TitansReport.Run, LongVQReport.Run }
                    .Select(run => run(reportArgs)).Max();
            return failed || compare != 0 || report != 0 ? 1 : 0;
        }
        // A benchmark that failed to build or run (e.g. BenchmarkDotNet's generated project did not build) fails the process.
        var results = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return results.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
