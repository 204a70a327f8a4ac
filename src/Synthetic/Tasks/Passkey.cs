using System.Text;
using Ssm.Kernels;

namespace Ssm.Synthetic.Tasks;

// Passkey retrieval (Mohtashami & Jaggi 2023, "Landmark Attention"; LM-Infinite; Stuffed Mamba uses 5-digit keys).
// Text form, byte-level tokens (UTF-8 bytes, vocabulary 256), laid out as Landmark's generate_prompt does:
//   intro "\n" filler[:n_prefix] "\n" needle "\n" filler[:n_suffix] "\n" question, followed by the answer " {K}."
// where filler = " ".join(["The grass is green. …"] * ∞) cut at character granularity, n_prefix = floor(depth·n_filler),
// n_filler = everything the target length leaves after the fixed parts. The strings are those of TASKS.md (its intro
// says "memorize it"; Landmark's says "memorize them"). Keys are uniform K-digit numbers (no leading zero), so every
// example of a length has the same layout. The paper's score: the first integer of the greedy continuation equals K
// (ScoreContinuation). On a teacher-forced batch Score counts an example correct when the argmax predicts " K" exactly
// and a non-digit after it — exactly the condition for greedy decoding to emit " K" followed by a non-digit, which
// makes the first integer K.
// Token form: digits are tokens 0–9, the needle marker 10, the query marker 11, filler uniform from [12, V):
//   filler[n_prefix] MARKER d_1..d_k filler[n_suffix] QUERY d_1..d_k ; targets at the k answer positions; an example
// counts as correct when all k digits are predicted (exact match).
// Depth = share of the filler placed before the needle; a sweep's depth i of n is (i + 0.5)/n.

/// <summary>One passkey example: the whole token sequence (length + 1 tokens: inputs and the shifted targets).</summary>
/// <param name="Tokens">The sequence; inputs are Tokens[..^1], next-token targets Tokens[1..].</param>
/// <param name="Key">The key's digits.</param>
/// <param name="Depth">Requested depth in [0, 1].</param>
/// <param name="NeedleStart">Index in <paramref name="Tokens"/> where the needle begins.</param>
/// <param name="FillerLength">Filler tokens in total (before and after the needle).</param>
public sealed record PasskeyExample(int[] Tokens, string Key, double Depth, int NeedleStart, int FillerLength);

/// <summary>A passkey task (text or token form) as the length × depth sweep uses it.</summary>
public interface IPasskeyTask : ISequenceTask
{
    /// <summary>The shortest input length (no filler).</summary>
    int MinLength { get; }

    /// <summary>A batch whose needles all sit at <paramref name="depth"/>.</summary>
    TokenBatch SampleAtDepth(Rng rng, int batch, int length, double depth);
}

/// <summary>Options of the text form.</summary>
/// <param name="KeyDigits">Digits of the key (Stuffed Mamba: 5).</param>
/// <param name="Depth">Needle depth for <see cref="SequenceTask{T}.Sample"/>; null draws it uniformly per example.</param>
public sealed record PasskeyOptions(int KeyDigits = 5, double? Depth = null)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (KeyDigits is < 1 or > 9) throw new ArgumentOutOfRangeException(nameof(KeyDigits), KeyDigits, "PasskeyOptions: KeyDigits must be in 1..9.");
        PasskeyTaskBase.CheckDepth(Depth, "PasskeyOptions");
    }
}

/// <summary>Options of the token form.</summary>
/// <param name="VocabSize">V: filler tokens are uniform from [12, V).</param>
/// <param name="KeyDigits">Digits of the key.</param>
/// <param name="Depth">Needle depth for <see cref="SequenceTask{T}.Sample"/>; null draws it uniformly per example.</param>
public sealed record PasskeyTokenOptions(int VocabSize = 32, int KeyDigits = 5, double? Depth = null)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (VocabSize < PasskeyTokenTask.FirstFiller + 1)
            throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize, $"PasskeyTokenOptions: VocabSize must be at least {PasskeyTokenTask.FirstFiller + 1} (10 digits, 2 markers, filler).");
        if (KeyDigits < 1) throw new ArgumentOutOfRangeException(nameof(KeyDigits), KeyDigits, "PasskeyTokenOptions: KeyDigits must be at least 1.");
        PasskeyTaskBase.CheckDepth(Depth, "PasskeyTokenOptions");
    }
}

