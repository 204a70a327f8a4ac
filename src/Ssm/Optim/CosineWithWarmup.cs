namespace Ssm.Optim;

/// <summary>
/// Linear warm-up then cosine decay to a floor (as Hugging Face's cosine schedule with a minimum lr ratio):
/// step/warmup for step &lt; warmup, then r + (1 − r)·½(1 + cos(π·progress)) with
/// progress = (step − warmup)/(total − warmup), held at r after <c>totalSteps</c>.
/// </summary>
public sealed class CosineWithWarmup : ILrSchedule
{
    /// <summary>Warm-up over <paramref name="warmupSteps"/>, cosine decay until <paramref name="totalSteps"/>, to <paramref name="minLrRatio"/>.</summary>
    public CosineWithWarmup(int warmupSteps, int totalSteps, double minLrRatio = 0)
    {
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, $"CosineWithWarmup: warmupSteps must be non-negative, got {warmupSteps}.");
        if (totalSteps < warmupSteps) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"CosineWithWarmup: totalSteps must be at least warmupSteps = {warmupSteps}, got {totalSteps}.");
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new ArgumentOutOfRangeException(nameof(minLrRatio), minLrRatio, $"CosineWithWarmup: minLrRatio must be in [0, 1], got {minLrRatio}.");
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        MinLrRatio = minLrRatio;
    }

    /// <summary>Warm-up length.</summary>
    public int WarmupSteps { get; }

    /// <summary>Step at which the decay reaches <see cref="MinLrRatio"/>.</summary>
    public int TotalSteps { get; }

    /// <summary>Final multiplier.</summary>
    public double MinLrRatio { get; }

    /// <inheritdoc />
    public double Multiplier(int step)
    {
        if (step < WarmupSteps) return (double)step / WarmupSteps;
        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps));
        return MinLrRatio + (1 - MinLrRatio) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
