using Ssm.Synthetic.Reports;

namespace Ssm.Synthetic.Tests;

public sealed class ReportsTests
{
    [Fact]
    public void PlotsArePngFiles()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-plots-{Guid.NewGuid():N}");
        var lines = Path.Combine(dir, "lines.png");
        var x = Enumerable.Range(1, 50).Select(i => (double)i).ToArray();
        Plots.Lines(lines, "loss", "step", "loss", new[] { ("train", x, x.Select(v => 1 / v).ToArray()), ("eval", x, x.Select(v => 2 / v).ToArray()) },
            logY: true, markX: 20, markLabel: "train length");
        var heat = Path.Combine(dir, "heat.png");
        Plots.HeatMap(heat, "passkey", new double[,] { { 1, 0.5 }, { 0.25, 0 } }, new[] { "256", "512" }, new[] { "0.25", "0.75" }, "length", "depth");
        foreach (var f in new[] { lines, heat })
        {
            var bytes = File.ReadAllBytes(f);
            Assert.True(bytes.Length > 2000, $"{f} is only {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MetricsLogRoundTrips()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ssm-metrics-{Guid.NewGuid():N}.jsonl");
        using (var log = new MetricsLog(path))
        {
            log.Write(new Dictionary<string, object?> { ["step"] = 1, ["loss"] = 2.5, ["split"] = "train" });
            log.Write(new Dictionary<string, object?> { ["step"] = 2, ["loss"] = 1.25, ["split"] = "eval" });
        }
        var rows = MetricsLog.Read(path);
        Assert.Equal(2, rows.Count);
        Assert.Equal(1.25, rows[1]["loss"]!.GetValue<double>());
        Assert.Equal("eval", rows[1]["split"]!.GetValue<string>());
        File.Delete(path);
    }
}
