using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Tests.Tasks;

public sealed class PasskeyTests
{
    private const string Intro = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there.";
    private const string Filler = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
    private const string Question = "What is the pass key? The pass key is";

    [Theory]
    [InlineData(400, 0.0)]
    [InlineData(1000, 0.25)]
    [InlineData(1000, 0.5)]
    [InlineData(3000, 0.9)]
    [InlineData(3000, 1.0)]
    public void TextFormPutsTheNeedleAtTheRequestedDepth(int length, double depth)
    {
        var task = new PasskeyTextTask();
        var e = task.Generate(new Rng(length), length, depth);
        Assert.Equal(length + 1, e.Tokens.Length);
        var text = ByteTokenizer.Decode(e.Tokens);
        Assert.Equal(5, e.Key.Length);
        Assert.InRange(int.Parse(e.Key), 10000, 99999);
        string needle = $"The pass key is {e.Key}. Remember it. {e.Key} is the pass key.";
        Assert.StartsWith(Intro + "\n", text);
        Assert.EndsWith("\n" + Question + $" {e.Key}.", text);
        int at = text.IndexOf(needle, StringComparison.Ordinal);
        Assert.Equal(e.NeedleStart, at);
        // Filler before and after the needle: the endless space-joined filler cut to length.
        string before = text[(Intro.Length + 1)..(at - 1)];
        string after = text[(at + needle.Length + 1)..(text.Length - Question.Length - e.Key.Length - 3)];
        string endless = string.Join(" ", Enumerable.Repeat(Filler, 100));
        Assert.Equal(endless[..before.Length], before);
        Assert.Equal(endless[..after.Length], after);
        Assert.Equal(e.FillerLength, before.Length + after.Length);
        Assert.Equal((int)Math.Floor(depth * e.FillerLength), before.Length);
        Assert.InRange(before.Length / (double)e.FillerLength, depth - 1.0 / e.FillerLength, depth);
    }

    [Fact]
    public void TextFormTargetsAreTheAnswer()
    {
        var task = new PasskeyTextTask();
        var batch = task.SampleAtDepth(new Rng(2), 3, 700, 0.3);
        var examples = task.Examples(batch);
        for (int b = 0; b < 3; b++)
        {
            var t = batch.TargetRow(b).ToArray();
            var labelled = t.Where(v => v != TokenBatch.Ignore).ToArray();
            Assert.Equal($" {examples[b].Key}.", ByteTokenizer.Decode(labelled));
            Assert.All(t[..^7], v => Assert.Equal(TokenBatch.Ignore, v));
            Assert.Equal(Question, ByteTokenizer.Decode(batch.InputRow(b)[^(Question.Length + 6)..^6]));
            Assert.Equal(0.3, examples[b].Depth);
        }
    }

    [Fact]
    public void TextScoreIsTheGreedyEquivalentCondition()
    {
        var task = new PasskeyTextTask();
        var batch = task.Sample(new Rng(3), 4, 500);
        var pred = batch.Targets.Select(t => t == TokenBatch.Ignore ? 0 : t).ToArray();
        Assert.Equal(new TaskMetric(4, 4), task.Score(batch, pred));
        int last = 500 - 1; // row 0: the position that should predict '.'
        pred[last] = ',';
        Assert.Equal(4, task.Score(batch, pred).Sum); // any non-digit ends the integer
        pred[last] = '7';
        Assert.Equal(3, task.Score(batch, pred).Sum); // a sixth digit changes the integer
        pred[last] = '.';
        pred[500 + 500 - 3] = (batch.Targets[500 + 500 - 3] - '0' + 1) % 10 + '0'; // row 1: a wrong digit
        pred[2 * 500 + 500 - 7] = 'x';                                              // row 2: no space before the key
        Assert.Equal(2, task.Score(batch, pred).Sum);
    }

    [Theory]
    [InlineData(" 12345.", 12345L)]
    [InlineData("12345", 12345L)]
    [InlineData(" is 007 and 8", 7L)]
    [InlineData("12a34", 12L)]
    [InlineData("no digits", null)]
    [InlineData("", null)]
    [InlineData("99999999999999999999999 1", null)]
    public void FirstIntegerParses(string text, long? expected) => Assert.Equal(expected, PasskeyTextTask.FirstInteger(text));

    [Fact]
    public void ContinuationScoreComparesTheFirstInteger()
    {
        Assert.True(PasskeyTextTask.ScoreContinuation(" 12345. Remember", "12345"));
        Assert.True(PasskeyTextTask.ScoreContinuation(ByteTokenizer.Encode("  12345\n"), "12345"));
        Assert.False(PasskeyTextTask.ScoreContinuation(" 1234. 12345", "12345"));
        Assert.False(PasskeyTextTask.ScoreContinuation(" unknown", "12345"));
        var task = new PasskeyTextTask();
        var e = task.Generate(new Rng(1), 300, 0.5);
        Assert.Equal(e.Tokens[..^7], task.Prompt(e));
        Assert.True(PasskeyTextTask.ScoreContinuation(e.Tokens[^7..], e.Key));
    }