/// <summary>What both passkey forms share: depth handling, the next-token layout and batching.</summary>
public abstract class PasskeyTaskBase : SequenceTask<PasskeyExample>, IPasskeyTask
{
    /// <summary>Tokens of the answer at the end of the sequence (the positions with targets).</summary>
    public abstract int AnswerLength { get; }

    /// <summary>Tokens of a sequence without filler (so the shortest input length is this minus one).</summary>
    protected abstract int FixedTokens { get; }

    /// <summary>The depth <see cref="SequenceTask{T}.Sample"/> uses; null draws one per example.</summary>
    protected abstract double? FixedDepth { get; }

    /// <inheritdoc />
    public int MinLength => FixedTokens - 1;

    /// <inheritdoc />
    public override void CheckLength(int length)
    {
        if (length < MinLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{Name}: length must be at least {MinLength} (the prompt without filler), got {length}.");
    }

    /// <summary>One example of <paramref name="length"/> input tokens with the needle at <paramref name="depth"/>.</summary>
    public abstract PasskeyExample Generate(Rng rng, int length, double depth);

    /// <inheritdoc />
    public override PasskeyExample Generate(Rng rng, int length, DataSplit split = DataSplit.Train)
    {
        ArgumentNullException.ThrowIfNull(rng);
        return Generate(rng, length, FixedDepth ?? rng.NextDouble());
    }

    /// <inheritdoc />
    public TokenBatch SampleAtDepth(Rng rng, int batch, int length, double depth)
    {
        ArgumentNullException.ThrowIfNull(rng);
        CheckDepth(depth, $"{Name}.SampleAtDepth");
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{Name}.SampleAtDepth: batch must be at least 1.");
        CheckLength(length);
        var examples = new PasskeyExample[batch];
        for (int i = 0; i < batch; i++) examples[i] = Generate(rng, length, depth);
        return Collate(examples, length);
    }

    /// <summary>The prompt of an example (everything before the answer), for greedy generation.</summary>
    public int[] Prompt(PasskeyExample example) => example.Tokens[..^AnswerLength];

    /// <summary>Filler tokens placed before the needle: floor(depth · filler).</summary>
    public static int PrefixLength(int fillerLength, double depth) => Math.Min(fillerLength, (int)Math.Floor(depth * fillerLength));

    /// <inheritdoc />
    protected override int Encode(PasskeyExample example, Span<int> inputs, Span<int> targets)
    {
        int len = inputs.Length;
        if (example.Tokens.Length != len + 1)
            throw new ArgumentException($"{Name}: example has {example.Tokens.Length} tokens, expected length + 1 = {len + 1}.", nameof(example));
        example.Tokens.AsSpan(0, len).CopyTo(inputs);
        for (int t = len - AnswerLength; t < len; t++) targets[t] = example.Tokens[t + 1];
        return len;
    }

    internal static void CheckDepth(double? depth, string where)
    {
        if (depth is double d && !(d >= 0 && d <= 1))
            throw new ArgumentOutOfRangeException("depth", d, $"{where}: depth must be in [0, 1], got {d}.");
    }
}

/// <summary>UTF-8 byte tokens (vocabulary 256).</summary>
public static class ByteTokenizer
{
    /// <summary>Vocabulary size.</summary>
    public const int VocabSize = 256;

    /// <summary>The UTF-8 bytes of <paramref name="text"/> as token ids.</summary>
    public static int[] Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

