using System.Text;
using Ssm.Kernels;

namespace Ssm.Synthetic.Tasks;

// ListOps as generated for the Long Range Arena (Tay et al. 2021; google-research/long-range-arena
// lra_benchmarks/data/listops.py, after Nangia & Bowman 2018):
//   node(depth): if depth < max_depth and u > 0.25 (u ~ U[0,1)) — i.e. with probability 0.75 — a leaf digit 0–9;
//                at depth = max_depth always a leaf; otherwise an operator node with U{2..max_args} children
//                (generated first) and an operator uniform over MIN, MAX, MED, SM. The root has depth 1.
//   semantics:   MAX/MIN of the arguments; MED = int(np.median(args)) — for an even count the mean of the two middle
//                values, truncated (median of 1 and 2 is 1); SM = sum mod 10.
//   length:      operator token + ']' + children (LRA counts no parentheses); kept when min < length < max (strict, as
//                LRA), deduplicated; the label (10 classes) is the value of the root.
// Tokens (the parentheses LRA's to_string adds are dropped, as its tokenizer does): 0 = pad, 1..10 = digits 0..9,
// 11 = [MIN, 12 = [MAX, 13 = [MED, 14 = [SM, 15 = ']'. Train/test disjointness: a sequence belongs to the test split
// when a 64-bit FNV-1a hash of its tokens falls in the first TestFraction of the hash range (a deterministic random
// partition of the deduplicated sequence space, like LRA's random split of its deduplicated set).

/// <summary>ListOps options (LRA defaults: lengths in (500, 2000), depth 10, up to 10 arguments).</summary>
/// <param name="MinLength">Sequences are kept when MinLength &lt; tokens (exclusive, as LRA).</param>
/// <param name="MaxLength">… and tokens &lt; MaxLength (exclusive).</param>
/// <param name="MaxDepth">Nodes at this depth are leaves (the root has depth 1).</param>
/// <param name="MaxArgs">Operator nodes have U{2..MaxArgs} children.</param>
/// <param name="LeafProbability">Probability that a node above MaxDepth is a leaf (LRA: 0.75).</param>
/// <param name="TestFraction">Share of the sequence space assigned to the test split (LRA: 2000 test of 100000).</param>
public sealed record ListOpsOptions(
    int MinLength = 500, int MaxLength = 2000, int MaxDepth = 10, int MaxArgs = 10,
    double LeafProbability = 0.75, double TestFraction = 0.02)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (MinLength < 0) throw new ArgumentOutOfRangeException(nameof(MinLength), MinLength, "ListOpsOptions: MinLength must be non-negative.");
        if (MaxLength < MinLength + 2)
            throw new ArgumentOutOfRangeException(nameof(MaxLength), MaxLength, $"ListOpsOptions: the open range (MinLength, MaxLength) = ({MinLength}, {MaxLength}) holds no length.");
        if (MaxDepth < 1) throw new ArgumentOutOfRangeException(nameof(MaxDepth), MaxDepth, "ListOpsOptions: MaxDepth must be at least 1.");
        if (MaxArgs < 2) throw new ArgumentOutOfRangeException(nameof(MaxArgs), MaxArgs, "ListOpsOptions: MaxArgs must be at least 2.");
        if (!(LeafProbability >= 0 && LeafProbability < 1))
            throw new ArgumentOutOfRangeException(nameof(LeafProbability), LeafProbability, "ListOpsOptions: LeafProbability must be in [0, 1).");
        if (!(TestFraction > 0 && TestFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(TestFraction), TestFraction, "ListOpsOptions: TestFraction must be in (0, 1).");
        if (LongestTree() <= MinLength)
            throw new ArgumentOutOfRangeException(nameof(MaxDepth), MaxDepth,
                $"ListOpsOptions: trees of depth {MaxDepth} with up to {MaxArgs} arguments have at most {LongestTree()} tokens, not more than MinLength = {MinLength}.");
    }

    // Tokens of the largest tree: L(MaxDepth) = 1, L(d) = 2 + MaxArgs·L(d+1) (saturating).
    private long LongestTree()
    {
        long len = 1;
        for (int d = MaxDepth - 1; d >= 1 && len <= MaxLength; d--) len = 2 + (long)MaxArgs * len;
        return len;
    }
}

/// <summary>One ListOps example: the tokens (no padding) and the value of the expression (the class label).</summary>
public sealed record ListOpsExample(int[] Tokens, int Label);

/// <summary>The ListOps vocabulary.</summary>
public static class ListOpsTokens
{
    /// <summary>Padding.</summary>
    public const int Pad = 0;

    /// <summary>Token of digit 0 (digit d is <c>Digit0 + d</c>).</summary>
    public const int Digit0 = 1;

    /// <summary>[MIN</summary>
    public const int Min = 11;

