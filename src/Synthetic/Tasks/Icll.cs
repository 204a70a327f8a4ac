using System.Text;
using Ssm.Kernels;

namespace Ssm.Synthetic.Tasks;

// In-context language learning, ICLL (Akyürek, Wang, Kim, Andreas 2024, "In-Context Language Learning: Architectures and
// Algorithms", RegBench; berlino/seq_icl src/dataloaders/dfa.py and configs/dataset/icl_dfa.yaml):
//   DFA:     states U{4..12}; alphabet of U{4..18} letters drawn without replacement from 18; every state gets U{1..3}
//            outgoing edges with distinct letters (from the alphabet) and distinct targets, never itself; start state 0,
//            all states accepting; then minimized and trimmed. RegBench keeps whatever minimization returns; here a DFA
//            whose minimal form breaks a stated constraint (fewer than 4 states, a self-loop or two edges into one state
//            after merging) is discarded and redrawn, so every DFA in the pool meets all of them. DFAs are
//            deduplicated by language (canonical minimal form), shuffled, and split into disjoint train/test sets.
//   Prompt:  U{10..19} strings joined by '|'; each a uniform random walk of U{1..49} steps from state 0.
//   Tokens:  letters 'a'..'r' = 0..17, '|' = 18, '.' (padding) = 19. Next-token targets; '|' targets and padding are −100.
//            RegBench trains on one fixed prompt per training DFA; Sample draws a fresh prompt for a random DFA of the
//            split each time (the same distribution of prompts, more of them).
//   Metric:  DFA accuracy — at each position whose next token is not '|', the model's argmax letter counts 1 when the
//            DFA, in the state reached by the current string so far, has a transition on it.

/// <summary>ICLL options (RegBench's values; bounds inclusive).</summary>
/// <param name="TrainDfas">DFAs in the training split.</param>
/// <param name="TestDfas">DFAs in the test split (disjoint from training).</param>
/// <param name="DfaSeed">Seed of the DFA pool (the pool is a pure function of the options).</param>
/// <param name="MinStates">Fewest states.</param>
/// <param name="MaxStates">Most states.</param>
/// <param name="MinAlphabet">Smallest alphabet.</param>
/// <param name="MaxAlphabet">Largest alphabet (at most 18).</param>
/// <param name="MinEdges">Fewest outgoing edges per state.</param>
/// <param name="MaxEdges">Most outgoing edges per state.</param>
/// <param name="MinStringLength">Shortest string (random-walk steps).</param>
/// <param name="MaxStringLength">Longest string.</param>
/// <param name="MinStrings">Fewest strings per prompt.</param>
/// <param name="MaxStrings">Most strings per prompt.</param>
public sealed record IcllOptions(
    int TrainDfas = 5000, int TestDfas = 500, long DfaSeed = 0,
    int MinStates = 4, int MaxStates = 12, int MinAlphabet = 4, int MaxAlphabet = 18, int MinEdges = 1, int MaxEdges = 3,
    int MinStringLength = 1, int MaxStringLength = 49, int MinStrings = 10, int MaxStrings = 19)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        static void Range(string lo, int l, string hi, int h, int min)
        {
            if (l < min) throw new ArgumentOutOfRangeException(lo, l, $"IcllOptions: {lo} must be at least {min}, got {l}.");
            if (h < l) throw new ArgumentOutOfRangeException(hi, h, $"IcllOptions: {hi} ({h}) must be at least {lo} ({l}).");
        }
        if (TrainDfas < 1) throw new ArgumentOutOfRangeException(nameof(TrainDfas), TrainDfas, "IcllOptions: TrainDfas must be at least 1.");
        if (TestDfas < 1) throw new ArgumentOutOfRangeException(nameof(TestDfas), TestDfas, "IcllOptions: TestDfas must be at least 1.");
        Range(nameof(MinStates), MinStates, nameof(MaxStates), MaxStates, 2);
        Range(nameof(MinAlphabet), MinAlphabet, nameof(MaxAlphabet), MaxAlphabet, 1);
        if (MaxAlphabet > Dfa.MaxSymbols) throw new ArgumentOutOfRangeException(nameof(MaxAlphabet), MaxAlphabet, $"IcllOptions: MaxAlphabet must be at most {Dfa.MaxSymbols}.");
        Range(nameof(MinEdges), MinEdges, nameof(MaxEdges), MaxEdges, 1);
        if (MaxEdges > MinAlphabet) throw new ArgumentOutOfRangeException(nameof(MaxEdges), MaxEdges, $"IcllOptions: MaxEdges ({MaxEdges}) must not exceed MinAlphabet ({MinAlphabet}): edges need distinct letters.");
        if (MaxEdges > MinStates - 1) throw new ArgumentOutOfRangeException(nameof(MaxEdges), MaxEdges, $"IcllOptions: MaxEdges ({MaxEdges}) must not exceed MinStates − 1 ({MinStates - 1}): edges need distinct targets other than the source.");
        Range(nameof(MinStringLength), MinStringLength, nameof(MaxStringLength), MaxStringLength, 1);
        Range(nameof(MinStrings), MinStrings, nameof(MaxStrings), MaxStrings, 1);
    }
}

