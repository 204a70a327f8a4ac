using Ssm.Checkpoints;

namespace Ssm.Synthetic.Tests;

/// <summary>The ssm commands, run in-process.</summary>
public sealed class CliTests
{
    private static string Tiny => Path.Combine(AppContext.BaseDirectory, "Data", "mamba2_tiny");

    private static int Run(params string[] args) => Program.Run(args, Console.Error);

    [Theory]
    [InlineData("parallel")]
    [InlineData("step")]
    public void ForwardReproducesTheReferenceLogits(string mode)
    {
        var output = Path.Combine(Path.GetTempPath(), $"ssm-logits-{Guid.NewGuid():N}.safetensors");
        Assert.Equal(0, Run("forward", "--model", Tiny, "--input", Path.Combine(Tiny, "expected.safetensors"), "--output", output, "--mode", mode));
        using var got = SafeTensorsFile.Open(output);
        using var expected = SafeTensorsFile.Open(Path.Combine(Tiny, "expected.safetensors"));
        Assert.Equal(expected.Info("logits").Shape, got.Info("logits").Shape);
        Close.All(expected.ReadFloats("logits"), got.ReadFloats("logits"), 1e-4, 1e-4, $"ssm forward --mode {mode}");
        File.Delete(output);
    }

    [Fact]
    public void TrainThenEvalThroughTheCli()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-cli-{Guid.NewGuid():N}");
        Assert.Equal(0, Run("train", "mqar", "--vocab", "16", "--pairs", "1", "--len", "8", "--model", "mamba2", "--d-model", "16", "--layers", "1",
            "--headdim", "8", "--d-state", "4", "--steps", "20", "--eval-every", "10", "--eval-batches", "1", "--out", dir));
        foreach (var f in new[] { "run.json", "summary.json", "metrics.jsonl", "checkpoint/model.safetensors" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.Equal(0, Run("eval", "--checkpoint", dir, "--len", "8,16", "--batches", "1"));
        var eval = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "eval.json")));
        Assert.Equal(2, eval.RootElement.GetProperty("results").GetArrayLength());
        Assert.Equal(0, Run("train", "--out", dir, "--resume", "--steps", "25"));
        Assert.Equal(0, Run("tasks", "sample", "listops", "--min-length", "10", "--max-length", "40"));
        var errors = new StringWriter();
        Assert.Equal(2, Program.Run(new[] { "train", "mqar", "--len", "0", "--out", dir + "-bad" }, errors));
        Assert.Contains("--len: must be positive, got 0", errors.ToString());
        Assert.Equal(2, Program.Run(new[] { "eval", "--checkpoint", dir + "-missing" }, errors));
        Assert.Contains("has no run.json", errors.ToString());
        Directory.Delete(dir, true);
    }

    [Fact]
    public void DiagnoseTracesATrainedS4DRunAndRefusesAMitigationForIt()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-s4d-diag-{Guid.NewGuid():N}");
        Assert.Equal(0, Run("train", "passkey-tokens", "--key-digits", "2", "--len", "16", "--model", "s4d", "--d-model", "8", "--layers", "2",
            "--d-state", "4", "--batch", "4", "--steps", "3", "--eval-every", "3", "--eval-batches", "1", "--out", dir));
        Assert.Equal(0, Run("diagnose", "--checkpoint", dir, "--len", "40", "--bucket", "8", "--batch", "2"));
        var root = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "diagnose", "diagnostics.json"))).RootElement;
        Assert.Equal(16, root.GetProperty("training_length").GetInt32());
        var trace = root.GetProperty("trace");
        Assert.Equal(new[] { 8, 16, 24, 32, 40 }, trace.GetProperty("positions").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal((2, 8, "channel", "none"), (trace.GetProperty("layers").GetInt32(), trace.GetProperty("heads").GetInt32(),
            trace.GetProperty("head_unit").GetString(), trace.GetProperty("mitigation").GetString()));
        var variance = trace.GetProperty("variance");
        Assert.Equal(2, variance.GetArrayLength());
        Assert.All(variance.EnumerateArray(), layer => Assert.All(layer.EnumerateArray(), bucket => Assert.Equal(8, bucket.GetArrayLength())));
        foreach (var layer in trace.GetProperty("log_retention").EnumerateArray())
        {
            var first = layer[0].EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var last = layer[4].EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int h = 0; h < 8; h++)
            {
                Assert.True(first[h] < 0, "the first token's retention is below 1");
                Assert.Equal(5 * first[h], last[h], Math.Abs(last[h]) * 1e-5); // time-invariant decay: ln α(1:40) = 5 · ln α(1:8)
            }
        }
        foreach (var f in new[] { "diagnostics_variance.png", "diagnostics_retention.png" })
            Assert.True(File.Exists(Path.Combine(dir, "diagnose", f)), f);

        var errors = new StringWriter();
        Assert.Equal(2, Program.Run(new[] { "diagnose", "--checkpoint", dir, "--len", "8", "--mitigation", "rri" }, errors));
        Assert.Contains("--mitigation rri: the state-collapse mitigations apply to Mamba-2 models only, and this run's model is 's4d'", errors.ToString());
        Directory.Delete(dir, true);
    }

    [Fact]
    public void StateCollapseExperimentDiagnoseAndMitigatedEvalRunEndToEnd()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-collapse-{Guid.NewGuid():N}");
        Assert.Equal(0, Run("experiment", "state-collapse", "--len", "12", "--steps", "3", "--tbptt-segments", "2", "--multiples", "1,2", "--depths", "2",
            "--samples", "2", "--batch", "4", "--d-model", "16", "--layers", "1", "--d-state", "4", "--headdim", "8", "--seeds", "2", "--out", dir));
        var results = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "results.json"))).RootElement;
        var rows = results.GetProperty("rows");
        Assert.Equal(8, rows.GetArrayLength());
        var mitigations = rows.EnumerateArray().Select(r => r.GetProperty("mitigation").GetString()!).ToArray();
        Assert.Equal(new[] { "none", "rri", "window:12" }, mitigations[..3]);
        Assert.Equal("normalize:calibrated", mitigations[3]);
        foreach (var row in rows.EnumerateArray())
        {
            Assert.Equal(new[] { 12, 24 }, row.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray());
            Assert.Equal(2, row.GetProperty("accuracy_per_seed").GetArrayLength());
            Assert.All(row.GetProperty("accuracy").EnumerateArray(), a => Assert.InRange(a.GetDouble(), 0, 1));
            Assert.True(File.Exists(row.GetProperty("heat_map").GetString()));
        }
        Assert.Equal(4, results.GetProperty("models").GetArrayLength());
        foreach (var f in new[] { "baseline-s0/run.json", "tbptt-s1/run.json", "baseline-s1/diagnostics_none.json", "tbptt-s0/diagnostics_window_variance.png", "heatmaps/tbptt_normalize.png" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);

        var run = Path.Combine(dir, "baseline-s0");
        Assert.Equal(0, Run("diagnose", "--checkpoint", run, "--len", "36", "--bucket", "6", "--batch", "2", "--mitigation", "window:12"));
        var trace = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "diagnose", "diagnostics.json"))).RootElement;
        Assert.Equal(12, trace.GetProperty("training_length").GetInt32());
        Assert.Equal(new[] { 6, 12, 18, 24, 30, 36 }, trace.GetProperty("trace").GetProperty("positions").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.Equal("window:12", trace.GetProperty("trace").GetProperty("mitigation").GetString());
        Assert.True(File.Exists(Path.Combine(run, "diagnose", "diagnostics_variance.png")));
        Assert.Equal(0, Run("diagnose", "--model", Tiny, "--task", "passkey-tokens", "--len", "20", "--out", Path.Combine(dir, "tiny")));
        Assert.True(File.Exists(Path.Combine(dir, "tiny", "diagnostics_retention.png")));

        Assert.Equal(0, Run("eval", "--checkpoint", run, "--len", "12,24", "--batches", "1", "--mitigation", "rri"));
        var eval = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "eval.json"))).RootElement;
        Assert.Equal("rri", eval.GetProperty("mitigation").GetString());

        var errors = new StringWriter();
        Assert.Equal(2, Program.Run(new[] { "diagnose", "--len", "8" }, errors));
        Assert.Contains("exactly one of --model DIR or --checkpoint RUNDIR", errors.ToString());
        Assert.Equal(2, Program.Run(new[] { "eval", "--checkpoint", run, "--mitigation", "window:0" }, errors));
        Assert.Contains("at least 1", errors.ToString());
        Directory.Delete(dir, true);
    }
}
