using Ssm.Kernels;

namespace Ssm.Inference;

// State-collapse diagnostics (Chen et al., "Stuffed Mamba", Section 4; thunlp/stuffed-mamba analysis/analyze_states.py
// and get_dA.py): run the model over a sequence bucket by bucket (chunked prefill with the state captured after each
// bucket) and record, per layer and head, statistics of the recurrent state at the end of every bucket — mean,
// variance and RMS over the head's elements (population variance, averaged over the sequences of the batch), the
// largest |element| and the largest head norm ‖h‖_F over the batch — and the retention of the first token α_{1:t}, kept
// as its logarithm. The model says what a head is and supplies both (IStateTracedLanguageModel):
//   Mamba-2: a head's headdim × d_state elements; ln α_{1:t} = Σ_s Δ_s a (input-dependent Δ). Under the sliding-window
//            mitigation the statistics are those of the state the output reads (h_t − α_{t−r+1:t} h_{t−r}); the
//            retention is always that of the full recurrence.
//   S4D:     a channel's N/2 complex modes as N real numbers (re, im); the decay is time-invariant, so
//            ln α_{1:t} = t · max_n ln|Ā_n|, the retention in the channel's slowest-decaying mode (an upper bound on
//            what the first token keeps in any of its modes).

/// <summary>
/// Statistics of every layer's recurrent state along a sequence, at the end of each bucket of tokens. Arrays are
/// indexed [layer][bucket][head].
/// </summary>
public sealed record StateTrace
{
    /// <summary>Tokens in the sequence.</summary>
    public int Length { get; init; }

    /// <summary>Tokens per bucket (the last bucket may be shorter).</summary>
    public int BucketSize { get; init; }

    /// <summary>Sequences averaged over.</summary>
    public int Batch { get; init; }

    /// <summary>Number of layers.</summary>
    public int Layers { get; init; }

    /// <summary>Heads per layer.</summary>
    public int Heads { get; init; }

    /// <summary>What a head is: <c>head</c> (Mamba-2: headdim × d_state elements) or <c>channel</c> (S4D: N/2 complex modes as N reals).</summary>
    public string HeadUnit { get; init; } = "head";

    /// <summary>The mitigation the model ran with (command-line spelling).</summary>
    public string Mitigation { get; init; } = "none";

    /// <summary>Tokens consumed at the end of each bucket.</summary>
    public int[] Positions { get; init; } = Array.Empty<int>();

    /// <summary>Mean of the head's state elements.</summary>
    public double[][][] Mean { get; init; } = Array.Empty<double[][]>();

    /// <summary>Population variance of the head's state elements.</summary>
    public double[][][] Variance { get; init; } = Array.Empty<double[][]>();

    /// <summary>Root mean square of the head's state elements (‖h‖_F / √(elements per head)).</summary>
    public double[][][] Rms { get; init; } = Array.Empty<double[][]>();

    /// <summary>Largest |element| of the head's state over the batch.</summary>
    public double[][][] MaxAbs { get; init; } = Array.Empty<double[][]>();

    /// <summary>Largest Frobenius norm ‖h‖_F of the head's state over the batch (what state normalization bounds).</summary>
    public double[][][] MaxNorm { get; init; } = Array.Empty<double[][]>();

    /// <summary>
    /// ln α_{1:t}, the log-retention of the first token, averaged over the batch: Σ_s Δ_s a for a Mamba-2 head,
    /// t · max_n ln|Ā_n| (the slowest mode) for an S4D channel.
    /// </summary>
    public double[][][] LogRetention { get; init; } = Array.Empty<double[][]>();

    /// <summary>One value per bucket for <paramref name="layer"/>: the mean over heads of <paramref name="stat"/>.</summary>
    public static double[] HeadMean(double[][][] stat, int layer) => stat[layer].Select(heads => heads.Average()).ToArray();
}

