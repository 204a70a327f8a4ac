using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Tests.Tasks;

public sealed class IcllTests
{
    private static IcllTask Task => TaskFixtures.Icll;

    // Independent of Dfa.Minimize: states p and q are equivalent when every pair reachable from (p, q) by a common
    // word offers the same letters (all states accept; a missing edge rejects).
    private static bool Equivalent(Dfa a, int p, Dfa b, int q)
    {
        var seen = new HashSet<(int, int)> { (p, q) };
        var stack = new Stack<(int, int)>();
        stack.Push((p, q));
        while (stack.Count > 0)
        {
            var (s, t) = stack.Pop();
            for (int c = 0; c < Dfa.MaxSymbols; c++)
            {
                int s2 = a.Next(s, c), t2 = b.Next(t, c);
                if ((s2 < 0) != (t2 < 0)) return false;
                if (s2 >= 0 && seen.Add((s2, t2))) stack.Push((s2, t2));
            }
        }
        return true;
    }

    private static bool[] ReachableByWalk(Dfa dfa)
    {
        var seen = new bool[dfa.NumStates];
        var stack = new Stack<int>();
        stack.Push(0);
        seen[0] = true;
        while (stack.Count > 0)
        {
            int s = stack.Pop();
            foreach (var e in dfa.Edges.Where(e => e[0] == s))
                if (!seen[e[2]]) { seen[e[2]] = true; stack.Push(e[2]); }
        }
        return seen;
    }

    [Fact]
    public void EveryDfaMeetsEveryStatedConstraint()
    {
        foreach (var dfa in Task.TrainDfas.Concat(Task.TestDfas))
        {
            Assert.InRange(dfa.NumStates, 4, 12);
            Assert.InRange(dfa.Alphabet.Length, 4, 18);
            Assert.Equal(dfa.Alphabet.Length, dfa.Alphabet.Distinct().Count());
            Assert.All(dfa.Alphabet, a => Assert.InRange(a, 0, 17));
            for (int s = 0; s < dfa.NumStates; s++)
            {
                var edges = dfa.Edges.Where(e => e[0] == s).ToArray();
                Assert.InRange(edges.Length, 1, 3);
                Assert.Equal(edges.Length, edges.Select(e => e[1]).Distinct().Count());
                Assert.Equal(edges.Length, edges.Select(e => e[2]).Distinct().Count());
                Assert.All(edges, e => Assert.NotEqual(s, e[2]));
                Assert.All(edges, e => Assert.Contains(e[1], dfa.Alphabet));
            }
            Assert.All(ReachableByWalk(dfa), Assert.True);
            for (int p = 0; p < dfa.NumStates; p++)
                for (int q = p + 1; q < dfa.NumStates; q++)
                    Assert.False(Equivalent(dfa, p, dfa, q), $"states {p} and {q} of {dfa} are equivalent");
        }
    }

    [Fact]
    public void DfasAreDistinctAndTrainTestAreDisjointLanguages()
    {
        Assert.Equal(300, Task.TrainDfas.Count);
        Assert.Equal(60, Task.TestDfas.Count);
        var all = Task.TrainDfas.Concat(Task.TestDfas).ToArray();
        for (int i = 0; i < all.Length; i++)
            for (int j = i + 1; j < all.Length; j++)
                Assert.False(Equivalent(all[i], 0, all[j], 0), $"DFAs {i} and {j} accept the same language");
    }

    [Fact]
    public void PoolIsAPureFunctionOfTheOptions()
    {
        var o = new IcllOptions(TrainDfas: 40, TestDfas: 10, DfaSeed: 3);
        var a = new IcllTask(o);
        var b = new IcllTask(o);
        var c = new IcllTask(o with { DfaSeed = 4 });
        Assert.Equal(a.TrainDfas.Select(d => d.Key()), b.TrainDfas.Select(d => d.Key()));
        Assert.Equal(a.TestDfas.Select(d => d.Key()), b.TestDfas.Select(d => d.Key()));
        Assert.NotEqual(a.TrainDfas.Select(d => d.Key()), c.TrainDfas.Select(d => d.Key()));
    }

