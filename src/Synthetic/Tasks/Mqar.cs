using System.Text;
using Ssm.Kernels;

namespace Ssm.Synthetic.Tasks;

// Multi-query associative recall, MQAR (Arora, Eyuboglu et al., "Zoology", 2023; the generator follows
// HazyResearch/zoology zoology/data/associative_recall.py, _mqar):
//   keys    k_1..k_P: distinct, uniform from [1, V/2);   values v_1..v_P: distinct, uniform from [V/2, V)
//   context [k_1 v_1 k_2 v_2 … k_P v_P]  (C = 2P tokens)
//   gaps    g_1..g_P: distinct from [0, S), S = (T − C)/2, drawn successively without replacement with
//           p(g) ∝ a·(g+1)^(a−1)  (a = 0.01: queries cluster right after the context, with a power-law tail)
//   key k_i is queried at position C + 2·g_i; the target there is v_i (the model must emit the value after the key);
//   every other position has target −100. Positions that are neither context nor query hold uniform random tokens
//   from [0, V) (zoology's random_non_queries), or 0 when that is switched off.

/// <summary>MQAR options (zoology's defaults: V = 8192, 4 pairs, a = 0.01, random non-query tokens).</summary>
/// <param name="VocabSize">V: keys come from [1, V/2), values from [V/2, V).</param>
/// <param name="NumKvPairs">P: key–value pairs in the context; each key is queried once.</param>
/// <param name="PowerA">a of the query-gap power law p(g) ∝ (g+1)^(a−1) (1 = uniform gaps).</param>
/// <param name="RandomNonQueries">Fill non-context, non-query positions with random tokens (else 0).</param>
public sealed record MqarOptions(int VocabSize = 8192, int NumKvPairs = 4, double PowerA = 0.01, bool RandomNonQueries = true)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (NumKvPairs < 1) throw new ArgumentOutOfRangeException(nameof(NumKvPairs), NumKvPairs, "MqarOptions: NumKvPairs must be at least 1.");
        if (VocabSize / 2 - 1 < NumKvPairs)
            throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize,
                $"MqarOptions: VocabSize {VocabSize} leaves {VocabSize / 2 - 1} keys in [1, V/2), fewer than NumKvPairs = {NumKvPairs}.");
        if (!(PowerA > 0) || double.IsInfinity(PowerA))
            throw new ArgumentOutOfRangeException(nameof(PowerA), PowerA, "MqarOptions: PowerA must be positive and finite.");
    }
}

/// <summary>One MQAR example: the input row and its targets (value at each query position, −100 elsewhere).</summary>
public sealed record MqarExample(int[] Inputs, int[] Targets);

/// <summary>The MQAR task; metric: accuracy at the query positions.</summary>
public sealed class MqarTask : SequenceTask<MqarExample>
{
    /// <summary>Creates the task (validates the options).</summary>
    public MqarTask(MqarOptions? options = null)
    {
        Options = options ?? new MqarOptions();
        Options.Validate();
    }

    /// <summary>The options.</summary>
    public MqarOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "mqar";

    /// <inheritdoc />
    public override int VocabSize => Options.VocabSize;

    /// <inheritdoc />
    public override string MetricName => "query_accuracy";

    /// <summary>Context tokens, 2·pairs.</summary>
    public int ContextLength => 2 * Options.NumKvPairs;

    /// <inheritdoc />
    public override void CheckLength(int length)
    {
        if (length % 2 != 0 || length < 4 * Options.NumKvPairs)
            throw new ArgumentOutOfRangeException(nameof(length), length,
                $"mqar: length must be even and at least 4·NumKvPairs = {4 * Options.NumKvPairs} (zoology's constraint), got {length}.");
    }

    /// <summary>The unnormalized query-gap weights a·(g+1)^(a−1) for g in [0, (length − 2P)/2).</summary>
    public double[] GapWeights(int length)
    {
        CheckLength(length);
        int space = (length - ContextLength) / 2;
        var p = new double[space];
        for (int g = 0; g < space; g++) p[g] = Options.PowerA * Math.Pow(g + 1, Options.PowerA - 1);
        return p;
    }