/// <summary>Runs a recurrent language model over a sequence and records its <see cref="StateTrace"/>.</summary>
public static class StateDiagnostics
{
    /// <summary>
    /// Runs <paramref name="model"/> (a Mamba-2 model with its current mitigation, or an S4D model) over token ids
    /// [batch, length] in buckets of <paramref name="bucketSize"/> tokens (chunked prefill with the state carried), from
    /// a fresh state, without gradients.
    /// </summary>
    public static StateTrace Run(IStateTracedLanguageModel model, Tensor inputIds, int bucketSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputIds);
        Guard.Rank("StateDiagnostics.Run", inputIds, "input_ids", 2, "[batch, length]");
        Guard.Positive("StateDiagnostics.Run", nameof(bucketSize), bucketSize);
        int batch = inputIds.Size(0), length = inputIds.Size(1), layers = model.StateLayers;
        Guard.Positive("StateDiagnostics.Run", "length", length);
        int heads = model.StateHeads, per = model.StateHeadSize, buckets = (length + bucketSize - 1) / bucketSize;
        double[][][] New() => Enumerable.Range(0, layers).Select(_ => Enumerable.Range(0, buckets).Select(_ => new double[heads]).ToArray()).ToArray();
        var (mean, variance, rms, maxAbs, maxNorm, logRetention) = (New(), New(), New(), New(), New(), New());
        var positions = new int[buckets];

        using var noGrad = Autograd.NoGrad();
        using var cache = model.AllocateInferenceCache(batch);
        for (int k = 0; k < buckets; k++)
        {
            using var scope = TensorScope.Begin();
            int start = k * bucketSize, len = Math.Min(bucketSize, length - start);
            model.Forward(Layout.Narrow(inputIds, 1, start, len), cache);
            positions[k] = start + len;
            for (int l = 0; l < layers; l++)
            {
                var h = model.TracedState(cache, l).ToArray();
                var lr = model.TracedLogRetention(cache, l).ToArray();
                if (h.Length != batch * heads * per || lr.Length != batch * heads)
                    throw new InvalidOperationException(
                        $"StateDiagnostics.Run: layer {l} of {model.GetType().Name} gave a state of {h.Length} and a retention of {lr.Length} values, expected [{batch}, {heads}, {per}] and [{batch}, {heads}].");
                for (int hd = 0; hd < heads; hd++)
                {
                    double m = 0, v = 0, sq = 0, mx = 0, norm = 0, ret = 0;
                    for (int b = 0; b < batch; b++)
                    {
                        var e = h.AsSpan((b * heads + hd) * per, per);
                        double sum = 0, sumSq = 0, big = 0;
                        foreach (var x in e)
                        {
                            sum += x;
                            sumSq += (double)x * x;
                            big = Math.Max(big, Math.Abs(x));
                        }
                        double mu = sum / per, dev = 0;
                        foreach (var x in e) dev += (x - mu) * (x - mu);
                        m += mu;
                        v += dev / per;
                        sq += Math.Sqrt(sumSq / per);
                        mx = Math.Max(mx, big);
                        norm = Math.Max(norm, Math.Sqrt(sumSq));
                        ret += lr[b * heads + hd];
                    }
                    mean[l][k][hd] = m / batch;
                    variance[l][k][hd] = v / batch;
                    rms[l][k][hd] = sq / batch;
                    maxAbs[l][k][hd] = mx;
                    maxNorm[l][k][hd] = norm;
                    logRetention[l][k][hd] = ret / batch;
                }
            }
        }
        return new StateTrace
        {
            Length = length, BucketSize = bucketSize, Batch = batch, Layers = layers, Heads = heads, HeadUnit = model.StateHeadUnit,
            Mitigation = model.StateMitigationName,
            Positions = positions, Mean = mean, Variance = variance, Rms = rms, MaxAbs = maxAbs, MaxNorm = maxNorm, LogRetention = logRetention,
        };
    }
}
