namespace Ssm.Synthetic.Training;

/// <summary>Hyper-parameters of a training run (all settable from <c>ssm train</c>).</summary>
public sealed record TrainOptions
{
    /// <summary>Sequence length of training batches.</summary>
    public int Length { get; init; } = 64;
    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Sequences per batch.</summary>
    public int Batch { get; init; } = 32;
    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 3e-3;
    /// <summary>Learning rate of SSM parameters (Δ, A, …); null = same as <see cref="Lr"/>.</summary>
    public double? SsmLr { get; init; }
    /// <summary>AdamW weight decay (not applied to norms, biases and SSM parameters).</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>Warm-up steps.</summary>
    public int Warmup { get; init; } = 50;
    /// <summary>cosine (with warm-up), wsd (warm-up–stable–decay) or constant.</summary>
    public string Schedule { get; init; } = "cosine";
    /// <summary>Final learning rate as a fraction of the peak.</summary>
    public double MinLrRatio { get; init; } = 0.1;
    /// <summary>Global gradient-norm clip (0 = off).</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Evaluate every this many steps (and at the end).</summary>
    public int EvalEvery { get; init; } = 100;
    /// <summary>Batches per evaluation.</summary>
    public int EvalBatches { get; init; } = 4;
    /// <summary>Extra lengths evaluated at the end (length generalization).</summary>
    public int[] EvalLengths { get; init; } = Array.Empty<int>();
    /// <summary>Stop after this many evaluations without improvement (0 = never).</summary>
    public int Patience { get; init; }
    /// <summary>Stop early once the eval metric reaches this value (null = never).</summary>
    public double? TargetMetric { get; init; }
    /// <summary>Save a checkpoint every this many steps (0 = only at the end).</summary>
    public int CheckpointEvery { get; init; }
    /// <summary>Seed of initialization and data.</summary>
    public long Seed { get; init; }

    /// <summary>Throws on inconsistent settings, naming the option.</summary>
    public void Validate()
    {
        void Need(bool ok, string option, object value, string what)
        {
            if (!ok) throw new ArgumentException($"{option}: {what}, got {value}.");
        }
        Need(Length > 0, "--len", Length, "must be positive");
        Need(Steps >= 0, "--steps", Steps, "must be ≥ 0");
        Need(Batch > 0, "--batch", Batch, "must be positive");
        Need(Lr > 0, "--lr", Lr, "must be positive");
        Need(SsmLr is null || SsmLr > 0, "--ssm-lr", SsmLr!, "must be positive");
        Need(WeightDecay >= 0, "--weight-decay", WeightDecay, "must be ≥ 0");
        Need(Warmup >= 0, "--warmup", Warmup, "must be ≥ 0");
        Need(Schedule is "cosine" or "wsd" or "constant", "--schedule", Schedule, "must be cosine, wsd or constant");
        Need(MinLrRatio is >= 0 and <= 1, "--min-lr-ratio", MinLrRatio, "must be in [0, 1]");
        Need(ClipNorm >= 0, "--clip", ClipNorm, "must be ≥ 0");
        Need(EvalEvery > 0, "--eval-every", EvalEvery, "must be positive");
        Need(EvalBatches > 0, "--eval-batches", EvalBatches, "must be positive");
        Need(EvalLengths.All(l => l > 0), "--eval-lengths", string.Join(",", EvalLengths), "must be positive");
        Need(Patience >= 0, "--patience", Patience, "must be ≥ 0");
        Need(CheckpointEvery >= 0, "--checkpoint-every", CheckpointEvery, "must be ≥ 0");
    }
}
