using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Tests.Mamba;

public sealed class StateDiagnosticsTests
{
    private const int Batch = 2, Length = 11, Bucket = 4, Vocab = 20;

    private static MambaLMHeadModel Model() => new(new MambaLMConfig
    {
        DModel = 8, NLayer = 2, VocabSize = Vocab,
        Mixer = new Mamba2Config { DModel = 8, DState = 4, HeadDim = 4, DConv = 3, ChunkSize = 4, AInitRange = (0.5, 2), DtMin = 0.05, DtMax = 0.3 },
    }, new Rng(81), Device.Cpu);

    private static Tensor Ids()
    {
        var rng = new Rng(82);
        return Tensor.From(Enumerable.Range(0, Batch * Length).Select(_ => rng.Next(Vocab)).ToArray(), new[] { Batch, Length });
    }

    [Fact]
    public void BucketStatisticsAreThoseOfTheStateAtEachBucketEnd()
    {
        var model = Model();
        var ids = Ids();
        var trace = StateDiagnostics.Run(model, ids, Bucket);
        var c = model.Config.Mixer;
        Assert.Equal((Length, Bucket, Batch, 2, c.NHeads), (trace.Length, trace.BucketSize, trace.Batch, trace.Layers, trace.Heads));
        Assert.Equal(new[] { 4, 8, 11 }, trace.Positions);
        foreach (var stat in new[] { trace.Mean, trace.Variance, trace.Rms, trace.MaxAbs, trace.MaxNorm, trace.LogRetention })
        {
            Assert.Equal(2, stat.Length);
            Assert.All(stat, layer => { Assert.Equal(3, layer.Length); Assert.All(layer, b => Assert.Equal(c.NHeads, b.Length)); });
        }

        // Independently: step token by token and summarize the state at every bucket end.
        using var noGrad = Autograd.NoGrad();
        using var cache = model.AllocateCache(Batch);
        int per = c.HeadDim * c.DState, bucket = 0;
        for (int t = 0; t < Length; t++)
        {
            model.Step(cache, Layout.Narrow(ids, 1, t, 1).Reshape(Batch));
            if (t + 1 != trace.Positions[bucket]) continue;
            for (int l = 0; l < 2; l++)
            {
                var h = cache.Layers[l].SsmState.ToArray();
                for (int hd = 0; hd < c.NHeads; hd++)
                {
                    StateTraceAssert.Matches(trace, l, bucket, hd, h, Batch, c.NHeads, per);
                }
            }
            bucket++;
        }
        Assert.Equal(3, bucket);
        Assert.True(trace.Variance[1][2].Max() > 1e-8, "the state must be non-trivial");
    }

    [Fact]
    public void RetentionOfTheFirstTokenIsTheProductOfThePerStepDecays()
    {
        var model = Model();
        var ids = Ids();
        var trace = StateDiagnostics.Run(model, ids, Bucket);

        // Layer 0's Δ_t from its input RMSNorm(embedding(ids)) through the dt rows of in_proj, then α_{1:t} = Π exp(Δ_s a).
        using var noGrad = Autograd.NoGrad();
        var mixer = model.Layers[0].Mixer;
        var c = mixer.Config;
        var zxbcdt = mixer.InProj.Forward(model.Layers[0].Norm.Forward(model.EmbeddingLayer.Forward(ids))).Data.ToArray();
        float[] bias = mixer.DtBias.Data.ToArray(), aLog = mixer.ALog.Data.ToArray();
        for (int hd = 0; hd < c.NHeads; hd++)
        {
            var products = new double[Batch];
            Array.Fill(products, 1);
            int bucket = 0;
            for (int t = 0; t < Length; t++)
            {
                for (int b = 0; b < Batch; b++)
                {
                    double raw = zxbcdt[(b * Length + t) * c.DInProj + c.DInProj - c.NHeads + hd] + (double)bias[hd];
                    products[b] *= Math.Exp(-Math.Log(1 + Math.Exp(raw)) * Math.Exp(aLog[hd]));
                }
                if (t + 1 != trace.Positions[bucket]) continue;
                double expected = products.Average(Math.Log);
                Assert.Equal(expected, trace.LogRetention[0][bucket][hd], Math.Max(1e-5, Math.Abs(expected) * 1e-5));
                bucket++;
            }
            Assert.True(trace.LogRetention[0][2][hd] < trace.LogRetention[0][0][hd], "retention decreases along the sequence");
        }
    }

    [Fact]
    public void UnderNormalizationNoHeadExceedsTheBound()
    {
        var model = Model();
        var ids = Ids();
        var plain = StateDiagnostics.Run(model, ids, Bucket);
        double bound = plain.MaxNorm.SelectMany(l => l.SelectMany(b => b)).Max() / 3;
        model.Mitigation = StateMitigation.Normalize(bound);
        var trace = StateDiagnostics.Run(model, ids, Bucket);
        Assert.Equal(StateMitigation.Normalize(bound).ToString(), trace.Mitigation);
        Assert.All(trace.MaxNorm.SelectMany(l => l.SelectMany(b => b)), n => Assert.True(n <= bound * (1 + 1e-5)));
    }

    [Fact]
    public void BadArgumentsAreClearErrors()
    {
        var model = Model();
        Assert.Contains("bucketSize", Assert.ThrowsAny<ArgumentException>(() => StateDiagnostics.Run(model, Ids(), 0)).Message);
        Assert.Contains("[batch, length]", Assert.Throws<ArgumentException>(() => StateDiagnostics.Run(model, Tensor.From(new[] { 1, 2 }, new[] { 2 }), 4)).Message);
    }
}