    /// <summary>[MAX</summary>
    public const int Max = 12;

    /// <summary>[MED</summary>
    public const int Med = 13;

    /// <summary>[SM (sum mod 10)</summary>
    public const int SumMod = 14;

    /// <summary>]</summary>
    public const int Close = 15;

    /// <summary>Vocabulary size.</summary>
    public const int VocabSize = 16;

    /// <summary>The text of a token (<c>[MAX</c>, <c>7</c>, <c>]</c>, <c>&lt;pad&gt;</c>).</summary>
    public static string Text(int token) => token switch
    {
        Pad => "<pad>",
        >= Digit0 and < Digit0 + 10 => ((char)('0' + token - Digit0)).ToString(),
        Min => "[MIN",
        Max => "[MAX",
        Med => "[MED",
        SumMod => "[SM",
        Close => "]",
        _ => throw new ArgumentOutOfRangeException(nameof(token), token, $"ListOps: no token {token} (vocabulary 0..{VocabSize - 1})."),
    };

    /// <summary>Space-separated text of a token sequence, as LRA writes it (without the parentheses).</summary>
    public static string Text(ReadOnlySpan<int> tokens)
    {
        var sb = new StringBuilder();
        foreach (var t in tokens)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(Text(t));
        }
        return sb.ToString();
    }

    /// <summary>Applies an operator to its arguments (LRA semantics; MED = int(np.median), SM = sum mod 10).</summary>
    public static int Apply(int op, IReadOnlyList<int> args)
    {
        if (args.Count == 0) throw new ArgumentException($"ListOps: {Text(op)} has no arguments.", nameof(args));
        switch (op)
        {
            case Min: return args.Min();
            case Max: return args.Max();
            case SumMod: return args.Sum() % 10;
            case Med:
                var s = args.Order().ToArray();
                int n = s.Length;
                // np.median: the middle value, or the mean of the two middle values; int() truncates toward zero.
                return n % 2 == 1 ? s[n / 2] : (int)((s[n / 2 - 1] + s[n / 2]) / 2.0);
            default: throw new ArgumentOutOfRangeException(nameof(op), op, $"ListOps: {op} is not an operator token.");
        }
    }
}

/// <summary>
/// Evaluates a ListOps token sequence with an explicit stack, independently of the tree evaluation used during
/// generation (tests use it to verify labels).
/// </summary>
public static class ListOpsEvaluator
{
    /// <summary>The value of <paramref name="tokens"/> (padding after the expression is ignored).</summary>
    public static int Evaluate(ReadOnlySpan<int> tokens)
    {
        var ops = new Stack<(int Op, List<int> Args)>();
        int? result = null;
        for (int i = 0; i < tokens.Length; i++)
        {
            int t = tokens[i];
            if (t == ListOpsTokens.Pad) { if (result is null) throw Malformed(i, "padding before the expression ended"); continue; }
            if (result is not null) throw Malformed(i, "tokens after the end of the expression");
            if (t is ListOpsTokens.Min or ListOpsTokens.Max or ListOpsTokens.Med or ListOpsTokens.SumMod)
                ops.Push((t, new List<int>()));
            else if (t == ListOpsTokens.Close)
            {
                if (ops.Count == 0) throw Malformed(i, "']' without an operator");
                var (op, args) = ops.Pop();
                if (args.Count == 0) throw Malformed(i, "operator without arguments");
                Push(ListOpsTokens.Apply(op, args));
            }
            else if (t >= ListOpsTokens.Digit0 && t < ListOpsTokens.Digit0 + 10) Push(t - ListOpsTokens.Digit0);
            else throw Malformed(i, $"unknown token {t}");

            void Push(int value)
            {
                if (ops.Count == 0) result = value;
                else ops.Peek().Args.Add(value);
            }
        }
        if (ops.Count > 0) throw Malformed(tokens.Length, $"{ops.Count} operator(s) not closed");
        return result ?? throw Malformed(0, "empty sequence");
    }

    private static FormatException Malformed(int at, string what) => new($"ListOpsEvaluator: malformed sequence at token {at}: {what}.");
}

/// <summary>The ListOps task: classify the value (0–9) of a prefix expression; metric: accuracy.</summary>
public sealed class ListOpsTask : SequenceTask<ListOpsExample>
{
    private const long MaxAttempts = 10_000_000;
    private static readonly int[] Operators = { ListOpsTokens.Min, ListOpsTokens.Max, ListOpsTokens.Med, ListOpsTokens.SumMod };

    /// <summary>Creates the task (validates the options).</summary>
    public ListOpsTask(ListOpsOptions? options = null)
    {
        Options = options ?? new ListOpsOptions();
        Options.Validate();
    }

    /// <summary>The options.</summary>
    public ListOpsOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "listops";