    [Fact]
    public void MinimizeMergesEquivalentStatesAndCanonicalizesLabels()
    {
        // 0 -a-> 1 -a-> 0: both states offer only 'a' → one state with a self-loop.
        var loop = new Dfa(2, new[] { 0 }, new[] { new[] { 0, 0, 1 }, new[] { 1, 0, 0 } }).Minimize();
        Assert.Equal(1, loop.NumStates);
        Assert.Equal(new[] { 0, 0, 0 }, loop.Edges.Single());
        // The same language under two labellings (and an unreachable state) gives one key.
        var x = new Dfa(4, new[] { 0, 1, 2 }, new[] { new[] { 0, 1, 1 }, new[] { 0, 2, 2 }, new[] { 1, 0, 0 }, new[] { 2, 1, 0 }, new[] { 3, 0, 0 } });
        var y = new Dfa(3, new[] { 0, 1, 2 }, new[] { new[] { 0, 1, 2 }, new[] { 0, 2, 1 }, new[] { 2, 0, 0 }, new[] { 1, 1, 0 } });
        Assert.Equal(x.Minimize().Key(), y.Minimize().Key());
        Assert.Equal(3, x.Minimize().NumStates);
        Assert.NotEqual(x.Minimize().Key(), new Dfa(3, new[] { 0, 1, 2 }, new[] { new[] { 0, 1, 2 }, new[] { 0, 2, 1 }, new[] { 2, 0, 0 }, new[] { 1, 0, 0 } }).Minimize().Key());
    }

    [Fact]
    public void PromptsAreWalksOfTheDfaInTheStatedRanges()
    {
        var rng = new Rng(21);
        for (int i = 0; i < 30; i++)
        {
            var e = Task.Generate(rng, 1024, i % 2 == 0 ? DataSplit.Train : DataSplit.Test);
            Assert.Same(e.Dfa, Task.Dfas(i % 2 == 0 ? DataSplit.Train : DataSplit.Test)[e.DfaIndex]);
            var strings = Split(e.Tokens);
            Assert.InRange(strings.Count, 10, 19);
            foreach (var s in strings)
            {
                Assert.InRange(s.Length, 1, 49);
                Assert.True(e.Dfa.Accepts(s));
            }
        }
    }

    private static List<int[]> Split(int[] tokens)
    {
        var list = new List<int[]>();
        var cur = new List<int>();
        foreach (var t in tokens)
        {
            if (t == IcllTask.Separator) { list.Add(cur.ToArray()); cur.Clear(); }
            else cur.Add(t);
        }
        list.Add(cur.ToArray());
        return list;
    }

    [Fact]
    public void OnePromptPerTestDfaCoversTheTestPoolInOrder()
    {
        var set = Task.OnePromptPerDfa(new Rng(1), DataSplit.Test);
        Assert.Equal(Task.TestDfas.Count, set.Count);
        for (int i = 0; i < set.Count; i++)
        {
            Assert.Equal(i, set[i].DfaIndex);
            Assert.Same(Task.TestDfas[i], set[i].Dfa);
        }
        var batch = Task.Collate(set.Take(8).ToArray(), Task.MaxInputLength);
        Assert.Equal(8, batch.Batch);
        Assert.Equal(Task.OnePromptPerDfa(new Rng(1), DataSplit.Test)[5].Tokens, set[5].Tokens);
    }

    [Fact]
    public void MaxInputLengthHoldsTheLongestPrompt()
    {
        Assert.Equal(19 * 49 + 18 - 1, Task.MaxInputLength);
        var rng = new Rng(6);
        for (int i = 0; i < 50; i++) Assert.True(Task.Generate(rng, 0).Tokens.Length - 1 <= Task.MaxInputLength);
    }

    [Fact]
    public void TargetsAreNextTokensWithSeparatorsAndPaddingIgnored()
    {
        var batch = Task.Sample(new Rng(4), 4, 300);
        var examples = Task.Examples(batch);
        for (int b = 0; b < 4; b++)
        {
            var tokens = examples[b].Tokens;
            int valid = batch.ValidLength(b);
            Assert.Equal(Math.Min(tokens.Length - 1, 300), valid);
            for (int t = 0; t < 300; t++)
            {
                int x = batch.Inputs[b * 300 + t], y = batch.Targets[b * 300 + t];
                if (t >= valid) { Assert.Equal(IcllTask.Pad, x); Assert.Equal(TokenBatch.Ignore, y); continue; }
                Assert.Equal(tokens[t], x);
                Assert.Equal(tokens[t + 1] == IcllTask.Separator ? TokenBatch.Ignore : tokens[t + 1], y);
            }
        }
    }

