using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="SsdScan.Step"/> (mamba_ssm's selective_state_update for Mamba-2's scalar
/// decay): per (batch, head), Δ = softplus(dt + dt_bias) or dt, decay = exp(Δ a), and for each row p of the state
/// s[p, :] ← decay·s[p, :] + (Δ x_p)·B, y_p = s[p, :]·C + D x_p, and optionally logDecaySum += Δ a — one pass over the
/// state, vectorized over the state dimension, parallel over (batch, head).
/// </summary>
internal static class SsdStepCpu
{
    /// <summary>State floats per parallel work chunk (smaller steps run inline).</summary>
    private const int FloatsPerChunk = 1 << 15;

    public static void Step(SsdStepDims d, Tensor state, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D,
        Tensor? dtBias, Tensor? logDecaySum, Tensor y)
    {
        float[] ss = state.Data, xs = x.Data, dts = dt.Data, As = a.Data, Bs = B.Data, Cs = C.Data, ys = y.Data;
        int so = state.Offset, xo = x.Offset, dto = dt.Offset, ao = a.Offset, bo = B.Offset, co = C.Offset, yo = y.Offset;
        int P = d.HeadDim, N = d.State;
        CpuParallel.For(d.Batch * d.Heads, Math.Max(1, FloatsPerChunk / Math.Max(1, P * N)), (i0, i1) =>
        {
            for (int bh = i0; bh < i1; bh++)
            {
                int b = bh / d.Heads, h = bh % d.Heads, bc = (b * d.Groups + d.Group(h)) * N;
                float delta = d.Delta(dts[dto + bh], dtBias is null ? 0f : dtBias.Data[dtBias.Offset + h]);
                float decay = MathF.Exp(delta * As[ao + h]), dh = D is null ? 0f : D.Data[D.Offset + h];
                if (logDecaySum is not null) logDecaySum.Data[logDecaySum.Offset + bh] += delta * As[ao + h];
                for (int p = 0; p < P; p++)
                {
                    float xp = xs[xo + bh * P + p];
                    float sc = Row(ss, so + (bh * P + p) * N, Bs, bo + bc, Cs, co + bc, N, decay, delta * xp);
                    ys[yo + bh * P + p] = sc + dh * xp;
                }
            }
        });
    }

    /// <summary>row ← decay·row + coef·b over <paramref name="n"/> floats; returns the updated row · c.</summary>
    private static float Row(float[] s, int so, float[] bs, int bo, float[] cs, int co, int n, float decay, float coef)
    {
        ref float row = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(s), so);
        ref float b = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(bs), bo);
        ref float c = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(cs), co);
        int k = 0;
        float sum = 0;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<float>.Count)
        {
            var dv = Vector512.Create(decay);
            var cv = Vector512.Create(coef);
            var acc = Vector512<float>.Zero;
            for (; k + Vector512<float>.Count <= n; k += Vector512<float>.Count)
            {
                var v = Vector512.FusedMultiplyAdd(dv, Vector512.LoadUnsafe(ref row, (nuint)k), cv * Vector512.LoadUnsafe(ref b, (nuint)k));
                v.StoreUnsafe(ref row, (nuint)k);
                acc = Vector512.FusedMultiplyAdd(v, Vector512.LoadUnsafe(ref c, (nuint)k), acc);
            }
            sum = Vector512.Sum(acc);
        }
        if (Vector256.IsHardwareAccelerated && n - k >= Vector256<float>.Count)
        {
            var dv = Vector256.Create(decay);
            var cv = Vector256.Create(coef);
            var acc = Vector256<float>.Zero;
            for (; k + Vector256<float>.Count <= n; k += Vector256<float>.Count)
            {
                var v = Vector256.FusedMultiplyAdd(dv, Vector256.LoadUnsafe(ref row, (nuint)k), cv * Vector256.LoadUnsafe(ref b, (nuint)k));
                v.StoreUnsafe(ref row, (nuint)k);
                acc = Vector256.FusedMultiplyAdd(v, Vector256.LoadUnsafe(ref c, (nuint)k), acc);
            }
            sum += Vector256.Sum(acc);
        }
        for (; k < n; k++)
        {
            ref float e = ref Unsafe.Add(ref row, k);
            e = MathF.FusedMultiplyAdd(decay, e, coef * Unsafe.Add(ref b, k));
            sum += e * Unsafe.Add(ref c, k);
        }
        return sum;
    }
}