    /// <inheritdoc />
    public override int VocabSize => ListOpsTokens.VocabSize;

    /// <inheritdoc />
    public override int OutputSize => 10;

    /// <inheritdoc />
    public override TargetKind TargetKind => TargetKind.PerSequence;

    /// <inheritdoc />
    public override string MetricName => "accuracy";

    /// <inheritdoc />
    public override void CheckLength(int length)
    {
        if (length < Options.MaxLength - 1)
            throw new ArgumentOutOfRangeException(nameof(length), length,
                $"listops: length {length} cannot hold sequences of up to {Options.MaxLength - 1} tokens (MaxLength {Options.MaxLength} is exclusive); pad to at least {Options.MaxLength - 1}.");
    }

    /// <summary>The split a token sequence belongs to (a fixed hash partition; see the file comment).</summary>
    public DataSplit SplitOf(ReadOnlySpan<int> tokens)
    {
        ulong h = 14695981039346656037UL;
        foreach (var t in tokens) { h ^= (uint)t; h *= 1099511628211UL; }
        return h < (ulong)(Options.TestFraction * ulong.MaxValue) ? DataSplit.Test : DataSplit.Train;
    }

    /// <inheritdoc />
    public override ListOpsExample Generate(Rng rng, int length, DataSplit split = DataSplit.Train)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var tokens = new List<int>(Options.MaxLength);
        for (long attempt = 0; ; attempt++)
        {
            if (attempt == MaxAttempts)
                throw new InvalidOperationException(
                    $"listops: no tree of length in ({Options.MinLength}, {Options.MaxLength}) in the {split} split after {MaxAttempts} draws; widen the length range.");
            tokens.Clear();
            // Generation stops early once a tree reaches MaxLength tokens: it would be rejected anyway, so the
            // accepted distribution is unchanged.
            int? value = GenerateTree(rng, tokens);
            if (value is int v && tokens.Count > Options.MinLength && tokens.Count < Options.MaxLength)
            {
                var arr = tokens.ToArray();
                if (SplitOf(arr) == split) return new ListOpsExample(arr, v);
            }
        }
    }

    /// <summary><paramref name="count"/> distinct examples.</summary>
    public override IReadOnlyList<ListOpsExample> Generate(Rng rng, int count, int length, DataSplit split)
    {
        var seen = new HashSet<string>();
        var list = new List<ListOpsExample>(count);
        while (list.Count < count)
        {
            var e = Generate(rng, length, split);
            if (seen.Add(string.Join(',', e.Tokens))) list.Add(e);
        }
        return list;
    }

    /// <summary>One tree from the root (no length filter): appends its tokens, returns its value, or null once it reached MaxLength tokens.</summary>
    internal int? GenerateTree(Rng rng, List<int> tokens) => Node(rng, 1, tokens);

    private int? Node(Rng rng, int depth, List<int> tokens)
    {
        if (tokens.Count >= Options.MaxLength) return null;
        double r = depth < Options.MaxDepth ? rng.NextDouble() : 1.0;
        if (r > 1 - Options.LeafProbability)
        {
            int d = rng.Next(10);
            tokens.Add(ListOpsTokens.Digit0 + d);
            return d;
        }
        int n = rng.Next(2, Options.MaxArgs + 1);
        int opAt = tokens.Count;
        tokens.Add(0); // the operator is chosen after the children, as LRA does
        var args = new List<int>(n);
        for (int i = 0; i < n; i++)
        {
            if (Node(rng, depth + 1, tokens) is not int v) return null;
            args.Add(v);
        }
        int op = Operators[rng.Next(Operators.Length)];
        tokens[opAt] = op;
        tokens.Add(ListOpsTokens.Close);
        return ListOpsTokens.Apply(op, args);
    }

    /// <inheritdoc />
    protected override int Encode(ListOpsExample example, Span<int> inputs, Span<int> targets)
    {
        if (example.Tokens.Length > inputs.Length)
            throw new ArgumentException($"listops: example has {example.Tokens.Length} tokens, more than the batch length {inputs.Length}.", nameof(example));
        if (example.Label is < 0 or > 9) throw new ArgumentException($"listops: label {example.Label} is not in 0..9.", nameof(example));
        example.Tokens.CopyTo(inputs);
        inputs[example.Tokens.Length..].Fill(ListOpsTokens.Pad);
        targets[0] = example.Label;
        return example.Tokens.Length;
    }

    /// <inheritdoc />
    public override TaskMetric Score(TokenBatch batch, int[] predictions) => TargetAccuracy(batch, predictions);

    /// <inheritdoc />
    public override string Describe(TokenBatch batch, int index)
    {
        var e = ExampleAt(batch, index);
        return $"listops ({e.Tokens.Length} tokens, value {e.Label})\n{ListOpsTokens.Text(e.Tokens)}";
    }
}
