using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>Managed CPU implementations of <see cref="OptimizerOps"/> (Vector256 + FMA over Parallel.For chunks).</summary>
internal static class OptimizerOpsCpu
{
    private const int Chunk = 16384;

    public static void AdamW(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, AdamWCoefficients c)
    {
        float[] pa = param.Data, ga = grad.Data, ma = expAvg.Data, va = expAvgSq.Data;
        int po = param.Offset, go = grad.Offset, mo = expAvg.Offset, vo = expAvgSq.Offset;
        CpuParallel.For(param.Length, Chunk, (s, e) =>
        {
            int i = s;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> b1 = Vector256.Create(c.Beta1), omb1 = Vector256.Create(c.OneMinusBeta1),
                    b2 = Vector256.Create(c.Beta2), omb2 = Vector256.Create(c.OneMinusBeta2), decay = Vector256.Create(c.Decay),
                    negStep = Vector256.Create(-c.StepSize), invBc2 = Vector256.Create(c.InvSqrtBc2), eps = Vector256.Create(c.Eps);
                for (; i + 8 <= e; i += 8)
                {
                    var g = Load(ga, go + i);
                    var m = Vector256.FusedMultiplyAdd(b1, Load(ma, mo + i), omb1 * g);
                    var v = Vector256.FusedMultiplyAdd(b2, Load(va, vo + i), omb2 * g * g);
                    var denom = Vector256.FusedMultiplyAdd(Vector256.Sqrt(v), invBc2, eps);
                    var p = Vector256.FusedMultiplyAdd(negStep, m / denom, Load(pa, po + i) * decay);
                    m.CopyTo(new Span<float>(ma, mo + i, 8));
                    v.CopyTo(new Span<float>(va, vo + i, 8));
                    p.CopyTo(new Span<float>(pa, po + i, 8));
                }
            }
            for (; i < e; i++)
            {
                float g = ga[go + i];
                float m = ma[mo + i] = c.Moment1(ma[mo + i], g);
                float v = va[vo + i] = c.Moment2(va[vo + i], g);
                pa[po + i] = c.Param(pa[po + i], m, v);
            }
        });
    }

    public static void Sgd(Tensor param, Tensor grad, Tensor? buffer, SgdCoefficients c)
    {
        float[] pa = param.Data, ga = grad.Data;
        float[]? ba = buffer?.Data;
        int po = param.Offset, go = grad.Offset, bo = buffer?.Offset ?? 0;
        CpuParallel.For(param.Length, Chunk, (s, e) =>
        {
            int i = s;
            if (Vector256.IsHardwareAccelerated)
            {
                Vector256<float> negLr = Vector256.Create(-c.Lr), wd = Vector256.Create(c.WeightDecay),
                    mu = Vector256.Create(c.Momentum), omd = Vector256.Create(c.OneMinusDampening);
                for (; i + 8 <= e; i += 8)
                {
                    var p = Load(pa, po + i);
                    var d = Vector256.FusedMultiplyAdd(wd, p, Load(ga, go + i));
                    if (ba is not null)
                    {
                        var b = c.FirstStep != 0 ? d : Vector256.FusedMultiplyAdd(mu, Load(ba, bo + i), omd * d);
                        b.CopyTo(new Span<float>(ba, bo + i, 8));
                        d = c.Nesterov != 0 ? Vector256.FusedMultiplyAdd(mu, b, d) : b;
                    }
                    Vector256.FusedMultiplyAdd(negLr, d, p).CopyTo(new Span<float>(pa, po + i, 8));
                }
            }
            float unused = 0f;
            for (; i < e; i++)
            {
                ref float b = ref ba is null ? ref unused : ref ba[bo + i];
                pa[po + i] -= c.Lr * c.Direction(pa[po + i], ga[go + i], ref b);
            }
        });
    }

    public static void AddSumOfSquares(Tensor x, Tensor total)
    {
        float[] xa = x.Data;
        int xo = x.Offset, n = x.Length;
        int chunks = (n + Chunk - 1) / Chunk;
        var partial = new double[chunks];
        CpuParallel.For(chunks, 1, (s, e) =>
        {
            for (int k = s; k < e; k++)
            {
                int start = k * Chunk;
                partial[k] = TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(xa, xo + start, Math.Min(Chunk, n - start)));
            }
        });
        double sum = 0;
        foreach (var v in partial) sum += v;
        total.Data[total.Offset] += (float)sum;
    }

    private static Vector256<float> Load(float[] a, int i) => Vector256.Create(new ReadOnlySpan<float>(a, i, 8));
}
