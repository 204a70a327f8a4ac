using Ssm.Kernels;

namespace Ssm.Synthetic.Tasks;

// The common shape of every token-level synthetic task: a task samples a TokenBatch from an Rng (a pure function of the
// generator state and the task's options), scores a model's argmax predictions with the source paper's metric, prints
// one example, and writes/reads its examples as JSON lines (TaskData). In-context regression is real-valued and has
// its own batch type (RegressionBatch) in the same style.

/// <summary>Which part of a task's data to draw from (tasks without a train/test distinction ignore it).</summary>
public enum DataSplit
{
    /// <summary>Training data.</summary>
    Train,

    /// <summary>Held-out data (disjoint from training where the task defines a split: ICLL DFAs, ListOps sequences).</summary>
    Test,
}

/// <summary>Where a batch's targets sit.</summary>
public enum TargetKind
{
    /// <summary>One target per input position (<c>Targets</c> is [batch, length]; the model predicts at every position).</summary>
    PerToken,

    /// <summary>One class label per sequence (<c>Targets</c> is [batch]; e.g. ListOps classification).</summary>
    PerSequence,
}

/// <summary>
/// A batch of token sequences: <see cref="Inputs"/> is [batch, length] row-major; <see cref="Targets"/> is [batch, length]
/// (<see cref="TargetKind.PerToken"/>, <see cref="Ignore"/> where no loss or metric applies) or [batch]
/// (<see cref="TargetKind.PerSequence"/>).
/// </summary>
public sealed record TokenBatch(int[] Inputs, int[] Targets, int Batch, int Length)
{
    /// <summary>The target value of positions without loss or metric (PyTorch's <c>ignore_index</c>).</summary>
    public const int Ignore = -100;

    /// <summary>Per-token targets or one label per sequence.</summary>
    public TargetKind Kind { get; init; } = TargetKind.PerToken;

    /// <summary>Valid (unpadded) input tokens of each row; null when every row fills <see cref="Length"/>.</summary>
    public int[]? Lengths { get; init; }

    /// <summary>The task-specific example record behind each row (what <see cref="TaskData"/> writes).</summary>
    public IReadOnlyList<object> Examples { get; init; } = Array.Empty<object>();

    /// <summary>Number of target entries: Batch·Length per token, Batch per sequence.</summary>
    public int TargetCount => Kind == TargetKind.PerToken ? Batch * Length : Batch;

    /// <summary>Row <paramref name="index"/> of the inputs.</summary>
    public ReadOnlySpan<int> InputRow(int index) => Inputs.AsSpan(index * Length, Length);

    /// <summary>Row <paramref name="index"/> of the per-token targets (one label for per-sequence batches).</summary>
    public ReadOnlySpan<int> TargetRow(int index) =>
        Kind == TargetKind.PerToken ? Targets.AsSpan(index * Length, Length) : Targets.AsSpan(index, 1);

    /// <summary>Valid input tokens of row <paramref name="index"/>.</summary>
    public int ValidLength(int index) => Lengths?[index] ?? Length;
}

/// <summary>
/// A metric accumulated as a sum over scored items (positions or sequences) and their count, so batches combine exactly
/// with <c>+</c>; <see cref="Value"/> is the mean (NaN when nothing was scored).
/// </summary>
public readonly record struct TaskMetric(double Sum, long Count)
{
    /// <summary>Sum / Count.</summary>
    public double Value => Count == 0 ? double.NaN : Sum / Count;

    /// <summary>Combines two tallies.</summary>
    public static TaskMetric operator +(TaskMetric a, TaskMetric b) => new(a.Sum + b.Sum, a.Count + b.Count);

    /// <inheritdoc />
    public override string ToString() => $"{Value:F4} ({Sum}/{Count})";
}

/// <summary>A synthetic sequence task as a trainer sees it.</summary>
public interface ISequenceTask
{
    /// <summary>Short name (<c>passkey</c>, <c>icll</c>, <c>mqar</c>, <c>listops</c>, …).</summary>
    string Name { get; }

    /// <summary>Input vocabulary size (token ids are in [0, VocabSize)).</summary>
    int VocabSize { get; }

    /// <summary>Number of output classes: VocabSize for next-token tasks, the class count for classification.</summary>
    int OutputSize { get; }

    /// <summary>Per-token targets or one label per sequence.</summary>
    TargetKind TargetKind { get; }

    /// <summary>What <see cref="Score"/> measures (e.g. <c>dfa_accuracy</c>).</summary>
    string MetricName { get; }

    /// <summary>Draws <paramref name="batch"/> examples of <paramref name="length"/> input tokens.</summary>
    TokenBatch Sample(Rng rng, int batch, int length, DataSplit split = DataSplit.Train);

    /// <summary>
    /// The task's metric for the model's argmax <paramref name="predictions"/>, laid out like the batch's targets
    /// ([batch, length] per token, [batch] per sequence).
    /// </summary>
    TaskMetric Score(TokenBatch batch, int[] predictions);

    /// <summary>Row <paramref name="index"/> of <paramref name="batch"/>, human-readably.</summary>
    string Describe(TokenBatch batch, int index);

    /// <summary>Writes the batch's examples as JSON lines.</summary>
    void WriteJsonLines(string path, TokenBatch batch);

    /// <summary>Reads examples written by <see cref="WriteJsonLines"/> into a batch of <paramref name="length"/> tokens.</summary>
    TokenBatch ReadJsonLines(string path, int length);
}

/// <summary>
/// Base of the token tasks: one example record type per task, generated one at a time and collated into a
/// <see cref="TokenBatch"/>; the batch keeps the example records (for metrics that need them and for
/// <see cref="TaskData"/>).
/// </summary>
public abstract class SequenceTask<TExample> : ISequenceTask where TExample : class
{
    /// <inheritdoc />
    public abstract string Name { get; }