/// <summary>One ICLL prompt: its DFA (index within its split's pool) and the tokens (letters and '|', no padding).</summary>
public sealed record IcllExample(int DfaIndex, Dfa Dfa, int[] Tokens);

/// <summary>The ICLL task (RegBench); metric: DFA accuracy.</summary>
public sealed class IcllTask : SequenceTask<IcllExample>
{
    /// <summary>The separator token '|'.</summary>
    public const int Separator = 18;

    /// <summary>The padding token '.'.</summary>
    public const int Pad = 19;

    /// <summary>Vocabulary: 18 letters, '|', '.'.</summary>
    public const int Vocabulary = 20;

    /// <summary>Creates the task and its DFA pool (validates the options; throws if the constraints admit too few distinct DFAs).</summary>
    public IcllTask(IcllOptions? options = null)
    {
        Options = options ?? new IcllOptions();
        Options.Validate();
        (TrainDfas, TestDfas) = BuildPool(Options);
    }

    /// <summary>The options.</summary>
    public IcllOptions Options { get; }

    /// <summary>The training DFAs (minimal, canonical, distinct languages).</summary>
    public IReadOnlyList<Dfa> TrainDfas { get; }

    /// <summary>The test DFAs (disjoint from training).</summary>
    public IReadOnlyList<Dfa> TestDfas { get; }

    /// <inheritdoc />
    public override string Name => "icll";

    /// <inheritdoc />
    public override int VocabSize => Vocabulary;

    /// <inheritdoc />
    public override string MetricName => "dfa_accuracy";

    /// <summary>
    /// Input tokens of the longest possible prompt (MaxStrings strings of MaxStringLength letters and the separators,
    /// less the last token, which is only a target): a batch length that never truncates (949 with RegBench's values;
    /// RegBench truncates at 1024). Shorter lengths truncate prompts; rows shorter than the length are padded with '.'.
    /// </summary>
    public int MaxInputLength => Options.MaxStrings * (Options.MaxStringLength + 1) - 2;

    /// <summary>The DFAs of a split.</summary>
    public IReadOnlyList<Dfa> Dfas(DataSplit split) => split == DataSplit.Test ? TestDfas : TrainDfas;

    /// <summary>The text of a token: 'a'..'r', '|', '.'.</summary>
    public static char TokenChar(int token) => token switch
    {
        >= 0 and < Dfa.MaxSymbols => Dfa.Letter(token),
        Separator => '|',
        Pad => '.',
        _ => '?',
    };