    /// <inheritdoc />
    public override MqarExample Generate(Rng rng, int length, DataSplit split = DataSplit.Train)
    {
        ArgumentNullException.ThrowIfNull(rng);
        CheckLength(length);
        int pairs = Options.NumKvPairs, v = Options.VocabSize, half = v / 2, c = ContextLength;
        var keys = DistinctFromRange(rng, 1, half, pairs);
        var values = DistinctFromRange(rng, half, v, pairs);
        var gaps = WeightedWithoutReplacement(rng, GapWeights(length), pairs);

        var inputs = new int[length];
        var targets = new int[length];
        Array.Fill(targets, TokenBatch.Ignore);
        for (int i = 0; i < pairs; i++)
        {
            inputs[2 * i] = keys[i];
            inputs[2 * i + 1] = values[i];
        }
        var isQuery = new bool[length];
        for (int i = 0; i < pairs; i++)
        {
            int pos = c + 2 * gaps[i];
            inputs[pos] = keys[i];
            targets[pos] = values[i];
            isQuery[pos] = true;
        }
        if (Options.RandomNonQueries)
            for (int t = c; t < length; t++)
                if (!isQuery[t]) inputs[t] = rng.Next(v);
        return new MqarExample(inputs, targets);
    }

    /// <inheritdoc />
    protected override int Encode(MqarExample example, Span<int> inputs, Span<int> targets)
    {
        if (example.Inputs.Length != inputs.Length || example.Targets.Length != inputs.Length)
            throw new ArgumentException($"mqar: example has {example.Inputs.Length} tokens, expected {inputs.Length}.", nameof(example));
        example.Inputs.CopyTo(inputs);
        example.Targets.CopyTo(targets);
        return inputs.Length;
    }

    /// <inheritdoc />
    public override TaskMetric Score(TokenBatch batch, int[] predictions) => TargetAccuracy(batch, predictions);

    /// <inheritdoc />
    public override string Describe(TokenBatch batch, int index)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if ((uint)index >= (uint)batch.Batch) throw new ArgumentOutOfRangeException(nameof(index));
        var x = batch.InputRow(index);
        var y = batch.TargetRow(index);
        var sb = new StringBuilder();
        sb.Append($"mqar (V={Options.VocabSize}, pairs={Options.NumKvPairs}, length={batch.Length})\ncontext:");
        for (int i = 0; i < ContextLength && i + 1 < x.Length; i += 2) sb.Append($" {x[i]}→{x[i + 1]}");
        sb.Append("\nqueries:");
        for (int t = 0; t < y.Length; t++)
            if (y[t] != TokenBatch.Ignore) sb.Append($" @{t} {x[t]}→{y[t]}");
        sb.Append($"\ntokens: {string.Join(' ', x.ToArray())}");
        return sb.ToString();
    }

    /// <summary><paramref name="count"/> distinct integers from [lo, hi), in random order (all orders equally likely).</summary>
    internal static int[] DistinctFromRange(Rng rng, int lo, int hi, int count)
    {
        var seen = new HashSet<int>();
        var result = new int[count];
        for (int i = 0; i < count; i++)
        {
            int x;
            do x = rng.Next(lo, hi); while (!seen.Add(x));
            result[i] = x;
        }
        return result;
    }

    /// <summary>
    /// Successive sampling without replacement: draw an index with probability ∝ its weight, remove it, repeat
    /// (the distribution of numpy's <c>choice(…, replace=False, p=…)</c>).
    /// </summary>
    internal static int[] WeightedWithoutReplacement(Rng rng, double[] weights, int count)
    {
        var w = (double[])weights.Clone();
        var result = new int[count];
        for (int i = 0; i < count; i++)
        {
            double total = 0;
            foreach (var x in w) total += x;
            double u = rng.NextDouble() * total, acc = 0;
            int pick = -1;
            for (int j = 0; j < w.Length; j++)
            {
                if (w[j] <= 0) continue;
                pick = j;
                acc += w[j];
                if (u < acc) break;
            }
            result[i] = pick;
            w[pick] = 0;
        }
        return result;
    }
}
