namespace Ssm.Benchmarks.Tests;

/// <summary>
/// Runs the benchmarks' <c>--smoke</c> mode as a separate process (every BenchmarkDotNet class with a dry in-process
/// job at tiny sizes, then every compare case at its "small" shapes) and requires it to finish successfully. No timing
/// is asserted; the numbers of a smoke run are meaningless.
/// </summary>
public sealed class SmokeTests
{
    [Fact]
    public void SmokeModeRunsEveryBenchmarkAndCompareCase()
    {
        var (exitCode, output) = BenchmarksProcess.Run(null, "--smoke");
        Assert.True(exitCode == 0, $"--smoke exited with {exitCode}:\n{BenchmarksProcess.Tail(output)}");

        // Every benchmark class ran and every compare case reported a result line.
        Assert.True(BenchmarkClasses.Length >= 36, $"only {BenchmarkClasses.Length} benchmark classes found by reflection");
        foreach (var benchmark in BenchmarkClasses)
            Assert.Contains($"{benchmark}.", output);
        foreach (var compareCase in new[] { "\"case\":\"gemm\"", "\"case\":\"elementwise\"", "\"case\":\"mamba2\"", "\"case\":\"mamba2_step\"",
                     "\"case\":\"ssd_scan\"", "\"case\":\"limits\"", "\"case\":\"titans_memory\"", "\"case\":\"titans_models\"",
                     "\"case\":\"longvq\"", "\"case\":\"longvq_layer\"" })
            Assert.Contains(compareCase, output);

        // The Titans report's tables over the smoke rows, every model finite.
        Assert.Contains("| L | depth | chunk | layer fwd ms |", output);
        Assert.Contains("| variant | d_model | L | fwd ms |", output);
        foreach (var variant in new[] { "MAC", "MAG", "MAL" })
            Assert.Matches($@"\| {variant} \| 16 \| 8 \|.*\| yes \|", output);
    }

    /// <summary>Every BenchmarkDotNet class of the benchmarks assembly (a concrete class with a [Benchmark] method).</summary>
    private static readonly string[] BenchmarkClasses = typeof(Ssm.Benchmarks.Program).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } &&
                    t.GetMethods().Any(m => m.IsDefined(typeof(BenchmarkDotNet.Attributes.BenchmarkAttribute), inherit: true)))
        .Select(t => t.Name).ToArray();

    /// <summary>
    /// The documented way to run a benchmark class, BenchmarkDotNet's default out-of-process toolchain from the repository
    /// (it finds the project by the assembly name, builds a generated host and runs it), on the GLU benchmark with the
    /// one-iteration dry job; the process fails when a benchmark does not build or run. About a minute on 2 cores.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void DefaultToolchainBuildsAndRunsABenchmarkClass()
    {
        var (exitCode, output) = BenchmarksProcess.RunIn(BenchmarksProcess.RepositoryRoot(), null,
            "--filter", "*GluBenchmarks*", "--job", "dry", "--artifacts", Path.Combine(Path.GetTempPath(), $"ssm-bdn-{Environment.ProcessId}"));
        Assert.True(exitCode == 0, $"the GluBenchmarks run exited with {exitCode}:\n{BenchmarksProcess.Tail(output)}");
        Assert.Matches(@"\| Forward +\| B8 L1024 C256 +\| +[0-9.,]+ [mµu]?s ", output);
    }

    /// <summary>The GPU runner's parity checks end to end on the ILGPU CPU accelerator at tiny sizes (minutes on 2 cores).</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void GpuRunnerParityChecksPassOnTheIlgpuCpuAccelerator()
    {
        var json = Path.Combine(Path.GetTempPath(), $"ssm-gpu-tiny-{Environment.ProcessId}.json");
        try
        {
            var (exitCode, output) = BenchmarksProcess.Run("ilgpu-cpu", "gpu", "--tiny", "--skip-timings", "--out", json);
            Assert.True(exitCode == 0, $"gpu --tiny exited with {exitCode}:\n{BenchmarksProcess.Tail(output)}");
            var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)).RootElement;
            Assert.Equal(0, doc.GetProperty("parity_failed").GetInt32());
            var families = doc.GetProperty("parity").EnumerateArray().Select(p => p.GetProperty("family").GetString()).ToArray();
            Assert.Equal(19, families.Length);
            Assert.Contains("Ssd", families);
        }
        finally
        {
            File.Delete(json);
        }
    }
}
