using System.Numerics;
using Ssm.Inference;
using Ssm.Kernels;
using Ssm.S4;

namespace Ssm.Tests.S4;

public sealed class S4DStateDiagnosticsTests
{
    private const int Batch = 2, Length = 11, Bucket = 4, Vocab = 13, Width = 6, DState = 8;

    private static S4DLanguageModel Model(Discretization discretization = Discretization.Zoh) => new(new S4DLanguageModelConfig
    {
        VocabSize = Vocab, DModel = Width, NLayers = 2, DState = DState, DtMin = 0.05, DtMax = 0.5, Discretization = discretization,
    }, new Rng(91), Device.Cpu);

    private static Tensor Ids()
    {
        var rng = new Rng(92);
        return Tensor.From(Enumerable.Range(0, Batch * Length).Select(_ => rng.Next(Vocab)).ToArray(), new[] { Batch, Length });
    }

    [Fact]
    public void BucketStatisticsAreThoseOfEachChannelsStateAtEachBucketEnd()
    {
        using var model = Model();
        var ids = Ids();
        var trace = StateDiagnostics.Run(model, ids, Bucket);
        Assert.Equal((Length, Bucket, Batch, 2, Width, "channel", "none"),
            (trace.Length, trace.BucketSize, trace.Batch, trace.Layers, trace.Heads, trace.HeadUnit, trace.Mitigation));
        Assert.Equal(new[] { 4, 8, 11 }, trace.Positions);
        foreach (var stat in new[] { trace.Mean, trace.Variance, trace.Rms, trace.MaxAbs, trace.MaxNorm, trace.LogRetention })
        {
            Assert.Equal(2, stat.Length);
            Assert.All(stat, layer => { Assert.Equal(3, layer.Length); Assert.All(layer, b => Assert.Equal(Width, b.Length)); });
        }

        // Independently: step the recurrent form token by token and summarize each channel's N/2 complex modes, as N
        // reals (re, im), at every bucket end.
        using var noGrad = Autograd.NoGrad();
        using var cache = model.AllocateCache(Batch);
        int bucket = 0;
        for (int t = 0; t < Length; t++)
        {
            model.Step(cache, Layout.Narrow(ids, 1, t, 1).Reshape(Batch));
            if (t + 1 != trace.Positions[bucket]) continue;
            for (int l = 0; l < 2; l++)
            {
                var x = cache.Layers[l].State.ToArray(); // [batch, H, N/2, 2]
                for (int h = 0; h < Width; h++)
                {
                    StateTraceAssert.Matches(trace, l, bucket, h, x, Batch, Width, DState);
                }
            }
            bucket++;
        }
        Assert.Equal(3, bucket);
        Assert.True(trace.Variance[1][2].Min() > 1e-8, "the state must be non-trivial");
    }

    [Theory]
    [InlineData(Discretization.Zoh)]
    [InlineData(Discretization.Bilinear)]
    public void RetentionOfTheFirstTokenIsTheSlowestModesDecayToTheT(Discretization discretization)
    {
        using var model = Model(discretization);
        var trace = StateDiagnostics.Run(model, Ids(), Bucket);

        // Closed form from the parameters: |Ā_n| = |e^{ΔA_n}| (ZOH) or |(1 + ΔA_n/2)/(1 − ΔA_n/2)| (bilinear), with
        // A_n = −exp(log_A_real) + i·A_imag; α_{1:t} = (max_n |Ā_n|)^t.
        for (int l = 0; l < 2; l++)
        {
            var kernel = model.Layers[l].Mixer.Kernel;
            float[] logDt = kernel.LogDt.Data.ToArray(), logARe = kernel.LogAReal.Data.ToArray(), aIm = kernel.AImag.Data.ToArray();
            for (int h = 0; h < Width; h++)
            {
                double dt = Math.Exp(logDt[h]), slowest = double.NegativeInfinity;
                for (int n = 0; n < DState / 2; n++)
                {
                    var dtA = dt * new Complex(-Math.Exp(logARe[h * DState / 2 + n]), aIm[h * DState / 2 + n]);
                    var aBar = discretization == Discretization.Zoh ? Complex.Exp(dtA) : (1 + dtA / 2) / (1 - dtA / 2);
                    slowest = Math.Max(slowest, Math.Log(aBar.Magnitude));
                }
                Assert.True(slowest < 0, "every mode decays");
                for (int k = 0; k < trace.Positions.Length; k++)
                {
                    double expected = trace.Positions[k] * slowest;
                    Assert.Equal(expected, trace.LogRetention[l][k][h], Math.Abs(expected) * 1e-5);
                }
            }
        }
    }

    [Fact]
    public void TheTracedStateIsTheCachesStateAsChannelsOfNReals()
    {
        using var model = Model();
        IStateTracedLanguageModel traced = model;
        Assert.Equal((2, Width, DState), (traced.StateLayers, traced.StateHeads, traced.StateHeadSize));
        using var noGrad = Autograd.NoGrad();
        using var cache = model.AllocateCache(Batch);
        model.Forward(Layout.Narrow(Ids(), 1, 0, 5), cache);
        var state = traced.TracedState(cache, 1);
        Assert.Equal(new[] { Batch, Width, DState }, state.Shape.ToArray());
        Assert.Equal(cache.Layers[1].State.ToArray(), state.ToArray());
        Assert.Equal(new[] { Batch, Width }, traced.TracedLogRetention(cache, 1).Shape.ToArray());
    }
}