    /// <summary>A DFA drawn as RegBench draws them, before minimization.</summary>
    public static Dfa SampleRawDfa(Rng rng, IcllOptions options)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(options);
        int n = rng.Next(options.MinStates, options.MaxStates + 1);
        int m = rng.Next(options.MinAlphabet, options.MaxAlphabet + 1);
        var letters = Enumerable.Range(0, Dfa.MaxSymbols).ToArray();
        rng.Shuffle(letters.AsSpan());
        var alphabet = letters[..m].Order().ToArray();
        var edges = new List<int[]>();
        for (int s = 0; s < n; s++)
        {
            int k = rng.Next(options.MinEdges, options.MaxEdges + 1);
            var symbols = Choose(rng, alphabet, k);
            var targets = Choose(rng, Enumerable.Range(0, n).Where(t => t != s).ToArray(), k);
            for (int i = 0; i < k; i++) edges.Add(new[] { s, symbols[i], targets[i] });
        }
        return new Dfa(n, alphabet, edges.ToArray());
    }

    /// <summary>
    /// Why <paramref name="dfa"/> breaks the stated constraints (state count, alphabet size, 1..3 edges per state with
    /// distinct targets, no self-loops, every state reachable), or null when it meets them all.
    /// </summary>
    public static string? Violation(Dfa dfa, IcllOptions options)
    {
        if (dfa.NumStates < options.MinStates || dfa.NumStates > options.MaxStates) return $"{dfa.NumStates} states";
        if (dfa.Alphabet.Length < options.MinAlphabet || dfa.Alphabet.Length > options.MaxAlphabet) return $"alphabet of {dfa.Alphabet.Length}";
        for (int s = 0; s < dfa.NumStates; s++)
        {
            int d = dfa.OutDegree(s);
            if (d < options.MinEdges || d > options.MaxEdges) return $"state {s} has {d} edges";
            var targets = dfa.SymbolsFrom(s).Select(a => dfa.Next(s, a)).ToArray();
            if (targets.Contains(s)) return $"state {s} has a self-loop";
            if (targets.Distinct().Count() != targets.Length) return $"state {s} has two edges into one state";
        }
        if (dfa.Reachable().Contains(false)) return "unreachable states";
        return null;
    }

    private static (Dfa[] Train, Dfa[] Test) BuildPool(IcllOptions o)
    {
        int need = o.TrainDfas + o.TestDfas;
        var rng = new Rng(o.DfaSeed);
        var seen = new HashSet<string>();
        var pool = new List<Dfa>(need);
        long attempts = 0, limit = 100L * need + 10_000;
        while (pool.Count < need)
        {
            if (++attempts > limit)
                throw new ArgumentException(
                    $"IcllTask: found only {pool.Count} distinct DFAs meeting the constraints in {limit} draws, fewer than TrainDfas + TestDfas = {need}; widen the ranges or ask for fewer DFAs.",
                    nameof(o));
            var dfa = SampleRawDfa(rng, o).Minimize();
            if (Violation(dfa, o) is null && seen.Add(dfa.Key())) pool.Add(dfa);
        }
        var arr = pool.ToArray();
        rng.Shuffle(arr.AsSpan());
        return (arr[..o.TrainDfas], arr[o.TrainDfas..]);
    }

    private static int[] Choose(Rng rng, int[] items, int k)
    {
        var copy = (int[])items.Clone();
        for (int i = 0; i < k; i++)
        {
            int j = rng.Next(i, copy.Length);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        return copy[..k];
    }

    /// <summary>A uniform random walk of <paramref name="steps"/> letters from state 0.</summary>
    public static int[] RandomWalk(Rng rng, Dfa dfa, int steps)
    {
        var word = new int[steps];
        int s = 0;
        var options = new List<int>(Dfa.MaxSymbols);
        for (int i = 0; i < steps; i++)
        {
            options.Clear();
            options.AddRange(dfa.SymbolsFrom(s));
            int a = options[rng.Next(options.Count)];
            word[i] = a;
            s = dfa.Next(s, a);
        }
        return word;
    }

    /// <inheritdoc />
    public override IcllExample Generate(Rng rng, int length, DataSplit split = DataSplit.Train)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var dfas = Dfas(split);
        int index = rng.Next(dfas.Count);
        return Prompt(rng, index, dfas[index]);
    }

    /// <summary>
    /// One prompt for every DFA of <paramref name="split"/>, in pool order (RegBench's fixed evaluation set: each test
    /// DFA once); collate them in chunks with <see cref="SequenceTask{T}.Collate"/>.
    /// </summary>
    public IReadOnlyList<IcllExample> OnePromptPerDfa(Rng rng, DataSplit split)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var dfas = Dfas(split);
        return Enumerable.Range(0, dfas.Count).Select(i => Prompt(rng, i, dfas[i])).ToArray();
    }

    private IcllExample Prompt(Rng rng, int index, Dfa dfa)
    {
        int strings = rng.Next(Options.MinStrings, Options.MaxStrings + 1);
        var tokens = new List<int>();
        for (int i = 0; i < strings; i++)
        {
            if (i > 0) tokens.Add(Separator);
            tokens.AddRange(RandomWalk(rng, dfa, rng.Next(Options.MinStringLength, Options.MaxStringLength + 1)));
        }
        return new IcllExample(index, dfa, tokens.ToArray());
    }

    /// <inheritdoc />
    protected override int Encode(IcllExample example, Span<int> inputs, Span<int> targets)
    {
        var x = example.Tokens;
        if (x.Length < 2) throw new ArgumentException("icll: an example needs at least two tokens.", nameof(example));
        int valid = Math.Min(x.Length - 1, inputs.Length);
        for (int t = 0; t < valid; t++)
        {
            inputs[t] = x[t];
            targets[t] = x[t + 1] == Separator ? TokenBatch.Ignore : x[t + 1];
        }
        inputs[valid..].Fill(Pad);
        return valid;
    }

    /// <summary>
    /// Walks row <paramref name="row"/>'s DFA along its inputs and calls <paramref name="visit"/>(flat index, state) at
    /// every scored position (target not −100), with the state reached by the current string so far.
    /// </summary>
    private void ForEachScored(TokenBatch batch, int row, Action<int, int> visit)
    {
        var dfa = ExampleAt(batch, row).Dfa;
        int s = 0, valid = batch.ValidLength(row);
        for (int t = 0; t < valid; t++)
        {
            int i = row * batch.Length + t, x = batch.Inputs[i];
            s = x == Separator ? 0 : dfa.Next(s, x);
            if (s < 0) throw new ArgumentException($"icll: row {row} position {t}: the DFA has no transition on input '{TokenChar(x)}' (inputs and DFA do not match).", nameof(batch));
            if (batch.Targets[i] != TokenBatch.Ignore) visit(i, s);
        }
    }

    /// <inheritdoc />
    public override TaskMetric Score(TokenBatch batch, int[] predictions)
    {
        CheckPredictions(batch, predictions);
        long hit = 0, count = 0;
        for (int b = 0; b < batch.Batch; b++)
        {
            var dfa = ExampleAt(batch, b).Dfa;
            ForEachScored(batch, b, (i, s) =>
            {
                count++;
                if (dfa.Next(s, predictions[i]) >= 0) hit++;
            });
        }
        return new TaskMetric(hit, count);
    }

    /// <summary>The expected DFA accuracy of guessing uniformly among the 18 letters: mean over scored positions of out-degree / 18.</summary>
    public TaskMetric ChanceLevel(TokenBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        double sum = 0;
        long count = 0;
        for (int b = 0; b < batch.Batch; b++)
        {
            var dfa = ExampleAt(batch, b).Dfa;
            ForEachScored(batch, b, (_, s) => { count++; sum += dfa.OutDegree(s) / (double)Dfa.MaxSymbols; });
        }
        return new TaskMetric(sum, count);
    }

    /// <inheritdoc />
    public override string Describe(TokenBatch batch, int index)
    {
        var e = ExampleAt(batch, index);
        var text = new StringBuilder();
        foreach (var t in e.Tokens) text.Append(TokenChar(t));
        int shown = batch.ValidLength(index) + 1;
        return $"icll (dfa #{e.DfaIndex}, {e.Tokens.Length} tokens, {(shown < e.Tokens.Length ? $"truncated to {shown}" : "not truncated")})\n{e.Dfa}\n{text}";
    }
}