    /// <summary>The text of byte tokens (ids outside 0..255 throw).</summary>
    public static string Decode(ReadOnlySpan<int> tokens)
    {
        var bytes = new byte[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] > 255) throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"ByteTokenizer.Decode: token {tokens[i]} at {i} is not a byte.");
            bytes[i] = (byte)tokens[i];
        }
        return Encoding.UTF8.GetString(bytes);
    }
}

/// <summary>Passkey retrieval in its text form with byte tokens; metric: greedy-equivalent passkey accuracy.</summary>
public sealed class PasskeyTextTask : PasskeyTaskBase
{
    /// <summary>The task description at the start of the prompt.</summary>
    public const string Intro = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there.";

    /// <summary>The filler sentence, repeated (joined by spaces) and cut to length.</summary>
    public const string Filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";

    /// <summary>The question at the end of the prompt.</summary>
    public const string Question = "What is the pass key? The pass key is";

    /// <summary>Creates the task (validates the options).</summary>
    public PasskeyTextTask(PasskeyOptions? options = null)
    {
        Options = options ?? new PasskeyOptions();
        Options.Validate();
    }

    /// <summary>The options.</summary>
    public PasskeyOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "passkey";

    /// <inheritdoc />
    public override int VocabSize => ByteTokenizer.VocabSize;

    /// <inheritdoc />
    public override string MetricName => "passkey_accuracy";

    /// <summary>The needle sentence for key <paramref name="key"/>.</summary>
    public static string Needle(string key) => $"The pass key is {key}. Remember it. {key} is the pass key.";

    /// <summary>The answer the model should continue with: " K.".</summary>
    public static string Answer(string key) => $" {key}.";

    /// <inheritdoc />
    public override int AnswerLength => Options.KeyDigits + 2;

    /// <inheritdoc />
    protected override int FixedTokens => Intro.Length + Needle(new string('0', Options.KeyDigits)).Length + Question.Length + 4 + AnswerLength;

    /// <inheritdoc />
    protected override double? FixedDepth => Options.Depth;

    /// <summary>The first <paramref name="count"/> characters of the endless space-joined filler.</summary>
    public static string FillerText(int count)
    {
        var sb = new StringBuilder(count + Filler.Length + 1);
        while (sb.Length < count)
        {
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(Filler);
        }
        return sb.ToString(0, count);
    }

    /// <inheritdoc />
    public override PasskeyExample Generate(Rng rng, int length, double depth)
    {
        ArgumentNullException.ThrowIfNull(rng);
        CheckLength(length);
        CheckDepth(depth, "passkey.Generate");
        int lo = (int)Math.Pow(10, Options.KeyDigits - 1);
        string key = rng.Next(lo, lo * 10).ToString();
        int filler = length + 1 - FixedTokens;
        int prefix = PrefixLength(filler, depth);
        string head = Intro + "\n" + FillerText(prefix) + "\n";
        string text = head + Needle(key) + "\n" + FillerText(filler - prefix) + "\n" + Question + Answer(key);
        var tokens = ByteTokenizer.Encode(text);
        if (tokens.Length != length + 1) throw new InvalidOperationException($"passkey: built {tokens.Length} tokens, expected {length + 1}.");
        return new PasskeyExample(tokens, key, depth, head.Length, filler);
    }

    /// <inheritdoc />
    public override TaskMetric Score(TokenBatch batch, int[] predictions)
    {
        CheckPredictions(batch, predictions);
        long hit = 0;
        int len = batch.Length, a = AnswerLength;
        for (int b = 0; b < batch.Batch; b++)
        {
            int start = b * len + len - a;
            bool ok = true;
            for (int t = start; ok && t < start + a - 1; t++) ok = predictions[t] == batch.Targets[t];
            int last = predictions[start + a - 1];
            if (ok && !(last >= '0' && last <= '9')) hit++;
        }
        return new TaskMetric(hit, batch.Batch);
    }