    [Fact]
    public void TokenFormLayout()
    {
        var task = new PasskeyTokenTask(new PasskeyTokenOptions(VocabSize: 20, KeyDigits: 3));
        Assert.Equal(7, task.MinLength);
        var e = task.Generate(new Rng(5), 60, 0.75);
        var x = e.Tokens;
        Assert.Equal(61, x.Length);
        int filler = 61 - 8;
        Assert.Equal(filler, e.FillerLength);
        int needle = (int)Math.Floor(0.75 * filler);
        Assert.Equal(needle, e.NeedleStart);
        Assert.Equal(PasskeyTokenTask.Marker, x[needle]);
        var key = e.Key.Select(c => c - '0').ToArray();
        Assert.Equal(key, x[(needle + 1)..(needle + 4)]);
        Assert.Equal(PasskeyTokenTask.Query, x[^4]);
        Assert.Equal(key, x[^3..]);
        for (int i = 0; i < x.Length - 4; i++)
            if (i < needle || i > needle + 3) Assert.InRange(x[i], PasskeyTokenTask.FirstFiller, 19);
        var batch = task.Collate(new[] { e }, 60);
        Assert.Equal(key, batch.Targets[^3..]);
        Assert.All(batch.Targets[..^3], v => Assert.Equal(TokenBatch.Ignore, v));
        var pred = batch.Targets.Select(t => t == TokenBatch.Ignore ? 0 : t).ToArray();
        Assert.Equal(1.0, task.Score(batch, pred).Value);
        pred[^1] = (pred[^1] + 1) % 10;
        Assert.Equal(0.0, task.Score(batch, pred).Value);
    }

    [Fact]
    public void SampleDrawsDepthsUnlessFixed()
    {
        var random = new PasskeyTokenTask();
        var depths = random.Examples(random.Sample(new Rng(1), 16, 100)).Select(e => e.Depth).ToArray();
        Assert.True(depths.Distinct().Count() > 10);
        Assert.All(depths, d => Assert.InRange(d, 0, 1));
        var fixedDepth = new PasskeyTokenTask(new PasskeyTokenOptions(Depth: 0.2));
        Assert.All(fixedDepth.Examples(fixedDepth.Sample(new Rng(1), 4, 100)), e => Assert.Equal(0.2, e.Depth));
    }

    [Fact]
    public void SweepBuildsALengthByDepthGrid()
    {
        var task = new PasskeyTokenTask(new PasskeyTokenOptions(KeyDigits: 2));
        Assert.Equal(new[] { 0.125, 0.375, 0.625, 0.875 }, PasskeySweep.Depths(4));
        // A predictor that reads the key after the marker is always right; one that guesses 0s is right only for key 00.
        int[] Oracle(TokenBatch b)
        {
            var pred = new int[b.Inputs.Length];
            for (int r = 0; r < b.Batch; r++)
            {
                var row = b.InputRow(r);
                int m = row.IndexOf(PasskeyTokenTask.Marker);
                int last = b.Length - 1;
                pred[r * b.Length + last - 1] = row[m + 1];
                pred[r * b.Length + last] = row[m + 2];
            }
            return pred;
        }
        var seen = new List<(int, double)>();
        var grid = PasskeySweep.Run(task, new[] { 32, 64, 128 }, 4, 10, seed: 3, b =>
        {
            var ex = task.Examples(b);
            seen.Add((b.Length, ex[0].Depth));
            return Oracle(b);
        }, batchSize: 4);
        Assert.Equal(new[] { 32, 64, 128 }, grid.Lengths);
        Assert.Equal(3, grid.Accuracy.GetLength(0));
        Assert.Equal(4, grid.Accuracy.GetLength(1));
        Assert.All(grid.Accuracy.Cast<double>(), a => Assert.Equal(1.0, a));
        Assert.Equal(3 * 4 * 3, seen.Count); // 10 samples in batches of 4 → 3 batches per cell
        Assert.Contains((128, 0.875), seen);
        var zeros = PasskeySweep.Run(task, new[] { 32 }, 2, 50, 3, b => new int[b.Inputs.Length]);
        Assert.All(zeros.Accuracy.Cast<double>(), a => Assert.InRange(a, 0, 0.1));
        // Pure function of the seed.
        var again = PasskeySweep.Run(task, new[] { 32 }, 2, 50, 3, b => new int[b.Inputs.Length]);
        Assert.Equal(zeros.Accuracy, again.Accuracy);
    }

    [Fact]
    public void LengthsBelowTheMinimumAreRejected()
    {
        var task = new PasskeyTextTask();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => task.Sample(new Rng(0), 1, task.MinLength - 1));
        Assert.Contains($"at least {task.MinLength}", ex.Message);
        Assert.Equal(task.MinLength + 1, task.Generate(new Rng(0), task.MinLength, 0.5).Tokens.Length);
    }
}
