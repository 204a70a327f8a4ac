using Ssm.Kernels;

namespace Ssm.Inference;

/// <summary>
/// How the next token is chosen from logits: greedy when <see cref="Temperature"/> is 0, otherwise sampling from
/// softmax(logits / T) restricted to the <see cref="TopK"/> most likely tokens (0 = all) and to the smallest set whose
/// probability reaches <see cref="TopP"/> (1 = all), as in Hugging Face / mamba_ssm generation.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Greedy decoding.</summary>
    public static readonly SamplingOptions Greedy = new();

    /// <summary>Softmax temperature; 0 means greedy.</summary>
    public double Temperature { get; init; }
    /// <summary>Keep only the k most likely tokens (0 keeps all).</summary>
    public int TopK { get; init; }
    /// <summary>Nucleus threshold in (0, 1].</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Throws on out-of-range settings.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0)) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be ≥ 0.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be ≥ 0.");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in (0, 1].");
    }

    /// <summary>Chooses a token from one row of logits.</summary>
    public int Choose(ReadOnlySpan<float> logits, Rng rng)
    {
        if (Temperature == 0) return ArgMax(logits);
        var order = Enumerable.Range(0, logits.Length).ToArray();
        var values = logits.ToArray();
        Array.Sort(order, (a, b) => values[b].CompareTo(values[a]));
        int keep = TopK > 0 ? Math.Min(TopK, order.Length) : order.Length;
        double max = values[order[0]];
        var probs = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) sum += probs[i] = Math.Exp((values[order[i]] - max) / Temperature);
        double cumulative = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++)
        {
            cumulative += probs[i] / sum;
            if (cumulative >= TopP) { cut = i + 1; break; }
        }
        double total = 0;
        for (int i = 0; i < cut; i++) total += probs[i];
        double u = rng.NextDouble() * total;
        for (int i = 0; i < cut; i++)
        {
            u -= probs[i];
            if (u <= 0) return order[i];
        }
        return order[cut - 1];
    }

    /// <summary>Index of the largest logit (first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
