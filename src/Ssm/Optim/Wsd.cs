namespace Ssm.Optim;

/// <summary>Shape of the decay phase of <see cref="Wsd"/>, as a function of progress x ∈ [0, 1].</summary>
public enum WsdDecay
{
    /// <summary>1 − x.</summary>
    Linear,
    /// <summary>½(1 + cos πx).</summary>
    Cosine,
    /// <summary>1 − √x (Hägele et al. 2024).</summary>
    OneMinusSqrt,
}

/// <summary>
/// Warmup–stable–decay (MiniCPM; Hägele et al., "Scaling Laws and Compute-Optimal Training Beyond Fixed Training
/// Durations", 2024; as Hugging Face's WSD schedule): step/warmup during warm-up, 1 while stable, then
/// r + (1 − r)·shape(progress) over the decay steps, and r afterwards.
/// </summary>
public sealed class Wsd : ILrSchedule
{
    /// <summary>Warm-up, stable and decay lengths, final multiplier <paramref name="minLrRatio"/>, decay shape.</summary>
    public Wsd(int warmupSteps, int stableSteps, int decaySteps, double minLrRatio = 0, WsdDecay decay = WsdDecay.Linear)
    {
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, $"Wsd: warmupSteps must be non-negative, got {warmupSteps}.");
        if (stableSteps < 0) throw new ArgumentOutOfRangeException(nameof(stableSteps), stableSteps, $"Wsd: stableSteps must be non-negative, got {stableSteps}.");
        if (decaySteps < 0) throw new ArgumentOutOfRangeException(nameof(decaySteps), decaySteps, $"Wsd: decaySteps must be non-negative, got {decaySteps}.");
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new ArgumentOutOfRangeException(nameof(minLrRatio), minLrRatio, $"Wsd: minLrRatio must be in [0, 1], got {minLrRatio}.");
        if (!Enum.IsDefined(decay)) throw new ArgumentOutOfRangeException(nameof(decay), decay, "Wsd: unknown decay shape.");
        WarmupSteps = warmupSteps;
        StableSteps = stableSteps;
        DecaySteps = decaySteps;
        MinLrRatio = minLrRatio;
        Decay = decay;
    }

    /// <summary>Warm-up length.</summary>
    public int WarmupSteps { get; }

    /// <summary>Length of the constant phase.</summary>
    public int StableSteps { get; }

    /// <summary>Length of the decay phase.</summary>
    public int DecaySteps { get; }

    /// <summary>Final multiplier.</summary>
    public double MinLrRatio { get; }

    /// <summary>Decay shape.</summary>
    public WsdDecay Decay { get; }

    /// <inheritdoc />
    public double Multiplier(int step)
    {
        if (step < WarmupSteps) return (double)step / WarmupSteps;
        long decayStart = (long)WarmupSteps + StableSteps;
        if (step < decayStart) return 1.0;
        if (step >= decayStart + DecaySteps) return MinLrRatio;
        double x = (step - decayStart) / (double)DecaySteps;
        double shape = Decay switch
        {
            WsdDecay.Linear => 1 - x,
            WsdDecay.Cosine => 0.5 * (1 + Math.Cos(Math.PI * x)),
            _ => 1 - Math.Sqrt(x),
        };
        return MinLrRatio + (1 - MinLrRatio) * shape;
    }
}