    /// <summary>The first run of ASCII digits in <paramref name="text"/> as a number (null if none, or too long for a long).</summary>
    public static long? FirstInteger(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int i = 0;
        while (i < text.Length && !char.IsAsciiDigit(text[i])) i++;
        if (i == text.Length) return null;
        int j = i;
        while (j < text.Length && char.IsAsciiDigit(text[j])) j++;
        return long.TryParse(text.AsSpan(i, j - i), out var v) ? v : null;
    }

    /// <summary>The paper's score: the first integer of the (greedy) continuation equals the key.</summary>
    public static bool ScoreContinuation(string continuation, string key) =>
        FirstInteger(continuation) is long v && long.TryParse(key, out var k) && v == k;

    /// <summary>The paper's score on generated byte tokens.</summary>
    public static bool ScoreContinuation(ReadOnlySpan<int> continuation, string key) => ScoreContinuation(ByteTokenizer.Decode(continuation), key);

    /// <inheritdoc />
    public override string Describe(TokenBatch batch, int index)
    {
        var e = ExampleAt(batch, index);
        int prefix = e.NeedleStart - Intro.Length - 2;
        return $"passkey (length {batch.Length}, key {e.Key}, depth {e.Depth:F3}, needle at byte {e.NeedleStart})\n" +
               $"{Intro}\n<filler: {prefix} chars>\n{Needle(e.Key)}\n<filler: {e.FillerLength - prefix} chars>\n{Question}" +
               $"  ⟶ target \"{Answer(e.Key)}\"";
    }
}

/// <summary>Passkey retrieval with random filler tokens (for small models); metric: exact match of the key digits.</summary>
public sealed class PasskeyTokenTask : PasskeyTaskBase
{
    /// <summary>Token of the needle marker (digits are tokens 0–9).</summary>
    public const int Marker = 10;

    /// <summary>Token of the query marker.</summary>
    public const int Query = 11;

    /// <summary>The first filler token.</summary>
    public const int FirstFiller = 12;

    /// <summary>Creates the task (validates the options).</summary>
    public PasskeyTokenTask(PasskeyTokenOptions? options = null)
    {
        Options = options ?? new PasskeyTokenOptions();
        Options.Validate();
    }

    /// <summary>The options.</summary>
    public PasskeyTokenOptions Options { get; }

    /// <inheritdoc />
    public override string Name => "passkey-tokens";

    /// <inheritdoc />
    public override int VocabSize => Options.VocabSize;

    /// <inheritdoc />
    public override string MetricName => "passkey_accuracy";

    /// <inheritdoc />
    public override int AnswerLength => Options.KeyDigits;

    /// <inheritdoc />
    protected override int FixedTokens => 2 + 2 * Options.KeyDigits;

    /// <inheritdoc />
    protected override double? FixedDepth => Options.Depth;

    /// <inheritdoc />
    public override PasskeyExample Generate(Rng rng, int length, double depth)
    {
        ArgumentNullException.ThrowIfNull(rng);
        CheckLength(length);
        CheckDepth(depth, "passkey-tokens.Generate");
        int k = Options.KeyDigits;
        var digits = new int[k];
        for (int i = 0; i < k; i++) digits[i] = rng.Next(10);
        int filler = length + 1 - FixedTokens;
        int prefix = PrefixLength(filler, depth);
        var tokens = new int[length + 1];
        int p = 0;
        for (int i = 0; i < prefix; i++) tokens[p++] = rng.Next(FirstFiller, Options.VocabSize);
        int needle = p;
        tokens[p++] = Marker;
        foreach (var d in digits) tokens[p++] = d;
        for (int i = prefix; i < filler; i++) tokens[p++] = rng.Next(FirstFiller, Options.VocabSize);
        tokens[p++] = Query;
        foreach (var d in digits) tokens[p++] = d;
        return new PasskeyExample(tokens, string.Concat(digits), depth, needle, filler);
    }

