using System.Diagnostics;

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
        var (exitCode, output) = RunBenchmarks(null, "--smoke");
        Assert.True(exitCode == 0, $"--smoke exited with {exitCode}:\n{Tail(output)}");

        // Every benchmark class ran and every compare case reported a result line.
        foreach (var benchmark in new[] { "GemmBenchmarks", "ElementwiseBenchmarks", "Mamba2Benchmarks", "Mamba2StepBenchmarks", "SsdScanBenchmarks",
                     "VectorQuantizerBenchmarks", "CodebookAttentionBenchmarks" })
            Assert.Contains(benchmark, output);
        foreach (var compareCase in new[] { "\"case\":\"gemm\"", "\"case\":\"elementwise\"", "\"case\":\"mamba2\"", "\"case\":\"mamba2_step\"",
                     "\"case\":\"ssd_scan\"", "\"case\":\"longvq\"", "\"case\":\"longvq_layer\"", "\"case\":\"limits\"" })
            Assert.Contains(compareCase, output);
    }

    /// <summary>The GPU runner's parity checks end to end on the ILGPU CPU accelerator at tiny sizes (minutes on 2 cores).</summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void GpuRunnerParityChecksPassOnTheIlgpuCpuAccelerator()
    {
        var json = Path.Combine(Path.GetTempPath(), $"ssm-gpu-tiny-{Environment.ProcessId}.json");
        try
        {
            var (exitCode, output) = RunBenchmarks("ilgpu-cpu", "gpu", "--tiny", "--skip-timings", "--out", json);
            Assert.True(exitCode == 0, $"gpu --tiny exited with {exitCode}:\n{Tail(output)}");
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

    /// <summary>Runs <c>dotnet Ssm.Benchmarks.dll ARGS</c> with SSM_DEVICE = device (default cpu) and returns its exit code and output.</summary>
    private static (int ExitCode, string Output) RunBenchmarks(string? device, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Ssm.Benchmarks.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing (the test project references benchmarks/Benchmarks.csproj)");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.Environment["SSM_DEVICE"] = device ?? "cpu";
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Tail(string s) => s.Length <= 4000 ? s : s[^4000..];
}