    // The state of the current string at each input position, walked by the test itself.
    private static int[] States(TokenBatch batch, int row, Dfa dfa)
    {
        var states = new int[batch.Length];
        int s = 0;
        for (int t = 0; t < batch.ValidLength(row); t++)
        {
            int x = batch.Inputs[row * batch.Length + t];
            s = x == IcllTask.Separator ? 0 : dfa.Edges.Single(e => e[0] == s && e[1] == x)[2];
            states[t] = s;
        }
        return states;
    }

    [Fact]
    public void OracleScoresOneAndUniformGuessingScoresItsExactExpectation()
    {
        var batch = Task.Sample(new Rng(8), 16, 600, DataSplit.Test);
        var examples = Task.Examples(batch);
        var oracle = new int[batch.Inputs.Length];
        var guess = new int[batch.Inputs.Length];
        var rng = new Rng(99);
        double expected = 0;
        long scored = 0;
        for (int b = 0; b < batch.Batch; b++)
        {
            var dfa = examples[b].Dfa;
            var states = States(batch, b, dfa);
            for (int t = 0; t < batch.Length; t++)
            {
                int i = b * batch.Length + t;
                guess[i] = rng.Next(Dfa.MaxSymbols);
                if (batch.Targets[i] == TokenBatch.Ignore) continue;
                var legal = dfa.Edges.Where(e => e[0] == states[t]).Select(e => e[1]).ToArray();
                oracle[i] = legal[^1]; // any legal letter, not necessarily the next one
                expected += legal.Length / 18.0;
                scored++;
            }
        }
        Assert.Equal(1.0, Task.Score(batch, oracle).Value);
        double p = expected / scored;
        Assert.Equal(p, Task.ChanceLevel(batch).Value, 12);
        var uniform = Task.Score(batch, guess);
        Assert.Equal(scored, uniform.Count);
        double sd = Math.Sqrt(p * (1 - p) / scored);
        Assert.InRange(uniform.Value, p - 4 * sd, p + 4 * sd);
    }

    [Fact]
    public void NGramBackoffFollowsTheCountsOfThePrompt()
    {
        // Prompt "ab|ab|a" (a = 0, b = 1, c = 2) then "c": after "_a" the trigram "_ab" was seen twice → 'b'.
        int a = 0, b = 1, c = 2, bar = IcllTask.Separator;
        var tokens = new[] { a, b, bar, a, b, bar, a, c, bar, a };
        var batch = new TokenBatch(tokens, Enumerable.Repeat(0, tokens.Length).ToArray(), 1, tokens.Length);
        var pred = IcllBaselines.NGramBackoff(batch, 3);
        Assert.Equal(b, pred[6]); // "ab|ab|a": P3(b | _a) = 2/3
        Assert.Equal(b, pred[9]); // "ab|ab|ac|a": P3(b | _a) = 2/4, P3(c | _a) = 1/4
        // After "ab|ab|ac|" the prefix is "__": first letters seen are a, a, a → 'a'.
        Assert.Equal(a, pred[8]);
        // After "a" at the very start nothing follows "_a" yet: back off to bigram "a?" (none) then unigram → 'a'.
        Assert.Equal(a, pred[0]);
    }

    private static TokenBatch Letters(string text)
    {
        var tokens = text.Select(ch => ch == '|' ? IcllTask.Separator : ch - 'a').ToArray();
        return new TokenBatch(tokens, new int[tokens.Length], 1, tokens.Length);
    }