    /// <inheritdoc />
    public override TaskMetric Score(TokenBatch batch, int[] predictions)
    {
        CheckPredictions(batch, predictions);
        long hit = 0;
        int len = batch.Length, a = AnswerLength;
        for (int b = 0; b < batch.Batch; b++)
        {
            int start = b * len + len - a;
            bool ok = true;
            for (int t = start; ok && t < start + a; t++) ok = predictions[t] == batch.Targets[t];
            if (ok) hit++;
        }
        return new TaskMetric(hit, batch.Batch);
    }

    /// <inheritdoc />
    public override string Describe(TokenBatch batch, int index)
    {
        var e = ExampleAt(batch, index);
        int prefix = e.NeedleStart;
        return $"passkey-tokens (length {batch.Length}, V={Options.VocabSize}, key {e.Key}, depth {e.Depth:F3}, needle at {e.NeedleStart})\n" +
               $"<filler: {prefix} tokens> MARKER {string.Join(' ', e.Key.ToCharArray())} <filler: {e.FillerLength - prefix} tokens> QUERY " +
               $"⟶ target {string.Join(' ', e.Key.ToCharArray())}\n" +
               $"tokens: {string.Join(' ', e.Tokens)}";
    }
}

/// <summary>Accuracy over context length × needle depth (rows: lengths, columns: depths), for a heat map.</summary>
/// <param name="Lengths">Input lengths (rows).</param>
/// <param name="Depths">Depths (columns): (i + 0.5)/n.</param>
/// <param name="Accuracy">[length, depth] accuracy.</param>
public sealed record PasskeyGrid(int[] Lengths, double[] Depths, double[,] Accuracy);

/// <summary>The length × depth sweep of passkey retrieval.</summary>
public static class PasskeySweep
{
    /// <summary>The depths of a sweep with <paramref name="count"/> columns: (i + 0.5)/count.</summary>
    public static double[] Depths(int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "PasskeySweep.Depths: count must be at least 1.");
        return Enumerable.Range(0, count).Select(i => (i + 0.5) / count).ToArray();
    }

    /// <summary>
    /// Scores <paramref name="predict"/> (a batch → the model's argmax predictions laid out like its targets) on
    /// <paramref name="samplesPerCell"/> examples per (length, depth) cell. Cell data is a pure function of
    /// (<paramref name="seed"/>, length index, depth index).
    /// </summary>
    public static PasskeyGrid Run(IPasskeyTask task, IReadOnlyList<int> lengths, int depthCount, int samplesPerCell, long seed,
        Func<TokenBatch, int[]> predict, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(predict);
        if (lengths.Count == 0) throw new ArgumentException("PasskeySweep.Run: no lengths.", nameof(lengths));
        if (samplesPerCell < 1) throw new ArgumentOutOfRangeException(nameof(samplesPerCell), samplesPerCell, "PasskeySweep.Run: samplesPerCell must be at least 1.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "PasskeySweep.Run: batchSize must be at least 1.");
        var depths = Depths(depthCount);
        var acc = new double[lengths.Count, depths.Length];
        var master = new Rng(seed);
        for (int li = 0; li < lengths.Count; li++)
        {
            if (lengths[li] < task.MinLength)
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[li], $"PasskeySweep.Run: length {lengths[li]} is below the task's minimum {task.MinLength}.");
            for (int di = 0; di < depths.Length; di++)
            {
                var rng = master.Fork();
                var metric = default(TaskMetric);
                for (int done = 0; done < samplesPerCell; done += batchSize)
                {
                    var batch = task.SampleAtDepth(rng, Math.Min(batchSize, samplesPerCell - done), lengths[li], depths[di]);
                    metric += task.Score(batch, predict(batch));
                }
                acc[li, di] = metric.Value;
            }
        }
        return new PasskeyGrid(lengths.ToArray(), depths, acc);
    }
}
