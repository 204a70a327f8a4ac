using Ssm.Kernels;
using Ssm.Synthetic.Tasks;
using static Ssm.Synthetic.Tasks.ListOpsTokens;

namespace Ssm.Synthetic.Tests.Tasks;

public sealed class ListOpsTests
{
    private static int D(int digit) => Digit0 + digit;

    [Fact]
    public void OperatorsFollowLra()
    {
        Assert.Equal(1, Apply(Med, new[] { 1, 2 }));        // np.median = 1.5 → int → 1
        Assert.Equal(2, Apply(Med, new[] { 4, 1, 3, 2 }));  // 2.5 → 2
        Assert.Equal(4, Apply(Med, new[] { 9, 0 }));        // 4.5 → 4
        Assert.Equal(5, Apply(Med, new[] { 5, 5 }));
        Assert.Equal(3, Apply(Med, new[] { 7, 3, 1 }));
        Assert.Equal(4, Apply(SumMod, new[] { 9, 9, 6 }));  // 24 mod 10
        Assert.Equal(0, Apply(Min, new[] { 3, 0, 8 }));
        Assert.Equal(8, Apply(Max, new[] { 3, 0, 8 }));
    }

    [Fact]
    public void EvaluatorComputesAHandWrittenExpression()
    {
        // [MAX 2 9 [MIN 4 7 ] 0 ] = 9 ; [SM [MED 1 2 ] 9 [MIN 5 6 ] ] = (1 + 9 + 5) mod 10 = 5
        Assert.Equal(9, ListOpsEvaluator.Evaluate(new[] { Max, D(2), D(9), Min, D(4), D(7), ListOpsTokens.Close, D(0), ListOpsTokens.Close }));
        Assert.Equal(5, ListOpsEvaluator.Evaluate(new[] { SumMod, Med, D(1), D(2), ListOpsTokens.Close, D(9), Min, D(5), D(6), ListOpsTokens.Close, ListOpsTokens.Close, Pad, Pad }));
        Assert.Equal(7, ListOpsEvaluator.Evaluate(new[] { D(7) }));
        Assert.Throws<FormatException>(() => ListOpsEvaluator.Evaluate(new[] { Max, D(2) }));
        Assert.Throws<FormatException>(() => ListOpsEvaluator.Evaluate(new[] { Max, ListOpsTokens.Close }));
        Assert.Throws<FormatException>(() => ListOpsEvaluator.Evaluate(new[] { D(1), D(2) }));
    }

    [Fact]
    public void LabelsMatchTheIndependentEvaluatorAndLengthsAreInRange()
    {
        var task = new ListOpsTask(new ListOpsOptions(MinLength: 30, MaxLength: 200));
        var batch = task.Sample(new Rng(17), 64, 199);
        var examples = task.Examples(batch);
        var seen = new HashSet<string>();
        for (int b = 0; b < batch.Batch; b++)
        {
            int n = batch.ValidLength(b);
            Assert.InRange(n, 31, 199);
            var row = batch.InputRow(b);
            Assert.Equal(batch.Targets[b], ListOpsEvaluator.Evaluate(row));
            Assert.Equal(examples[b].Label, batch.Targets[b]);
            Assert.All(row[n..].ToArray(), t => Assert.Equal(Pad, t));
            Assert.DoesNotContain(Pad, row[..n].ToArray());
            Assert.True(seen.Add(string.Join(',', row[..n].ToArray())), "duplicate sequence in a batch");
        }
        // Labels are not degenerate.
        Assert.True(batch.Targets.Distinct().Count() >= 5);
    }

    [Fact]
    public void DefaultLraRangeWorks()
    {
        var task = new ListOpsTask();
        var batch = task.Sample(new Rng(2), 4, 2000);
        for (int b = 0; b < 4; b++)
        {
            Assert.InRange(batch.ValidLength(b), 501, 1999);
            Assert.Equal(batch.Targets[b], ListOpsEvaluator.Evaluate(batch.InputRow(b)));
        }
    }

    [Fact]
    public void TreesRespectDepthAndArgumentLimits()
    {
        var task = new ListOpsTask(new ListOpsOptions(MinLength: 10, MaxLength: 400, MaxDepth: 4, MaxArgs: 3));
        var rng = new Rng(5);
        for (int i = 0; i < 50; i++)
        {
            var e = task.Generate(rng, 400);
            int depth = 0, maxDepth = 0;
            var args = new Stack<int>();
            foreach (var t in e.Tokens)
            {
                if (t is Min or Max or Med or SumMod)
                {
                    if (args.Count > 0) args.Push(args.Pop() + 1);
                    args.Push(0);
                    maxDepth = Math.Max(maxDepth, ++depth);
                }
                else if (t == ListOpsTokens.Close) { Assert.InRange(args.Pop(), 2, 3); depth--; }
                else if (args.Count > 0) args.Push(args.Pop() + 1);
            }
            // Leaves sit at depth ≤ 4, so operators at depth ≤ 3.
            Assert.InRange(maxDepth, 1, 3);
        }
    }

    [Fact]
    public void TreeNodesFollowLrasProbabilities()
    {
        // The root is a leaf with probability 0.75; an operator root has U{2..10} children and a uniform operator.
        var task = new ListOpsTask();
        var rng = new Rng(8);
        const int n = 20_000;
        int leaves = 0, ops = 0;
        long children = 0;
        var opCounts = new Dictionary<int, int>();
        var tokens = new List<int>();
        for (int i = 0; i < n; i++)
        {
            tokens.Clear();
            if (task.GenerateTree(rng, tokens) is null) continue;
            if (tokens.Count == 1) { leaves++; continue; }
            ops++;
            opCounts[tokens[0]] = opCounts.GetValueOrDefault(tokens[0]) + 1;
            int depth = 0, args = 0;
            foreach (var t in tokens.Skip(1).SkipLast(1))
            {
                if (depth == 0 && t != ListOpsTokens.Close) args++;
                if (t is Min or Max or Med or SumMod) depth++;
                else if (t == ListOpsTokens.Close) depth--;
            }
            children += args;
        }
        double p = leaves / (double)(leaves + ops), sd = Math.Sqrt(0.75 * 0.25 / (leaves + ops));
        Assert.InRange(p, 0.75 - 5 * sd, 0.75 + 5 * sd);
        Assert.InRange(children / (double)ops, 5.7, 6.3); // mean of U{2..10} is 6
        Assert.Equal(4, opCounts.Count);
        Assert.All(opCounts.Values, c => Assert.InRange(c / (double)ops, 0.2, 0.3));
    }

    [Fact]
    public void TrainAndTestSequencesAreDisjoint()
    {
        var task = new ListOpsTask(new ListOpsOptions(MinLength: 5, MaxLength: 60, TestFraction: 0.3));
        var train = task.Generate(new Rng(1), 200, 59, DataSplit.Train);
        var test = task.Generate(new Rng(1), 200, 59, DataSplit.Test);
        Assert.All(train, e => Assert.Equal(DataSplit.Train, task.SplitOf(e.Tokens)));
        Assert.All(test, e => Assert.Equal(DataSplit.Test, task.SplitOf(e.Tokens)));
        var trainSet = train.Select(e => string.Join(',', e.Tokens)).ToHashSet();
        Assert.DoesNotContain(test, e => trainSet.Contains(string.Join(',', e.Tokens)));
        Assert.Equal(200, trainSet.Count);
    }
}
