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
}
