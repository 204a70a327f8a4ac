using Ssm.Inference;

namespace Ssm.Tests;

/// <summary>Checks one (layer, bucket, head) entry of a <see cref="StateTrace"/> against states read directly from a cache.</summary>
internal static class StateTraceAssert
{
    /// <summary>
    /// <paramref name="state"/> holds [batch, heads, <paramref name="perHead"/>] values; the trace's statistics of
    /// <paramref name="head"/> (mean, per-sequence variance and RMS averaged over the batch, max |x| and max ‖x‖) must
    /// equal those computed here in double precision.
    /// </summary>
    public static void Matches(StateTrace trace, int layer, int bucket, int head, float[] state, int batch, int heads, int perHead)
    {
        var rows = Enumerable.Range(0, batch).Select(b => state.Skip((b * heads + head) * perHead).Take(perHead).Select(v => (double)v).ToArray()).ToArray();
        double mean = rows.Average(r => r.Average());
        double variance = rows.Average(r => r.Select(v => (v - r.Average()) * (v - r.Average())).Average());
        double rms = rows.Average(r => Math.Sqrt(r.Select(v => v * v).Average()));
        double maxAbs = rows.Max(r => r.Max(Math.Abs));
        double maxNorm = rows.Max(r => Math.Sqrt(r.Sum(v => v * v)));
        Assert.Equal(mean, trace.Mean[layer][bucket][head], 1e-5);
        Assert.Equal(1, trace.Variance[layer][bucket][head] / variance, 1e-3);
        Assert.Equal(1, trace.Rms[layer][bucket][head] / rms, 1e-4);
        Assert.Equal(1, trace.MaxAbs[layer][bucket][head] / maxAbs, 1e-4);
        Assert.Equal(1, trace.MaxNorm[layer][bucket][head] / maxNorm, 1e-4);
    }
}
