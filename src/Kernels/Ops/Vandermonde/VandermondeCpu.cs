using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Vandermonde"/>. Per mode n, l = B·j + r with B = 64: a power table
/// W_r = e^{dtA·r} (r &lt; B, float) and an anchor P_j = e^{dtA·B·j} advanced in double precision (P ← P·e^{dtA·B},
/// relative error ~ j·1e-16), so K[B·j + r] += Re(P_j·W_r) is two SIMD multiply-adds per element. Once the anchor of a
/// decaying mode falls below float's range its remaining contributions are zero and the mode stops early.
/// </summary>
internal static class VandermondeCpu
{
    private const int Block = 64;
    private static readonly int Width = Vector256<float>.Count;

    public static void Kernel(Tensor dtA, Tensor c, Tensor k, int n2, int length)
    {
        float[] a = dtA.Data, cv = c.Data, ka = k.Data;
        int ao = dtA.Offset, co = c.Offset, ko = k.Offset, rows = k.Size(0);
        int block = Math.Min(Block, length);
        CpuParallel.For(rows, 1, (h0, h1) =>
        {
            var wr = new float[block];
            var wi = new float[block];
            for (int h = h0; h < h1; h++)
            {
                var row = new Span<float>(ka, ko + h * length, length);
                row.Clear();
                for (int n = 0; n < n2; n++)
                {
                    int m = 2 * (h * n2 + n);
                    var z = new Complex(a[ao + m], a[ao + m + 1]);
                    // W_r = 2c·e^{z r}, rounded once from double.
                    var coef = 2 * new Complex(cv[co + m], cv[co + m + 1]);
                    // Stop once |P|·max|W| < 1e-45: every remaining contribution rounds to zero in float.
                    double cutoff = 1e-90 / PowerTable(z, coef, wr, wi);
                    var step = Complex.Exp(z * block);
                    bool decays = Norm(step) < 1;
                    Complex p = Complex.One;
                    for (int l0 = 0; l0 < length; l0 += block)
                    {
                        if (decays && Norm(p) < cutoff) break;
                        AddRealProduct(row.Slice(l0, Math.Min(block, length - l0)), (float)p.Real, (float)p.Imaginary, wr, wi);
                        p *= step;
                    }
                }
            }
        });
    }

    public static void Backward(Tensor dtA, Tensor c, Tensor dK, Tensor dDtA, Tensor dC, int n2)
    {
        float[] a = dtA.Data, cv = c.Data, g = dK.Data, da = dDtA.Data, dc = dC.Data;
        int ao = dtA.Offset, co = c.Offset, go = dK.Offset, dao = dDtA.Offset, dco = dC.Offset;
        int length = dK.Size(1), block = Math.Min(Block, length), items = dtA.Size(0) * n2;
        CpuParallel.For(items, 4, (i0, i1) =>
        {
            var zr = new float[block];
            var zi = new float[block];
            var rzr = new float[block];
            var rzi = new float[block];
            for (int i = i0; i < i1; i++)
            {
                int h = i / n2, m = 2 * i;
                var z = new Complex(a[ao + m], a[ao + m + 1]);
                PowerTable(z, Complex.One, zr, zi);
                for (int r = 0; r < block; r++) { rzr[r] = r * zr[r]; rzi[r] = r * zi[r]; }
                var step = Complex.Exp(z * block);
                bool decays = Norm(step) < 1;
                Complex p = Complex.One, s0 = Complex.Zero, s1 = Complex.Zero;
                var row = new ReadOnlySpan<float>(g, go + h * length, length);
                for (int l0 = 0; l0 < length; l0 += block)
                {
                    if (decays && Norm(p) < 1e-300) break;
                    var seg = row.Slice(l0, Math.Min(block, length - l0));
                    // u = Σ_r dK·conj(W_r), u1 = Σ_r r·dK·conj(W_r) over this block.
                    var u = new Complex(Dot(seg, zr), -Dot(seg, zi));
                    var u1 = new Complex(Dot(seg, rzr), -Dot(seg, rzi));
                    var pc = Complex.Conjugate(p);
                    s0 += pc * u;
                    s1 += pc * (l0 * u + u1);
                    p *= step;
                }
                var dcv = 2 * s0;
                var dav = 2 * Complex.Conjugate(new Complex(cv[co + m], cv[co + m + 1])) * s1;
                dc[dco + m] = (float)dcv.Real; dc[dco + m + 1] = (float)dcv.Imaginary;
                da[dao + m] = (float)dav.Real; da[dao + m + 1] = (float)dav.Imaginary;
            }
        });
    }

    /// <summary>|x|² (cheaper than the overflow-safe <see cref="Complex.Magnitude"/>; used only for thresholds).</summary>
    private static double Norm(Complex x) => x.Real * x.Real + x.Imaginary * x.Imaginary;

    /// <summary>w[r] = coef·e^{z·r} for r &lt; w.Length (double recurrence, re-anchored every 16 steps); returns max |w|².</summary>
    private static double PowerTable(Complex z, Complex coef, float[] wr, float[] wi)
    {
        var e = Complex.Exp(z);
        double max = 0;
        Complex w = coef;
        for (int r = 0; r < wr.Length; r++)
        {
            if ((r & 15) == 0) w = coef * Complex.Exp(z * r);
            wr[r] = (float)w.Real;
            wi[r] = (float)w.Imaginary;
            max = Math.Max(max, Norm(w));
            w *= e;
        }
        return max;
    }

    /// <summary>dst[r] += pr·wr[r] − pi·wi[r].</summary>
    private static void AddRealProduct(Span<float> dst, float pr, float pi, float[] wr, float[] wi)
    {
        int r = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref float d = ref MemoryMarshal.GetReference(dst);
            ref float x = ref MemoryMarshal.GetArrayDataReference(wr);
            ref float y = ref MemoryMarshal.GetArrayDataReference(wi);
            var vpr = Vector256.Create(pr);
            var vpi = Vector256.Create(-pi);
            for (; r <= dst.Length - Width; r += Width)
            {
                var acc = Vector256.LoadUnsafe(ref d, (nuint)r);
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref x, (nuint)r), vpr, acc);
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref y, (nuint)r), vpi, acc);
                acc.StoreUnsafe(ref d, (nuint)r);
            }
        }
        for (; r < dst.Length; r++) dst[r] = MathF.FusedMultiplyAdd(wi[r], -pi, MathF.FusedMultiplyAdd(wr[r], pr, dst[r]));
    }

    /// <summary>Σ_r x[r]·w[r] over x's length (float SIMD, returned as double).</summary>
    private static double Dot(ReadOnlySpan<float> x, float[] w)
    {
        int r = 0;
        double sum = 0;
        if (Vector256.IsHardwareAccelerated && x.Length >= Width)
        {
            ref float xr = ref MemoryMarshal.GetReference(x);
            ref float wr = ref MemoryMarshal.GetArrayDataReference(w);
            var acc = Vector256<float>.Zero;
            for (; r <= x.Length - Width; r += Width)
                acc = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref xr, (nuint)r), Vector256.LoadUnsafe(ref wr, (nuint)r), acc);
            sum = Vector256.Sum(acc);
        }
        for (; r < x.Length; r++) sum += (double)x[r] * w[r];
        return sum;
    }
}