    /// <inheritdoc />
    public abstract int VocabSize { get; }

    /// <inheritdoc />
    public virtual int OutputSize => VocabSize;

    /// <inheritdoc />
    public virtual TargetKind TargetKind => TargetKind.PerToken;

    /// <inheritdoc />
    public abstract string MetricName { get; }

    /// <summary>One example for a batch of <paramref name="length"/> input tokens.</summary>
    public abstract TExample Generate(Rng rng, int length, DataSplit split = DataSplit.Train);

    /// <summary><paramref name="count"/> examples (tasks that deduplicate override this).</summary>
    public virtual IReadOnlyList<TExample> Generate(Rng rng, int count, int length, DataSplit split)
    {
        var list = new List<TExample>(count);
        for (int i = 0; i < count; i++) list.Add(Generate(rng, length, split));
        return list;
    }

    /// <summary>Throws unless <paramref name="length"/> is a valid input length for this task.</summary>
    public virtual void CheckLength(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, $"{Name}: length must be at least 1, got {length}.");
    }

    /// <inheritdoc />
    public TokenBatch Sample(Rng rng, int batch, int length, DataSplit split = DataSplit.Train)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{Name}.Sample: batch must be at least 1, got {batch}.");
        CheckLength(length);
        return Collate(Generate(rng, batch, length, split), length);
    }

    /// <summary>Stacks examples into a batch of <paramref name="length"/> input tokens.</summary>
    public TokenBatch Collate(IReadOnlyList<TExample> examples, int length)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException($"{Name}.Collate: no examples.", nameof(examples));
        CheckLength(length);
        int b = examples.Count;
        var inputs = new int[b * length];
        var targets = new int[TargetKind == TargetKind.PerToken ? b * length : b];
        var lengths = new int[b];
        bool padded = false;
        for (int i = 0; i < b; i++)
        {
            var row = inputs.AsSpan(i * length, length);
            var tgt = TargetKind == TargetKind.PerToken ? targets.AsSpan(i * length, length) : targets.AsSpan(i, 1);
            tgt.Fill(TokenBatch.Ignore);
            lengths[i] = Encode(examples[i], row, tgt);
            padded |= lengths[i] != length;
        }
        return new TokenBatch(inputs, targets, b, length)
        {
            Kind = TargetKind,
            Lengths = padded ? lengths : null,
            Examples = examples.Cast<object>().ToArray(),
        };
    }

    /// <summary>
    /// Writes one example into an input row and its targets (pre-filled with <see cref="TokenBatch.Ignore"/>); returns
    /// the number of valid (unpadded) input tokens. Throws if the example does not fit the row.
    /// </summary>
    protected abstract int Encode(TExample example, Span<int> inputs, Span<int> targets);

    /// <inheritdoc />
    public abstract TaskMetric Score(TokenBatch batch, int[] predictions);

    /// <inheritdoc />
    public abstract string Describe(TokenBatch batch, int index);

    /// <inheritdoc />
    public void WriteJsonLines(string path, TokenBatch batch) => TaskData.Write(path, Examples(batch));

    /// <inheritdoc />
    public TokenBatch ReadJsonLines(string path, int length) => Collate(TaskData.Read<TExample>(path), length);

    /// <summary>The example records of a batch made by this task.</summary>
    public IReadOnlyList<TExample> Examples(TokenBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Examples.Count != batch.Batch || batch.Examples.Any(e => e is not TExample))
            throw new ArgumentException($"{Name}: the batch does not carry {typeof(TExample).Name} records (make it with {Name}.Sample or Collate).", nameof(batch));
        return batch.Examples.Cast<TExample>().ToArray();
    }

    /// <summary>The example record behind row <paramref name="index"/>.</summary>
    protected TExample ExampleAt(TokenBatch batch, int index)
    {
        if ((uint)index >= (uint)batch.Batch)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"{Name}: row {index} is outside the batch of {batch.Batch}.");
        if (batch.Examples.Count != batch.Batch || batch.Examples[index] is not TExample e)
            throw new ArgumentException($"{Name}: the batch does not carry {typeof(TExample).Name} records (make it with {Name}.Sample or Collate).", nameof(batch));
        return e;
    }

    /// <summary>Throws unless <paramref name="predictions"/> has one entry per target of <paramref name="batch"/>.</summary>
    protected void CheckPredictions(TokenBatch batch, int[] predictions)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(predictions);
        if (batch.Kind != TargetKind)
            throw new ArgumentException($"{Name}.Score: the batch has {batch.Kind} targets, expected {TargetKind}.", nameof(batch));
        if (predictions.Length != batch.TargetCount)
            throw new ArgumentException(
                $"{Name}.Score: predictions has {predictions.Length} entries, expected {batch.TargetCount} " +
                (TargetKind == TargetKind.PerToken ? $"([batch, length] = [{batch.Batch}, {batch.Length}])." : $"([batch] = [{batch.Batch}])."),
                nameof(predictions));
    }

    /// <summary>Accuracy of <paramref name="predictions"/> over the targets that are not <see cref="TokenBatch.Ignore"/>.</summary>
    protected TaskMetric TargetAccuracy(TokenBatch batch, int[] predictions)
    {
        CheckPredictions(batch, predictions);
        long hit = 0, count = 0;
        for (int i = 0; i < batch.Targets.Length; i++)
        {
            if (batch.Targets[i] == TokenBatch.Ignore) continue;
            count++;
            if (predictions[i] == batch.Targets[i]) hit++;
        }
        return new TaskMetric(hit, count);
    }
}
