using System.Text.Json;
using System.Text.Json.Serialization;
using Ssm.Inference;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Reports;

/// <summary>
/// Writes a <see cref="StateTrace"/>: <c>NAME.json</c> (the trace, snake_case) and two plots against the token
/// position, with the training length marked — <c>NAME_variance.png</c> (state variance per layer, mean over heads —
/// S4D channels —, log scale) and <c>NAME_retention.png</c> (α_{1:t} per layer for the head or channel that forgets
/// slowest, log scale).
/// </summary>
public static class StateReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Writes the files into <paramref name="directory"/>; returns their paths.</summary>
    public static IReadOnlyList<string> Write(string directory, string name, StateTrace trace, int? trainingLength, string title)
    {
        Directory.CreateDirectory(directory);
        var json = Path.Combine(directory, name + ".json");
        AtomicFile.WriteText(json, JsonSerializer.Serialize(new { training_length = trainingLength, trace }, Json));
        var x = trace.Positions.Select(p => (double)p).ToArray();
        var variance = Path.Combine(directory, name + "_variance.png");
        Plots.Lines(variance, $"{title}: state variance (mean over {trace.HeadUnit}s)", "token position", "variance",
            Enumerable.Range(0, trace.Layers).Select(l => ($"layer {l}", x, StateTrace.HeadMean(trace.Variance, l))),
            logY: true, markX: trainingLength, markLabel: trainingLength is null ? null : "training length");
        var retention = Path.Combine(directory, name + "_retention.png");
        Plots.Lines(retention, $"{title}: retention of the first token α(1:t) (slowest {trace.HeadUnit})", "token position", "α(1:t)",
            Enumerable.Range(0, trace.Layers).Select(l => ($"layer {l}", x, trace.LogRetention[l].Select(h => Math.Exp(h.Max())).ToArray())),
            logY: true, markX: trainingLength, markLabel: trainingLength is null ? null : "training length");
        return new[] { json, variance, retention };
    }
}