    // Expected argmax of seq_icl's predict_with_n_gram_back_off (backoff on, no add-one) at every position of one
    // prompt, computed by an independent Python restatement of that function (ties: the lowest letter).
    [Theory]
    [InlineData(1, "bbcbccccccaaaaaaaaaaaaaaaaaaaddaaaaaaaaaaaaccaaaaaaaaaaaaaaaaaaa")]
    [InlineData(2, "bbbbbbcccccaacacaacdcabacadaaaabcacdacdabdddcdadaadccaeeaeeaeceb")]
    [InlineData(3, "bbbbbbcccccaaaacdacdcabccaaaaaadcacdacdacdbbbdadaadbcaddadeadcec")]
    [InlineData(4, "bbbbbbccccaaaaacdacdcabccaaaaaadcaccacdacdbbcdadbadbcaddadeadcec")]
    public void NGramBackoffMatchesTheReferenceAlgorithm(int n, string expected)
    {
        var batch = Letters("bccbc|a|daadda|adcacb|adbdc|dd|ab|bc|ba|bcccba|adecbb|aa|ab|aebc");
        var pred = IcllBaselines.NGramBackoff(batch, n);
        Assert.Equal(expected, string.Concat(pred.Select(IcllTask.TokenChar)));
    }

    // Expected argmax of seq_icl's induction_head(shift_step=1, ngram=n) attention pattern (its mask built in the
    // reference's matrix form by an independent Python restatement), backing off to n−1, …, 1 and the unigram where a
    // row of the mask is empty.
    [Theory]
    [InlineData(1, "bbbcbccac||aaaa|abdacadacabaaaadcacbacdac|||cda|aabccadda|ca|ccb")]
    [InlineData(2, "bbbccccac||aaad|dbdacadccaaaaaadcaccacdaa|bbc|adbabacaddad|adccc")]
    [InlineData(3, "bbbccccac||aaad|dbdacadccaaaaaadcaccacdaa|bbc|bdbabacaddad|baccc")]
    public void NGramHeadMatchesTheReferenceAttentionPattern(int n, string expected)
    {
        var batch = Letters("bccbc|a|daadda|adcacb|adbdc|dd|ab|bc|ba|bcccba|adecbb|aa|ab|aebc");
        var pred = IcllBaselines.NGramHead(batch, n);
        Assert.Equal(expected, string.Concat(pred.Select(IcllTask.TokenChar)));
    }

    [Fact]
    public void NGramHeadPredictsWhatFollowedEarlierMatches()
    {
        int a = 0, b = 1, c = 2, d = 3;
        // a b c a b d a b ? — the last 2 tokens "a b" were followed by c and d (tie → lowest id, c).
        var tokens = new[] { a, b, c, a, b, d, a, b };
        var batch = new TokenBatch(tokens, new int[tokens.Length], 1, tokens.Length);
        var pred = IcllBaselines.NGramHead(batch, 2);
        Assert.Equal(c, pred[7]);
        Assert.Equal(c, pred[4]); // "a b" seen once before, followed by c
        // Position 3 ("…c a"): no earlier "c a"; back off to "a" → followed by b.
        Assert.Equal(b, pred[3]);
    }

    [Fact]
    public void BaselinesBeatChanceByFar()
    {
        var batch = Task.Sample(new Rng(13), 8, 800, DataSplit.Test);
        double chance = Task.ChanceLevel(batch).Value;
        double ngram = Task.Score(batch, IcllBaselines.NGramBackoff(batch)).Value;
        double head = Task.Score(batch, IcllBaselines.NGramHead(batch)).Value;
        Assert.InRange(chance, 0.05, 0.2);
        Assert.True(ngram > 0.8, $"3-gram back-off DFA accuracy {ngram}");
        Assert.True(head > 0.8, $"3-gram head DFA accuracy {head}");
    }

    [Fact]
    public void DfaRejectsInvalidDefinitions()
    {
        Assert.Contains("two edges", Assert.Throws<ArgumentException>(() => new Dfa(2, new[] { 0 }, new[] { new[] { 0, 0, 1 }, new[] { 0, 0, 0 } })).Message);
        Assert.Contains("not in the alphabet", Assert.Throws<ArgumentException>(() => new Dfa(2, new[] { 0 }, new[] { new[] { 0, 1, 1 } })).Message);
        Assert.ThrowsAny<ArgumentException>(() => new Dfa(2, new[] { 0 }, new[] { new[] { 0, 0, 2 } }));
    }
}
