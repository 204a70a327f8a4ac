using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Tests.Tasks;

public sealed class MqarTests
{
    [Theory]
    [InlineData(64, 4, 8192)]
    [InlineData(128, 8, 8192)]
    [InlineData(256, 16, 512)]
    [InlineData(16, 4, 64)]
    public void ExamplesFollowZoologysLayout(int length, int pairs, int vocab)
    {
        var task = new MqarTask(new MqarOptions(vocab, pairs));
        var batch = task.Sample(new Rng(length + pairs), 32, length);
        int c = 2 * pairs;
        for (int b = 0; b < batch.Batch; b++)
        {
            var x = batch.InputRow(b);
            var y = batch.TargetRow(b);
            var keys = new int[pairs];
            var values = new Dictionary<int, int>();
            for (int i = 0; i < pairs; i++)
            {
                keys[i] = x[2 * i];
                Assert.InRange(keys[i], 1, vocab / 2 - 1);
                Assert.InRange(x[2 * i + 1], vocab / 2, vocab - 1);
                values[keys[i]] = x[2 * i + 1];
            }
            Assert.Equal(pairs, keys.Distinct().Count());
            Assert.Equal(pairs, values.Values.Distinct().Count());
            var queried = new List<int>();
            for (int t = 0; t < length; t++)
            {
                Assert.InRange(x[t], 0, vocab - 1);
                if (y[t] == TokenBatch.Ignore) continue;
                Assert.True(t >= c && (t - c) % 2 == 0, $"label at position {t}");
                Assert.True(values.ContainsKey(x[t]), $"query {x[t]} at {t} is not a context key");
                Assert.Equal(values[x[t]], y[t]);
                queried.Add(x[t]);
            }
            Assert.Equal(keys.Order(), queried.Order()); // every key queried exactly once
            Assert.All(y[..c].ToArray(), v => Assert.Equal(TokenBatch.Ignore, v));
        }
    }

    [Fact]
    public void WithoutRandomFillNonQueriesAreZero()
    {
        var task = new MqarTask(new MqarOptions(VocabSize: 100, NumKvPairs: 3, RandomNonQueries: false));
        var batch = task.Sample(new Rng(1), 8, 24);
        for (int i = 0; i < batch.Inputs.Length; i++)
        {
            int t = i % 24;
            if (t >= 6 && batch.Targets[i] == TokenBatch.Ignore) Assert.Equal(0, batch.Inputs[i]);
        }
    }

    [Fact]
    public void GapWeightsAreZoologysPowerLaw()
    {
        var task = new MqarTask(new MqarOptions(NumKvPairs: 4, PowerA: 0.01));
        var w = task.GapWeights(64);
        Assert.Equal((64 - 8) / 2, w.Length);
        for (int g = 0; g < w.Length; g++) Assert.Equal(0.01 * Math.Pow(g + 1, 0.01 - 1), w[g], 15);
    }

    [Fact]
    public void WeightedDrawsFollowTheWeights()
    {
        var weights = new[] { 4.0, 2.0, 1.0, 1.0 };
        var counts = new int[4];
        var rng = new Rng(3);
        const int n = 40_000;
        for (int i = 0; i < n; i++) counts[MqarTask.WeightedWithoutReplacement(rng, weights, 1)[0]]++;
        for (int j = 0; j < 4; j++)
        {
            double p = weights[j] / 8, sd = Math.Sqrt(p * (1 - p) / n);
            Assert.InRange(counts[j] / (double)n, p - 5 * sd, p + 5 * sd);
        }
        // Without replacement: all distinct; drawing every index returns a permutation.
        var all = MqarTask.WeightedWithoutReplacement(rng, weights, 4);
        Assert.Equal(new[] { 0, 1, 2, 3 }, all.Order());
        // Second draw given the first is ∝ the remaining weights: P(second = 1 | first = 0) = 2/4.
        int firstZero = 0, thenOne = 0;
        for (int i = 0; i < n; i++)
        {
            var d = MqarTask.WeightedWithoutReplacement(rng, weights, 2);
            if (d[0] != 0) continue;
            firstZero++;
            if (d[1] == 1) thenOne++;
        }
        double q = 0.5, s = Math.Sqrt(q * (1 - q) / firstZero);
        Assert.InRange(thenOne / (double)firstZero, q - 5 * s, q + 5 * s);
    }

    [Fact]
    public void QueriesClusterNearTheContextUnderThePowerLaw()
    {
        var skewed = new MqarTask(new MqarOptions(VocabSize: 1024, NumKvPairs: 4, PowerA: 0.01));
        var uniform = new MqarTask(new MqarOptions(VocabSize: 1024, NumKvPairs: 4, PowerA: 1.0));
        double MeanQueryPosition(MqarTask t)
        {
            var batch = t.Sample(new Rng(2), 200, 256);
            var pos = Enumerable.Range(0, batch.Targets.Length).Where(i => batch.Targets[i] != TokenBatch.Ignore).Select(i => i % 256).ToArray();
            return pos.Average();
        }
        // Uniform gaps over [0, 124): mean position ≈ 8 + 2·61.5 = 131; the power law pulls queries forward.
        Assert.InRange(MeanQueryPosition(uniform), 120, 142);
        Assert.True(MeanQueryPosition(skewed) < 110);
    }
}
