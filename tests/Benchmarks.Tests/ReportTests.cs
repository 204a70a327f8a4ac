using System.Text.Json;

namespace Ssm.Benchmarks.Tests;

/// <summary>
/// The <c>report</c> mode on a small synthetic results.jsonl: PNG plots for the cases with a sequence length (one per op
/// when a case has many shapes), none for a case without one, and the markdown table with the medians over rounds.
/// </summary>
public sealed class ReportTests
{
    private static readonly byte[] PngSignature = { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };

    [Fact]
    public void ReportWritesLogLogPlotsAndTheScalingTable()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-report-test-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            var results = Path.Combine(dir, "results.jsonl");
            File.WriteAllLines(results, SyntheticRows());
            var (exitCode, output) = BenchmarksProcess.Run(null, "report", results, "--out", dir);
            Assert.True(exitCode == 0, $"report exited with {exitCode}:\n{BenchmarksProcess.Tail(output)}");

            foreach (var png in new[] { "attention-time.png", "attention-memory.png", "s4d-time.png", "mamba2-forward-time.png",
                         "mamba2-forward_backward-time.png" })
            {
                var path = Path.Combine(dir, png);
                Assert.True(File.Exists(path), $"{png} was not written:\n{BenchmarksProcess.Tail(output)}");
                var bytes = File.ReadAllBytes(path);
                Assert.True(bytes.Length > 1000 && bytes.AsSpan(0, 8).SequenceEqual(PngSignature), $"{png} is not a PNG");
            }
            Assert.False(File.Exists(Path.Combine(dir, "s4d-memory.png")), "s4d rows carry no memory, so no memory plot");
            Assert.Empty(Directory.GetFiles(dir, "mamba2_step*"));
            Assert.False(File.Exists(Path.Combine(dir, "mamba2-time.png")), "mamba2 has 5 shapes per L, so it is plotted per op");

            var table = File.ReadAllText(Path.Combine(dir, "scaling.md"));
            // attention causal fwd at L=128: Ssm rounds 2 and 4 → median 3; PyTorch 9 → ratio 3; peak memory the max.
            Assert.Contains("| causal fwd | B=1 H=2 D=16 | 128 | 3.00 | 9.00 | 3.00 | 60 | 300 |", table);
            Assert.Contains("| sliding fwd+bwd | B=1 H=2 D=16 w=16 | 64 | 1.00 | 2.00 | 2.00 | 50 | 200 |", table);
            Assert.Contains("| fwd | B=2 H=4 N=4 | 32 | 1.00 | 2.00 | 2.00 | – | – |", table);
            Assert.Contains("| fwd+bwd | B1 d32 N4 P16 Q16 | 256 | 4.00 | 8.00 | 2.00 | – | – |", table);
            Assert.DoesNotContain("mamba2_step", table);
            Assert.Contains(table, output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static IEnumerable<string> SyntheticRows()
    {
        string Row(string impl, string @case, string name, string shape, double ms, int round, double? peakMb = null) =>
            JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["impl"] = impl, ["case"] = @case, ["name"] = name, ["shape"] = shape, ["median_ms"] = ms, ["throughput"] = 1.0,
                ["unit"] = "GB/s", ["work"] = 1.0, ["threads"] = 2, ["round"] = round, ["peak_rss_mb"] = peakMb,
            }.Where(kv => kv.Value is not null).ToDictionary());

        yield return Row("ssm", "limits", "triad", "4096 floats, 2 threads", 1, 0);
        foreach (int l in new[] { 64, 128 })
            for (int round = 0; round < 2; round++)
            {
                double scale = l / 64.0;
                yield return Row("ssm", "attention", "causal_fwd", $"L={l} B=1 H=2 D=16", scale * (1 + round), round, 50 + round * 10);
                yield return Row("torch", "attention", "causal_fwd", $"L={l} B=1 H=2 D=16", scale * 4.5, round, 300 - round * 100);
                yield return Row("ssm", "attention", "sliding_fwd_bwd", $"L={l} B=1 H=2 D=16 w=16", scale, round, 50);
                yield return Row("torch", "attention", "sliding_fwd_bwd", $"L={l} B=1 H=2 D=16 w=16", scale * 2, round, 200);
            }
        foreach (int l in new[] { 16, 32 })
            foreach (var impl in new[] { "ssm", "torch" })
                yield return Row(impl, "s4d", "forward", $"B=2 H=4 N=4 L={l}", (impl == "ssm" ? 1 : 2) * l / 32.0, 0);
        foreach (int l in new[] { 128, 256 })
            for (int d = 1; d <= 5; d++)
                foreach (var impl in new[] { "ssm", "torch" })
                    foreach (var name in new[] { "forward", "forward_backward" })
                        yield return Row(impl, "mamba2", name, $"B1 L{l} d{32 * d} N4 P16 Q16",
                            (impl == "ssm" ? 1 : 2) * (name == "forward" ? 1 : 2) * d * l / 128.0, 0);
        yield return Row("ssm", "mamba2_step", "step", "B2 d32 N16 P16", 1, 0);
        yield return Row("torch", "mamba2_step", "step", "B2 d32 N16 P16", 2, 0);
    }
}
