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
        var dll = Path.Combine(AppContext.BaseDirectory, "Ssm.Benchmarks.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing (the test project references benchmarks/Benchmarks.csproj)");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add("--smoke");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        string output = stdout.Result + stderr.Result;
        Assert.True(process.ExitCode == 0, $"--smoke exited with {process.ExitCode}:\n{Tail(output)}");

        // Every benchmark class ran and every compare case reported a result line.
        foreach (var benchmark in new[] { "GemmBenchmarks", "ElementwiseBenchmarks", "Mamba2Benchmarks", "Mamba2StepBenchmarks", "SsdScanBenchmarks" })
            Assert.Contains(benchmark, output);
        foreach (var compareCase in new[] { "\"case\":\"gemm\"", "\"case\":\"elementwise\"", "\"case\":\"mamba2\"", "\"case\":\"mamba2_step\"",
                     "\"case\":\"ssd_scan\"", "\"case\":\"limits\"" })
            Assert.Contains(compareCase, output);
    }

    private static string Tail(string s) => s.Length <= 4000 ? s : s[^4000..];
}
