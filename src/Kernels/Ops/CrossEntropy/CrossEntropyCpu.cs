using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="CrossEntropy"/>: per row (parallel over rows) the log-sum-exp with
/// TensorPrimitives, then the reduction on the host in double precision (deterministic).
/// </summary>
internal static class CrossEntropyCpu
{
    private const int Chunk = 16384;

    public static void Forward(Tensor logits, Tensor targets, Tensor loss, Tensor lse, Tensor count,
        int rows, int vocab, int ignoreIndex, LossReduction reduction, float smoothing)
    {
        float[] xa = logits.Data, la = lse.Data;
        int xo = logits.Offset, lo = lse.Offset;
        var (ta, to) = IndexValidation.HostInt32(targets);
        bool none = reduction == LossReduction.None;
        float[] dst = none ? loss.Data : new float[rows];   // per-row losses
        int rlo = none ? loss.Offset : 0;
        CpuParallel.For(rows, Math.Max(1, Chunk / vocab), (s, e) =>
        {
            var scratch = new float[vocab];
            for (int r = s; r < e; r++)
            {
                var x = new ReadOnlySpan<float>(xa, xo + r * vocab, vocab);
                float m = TensorPrimitives.Max(x);
                TensorPrimitives.Subtract(x, m, scratch);
                TensorPrimitives.Exp(scratch, scratch);
                float l = m + MathF.Log(TensorPrimitives.Sum(scratch));
                la[lo + r] = l;
                int t = ta[to + r];
                if (t == ignoreIndex) dst[rlo + r] = 0f;
                else
                {
                    float smooth = smoothing > 0f ? smoothing * TensorPrimitives.Sum(x) / vocab : 0f;
                    dst[rlo + r] = l - (1f - smoothing) * x[t] - smooth;
                }
            }
        });
        int valid = 0;
        double sum = 0;
        for (int r = 0; r < rows; r++)
        {
            if (ta[to + r] != ignoreIndex) valid++;
            sum += dst[rlo + r];
        }
        count.Span[0] = valid;
        if (reduction == LossReduction.Sum) loss.Span[0] = (float)sum;
        else if (reduction == LossReduction.Mean) loss.Span[0] = valid > 0 ? (float)(sum / valid) : 0f;
    }

    public static void Backward(Tensor logits, Tensor targets, CrossEntropyResult forward, Tensor dLoss, Tensor dx, int rows, int vocab)
    {
        float[] xa = logits.Data, la = forward.LogSumExp.Data, ga = dLoss.Data, da = dx.Data;
        int xo = logits.Offset, lo = forward.LogSumExp.Offset, go = dLoss.Offset, dof = dx.Offset;
        var (ta, to) = IndexValidation.HostInt32(targets);
        int ignore = forward.IgnoreIndex;
        float eps = forward.LabelSmoothing;
        float shared = forward.Reduction switch
        {
            LossReduction.Mean => ga[go] / Math.Max(forward.ValidCount.Span[0], 1f),
            LossReduction.Sum => ga[go],
            _ => 0f,
        };
        bool perRow = forward.Reduction == LossReduction.None;
        CpuParallel.For(rows, Math.Max(1, Chunk / vocab), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var d = new Span<float>(da, dof + r * vocab, vocab);
                int t = ta[to + r];
                if (t == ignore)
                {
                    d.Clear();
                    continue;
                }
                float scale = perRow ? ga[go + r] : shared;
                TensorPrimitives.Subtract(new ReadOnlySpan<float>(xa, xo + r * vocab, vocab), la[lo + r], d);
                TensorPrimitives.Exp(d, d);
                if (eps > 0f) TensorPrimitives.Subtract(d, eps / vocab, d);
                d[t] -= 1f - eps;
                TensorPrimitives.Multiply(d, scale, d);
            }
        });
    }
}
