using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Cauchy"/>: SIMD over nodes (z de-interleaved and padded to whole vectors
/// with copies of a real node). Forward: per (h, block of nodes), the pair denominator (z − w)(z − conj w) and its scaled
/// reciprocal are formed once per mode and shared by the R coefficient vectors. Backward: per (h, n), p = 1/(z − conj w)
/// and q = 1/(conj z − conj w) once per node, shared by the R upstream gradients.
/// </summary>
internal static class CauchyCpu
{
    private const int Chunk = 64;
    private static readonly int Width = Vector256<float>.Count;

    private static int Padded(int k) => (k + Width - 1) / Width * Width;

    /// <summary>Planar copies of interleaved complex rows [rows, k, 2], padded to <paramref name="kp"/> with the last element or zeros.</summary>
    private static (float[] Re, float[] Im) Planar(Tensor x, int rows, int k, int kp, bool padWithLast)
    {
        float[] src = x.Data, re = new float[rows * kp], im = new float[rows * kp];
        int o = x.Offset;
        CpuParallel.For(rows, 1, (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
                for (int i = 0; i < kp; i++)
                {
                    int j = i < k ? i : (padWithLast ? k - 1 : -1);
                    if (j < 0) continue;
                    re[r * kp + i] = src[o + 2 * (r * k + j)];
                    im[r * kp + i] = src[o + 2 * (r * k + j) + 1];
                }
        });
        return (re, im);
    }

    /// <summary>1/(a + ib), scaled by max(|a|, |b|) so that |a|² + |b|² cannot overflow.</summary>
    private static (Vector256<float> Re, Vector256<float> Im) Reciprocal(Vector256<float> a, Vector256<float> b)
    {
        var t = Vector256<float>.One / Vector256.Max(Vector256.Abs(a), Vector256.Abs(b));
        var x = a * t;
        var y = b * t;
        var q = t / Vector256.FusedMultiplyAdd(x, x, y * y);
        return (x * q, -(y * q));
    }

    public static void Multiply(Tensor v, Tensor w, Tensor z, Tensor y, int rCount, int h, int n2, int k)
    {
        int kp = Padded(k), chunks = (kp + Chunk - 1) / Chunk;
        var (zr, zi) = Planar(z, 1, k, kp, padWithLast: true);
        float[] va = v.Data, wa = w.Data, ya = y.Data;
        int vo = v.Offset, wo = w.Offset, yo = y.Offset;
        CpuParallel.For(h * chunks, 1, (i0, i1) =>
        {
            var acc = new float[2 * rCount * Chunk];
            ref float zrRef = ref MemoryMarshal.GetArrayDataReference(zr);
            ref float ziRef = ref MemoryMarshal.GetArrayDataReference(zi);
            ref float accRef = ref MemoryMarshal.GetArrayDataReference(acc);
            for (int i = i0; i < i1; i++)
            {
                int hh = i / chunks, k0 = (i % chunks) * Chunk, len = Math.Min(Chunk, kp - k0);
                Array.Clear(acc);
                for (int n = 0; n < n2; n++)
                {
                    int m = 2 * (hh * n2 + n);
                    float wr = wa[wo + m], wi = wa[wo + m + 1];
                    var vwr = Vector256.Create(wr);
                    var vwi = Vector256.Create(wi);
                    for (int kk = 0; kk < len; kk += Width)
                    {
                        var zre = Vector256.LoadUnsafe(ref zrRef, (nuint)(k0 + kk));
                        var zim = Vector256.LoadUnsafe(ref ziRef, (nuint)(k0 + kk));
                        var x = zre - vwr;
                        // (z − w)(z − conj w) = (x² − (zi − wi)(zi + wi), 2·x·zi), x = Re z − Re w.
                        var denRe = x * x - (zim - vwi) * (zim + vwi);
                        var denIm = (x + x) * zim;
                        var (ir, ii) = Reciprocal(denRe, denIm);
                        for (int b = 0; b < rCount; b++)
                        {
                            int vm = vo + 2 * ((b * h + hh) * n2 + n);
                            float vr2 = 2 * va[vm];
                            // numerator 2·(Re v·z − Re(v·conj w)) = (2vr·x − 2vi·wi, 2vr·zi)
                            var nr = Vector256.FusedMultiplyAdd(Vector256.Create(vr2), x, Vector256.Create(-2 * va[vm + 1] * wi));
                            var ni = Vector256.Create(vr2) * zim;
                            nuint at = (nuint)(2 * b * Chunk + kk);
                            var accR = Vector256.LoadUnsafe(ref accRef, at);
                            var accI = Vector256.LoadUnsafe(ref accRef, at + (nuint)Chunk);
                            accR = Vector256.FusedMultiplyAdd(nr, ir, Vector256.FusedMultiplyAdd(-ni, ii, accR));
                            accI = Vector256.FusedMultiplyAdd(nr, ii, Vector256.FusedMultiplyAdd(ni, ir, accI));
                            accR.StoreUnsafe(ref accRef, at);
                            accI.StoreUnsafe(ref accRef, at + (nuint)Chunk);
                        }
                    }
                }
                int valid = Math.Min(len, k - k0);
                for (int b = 0; b < rCount; b++)
                {
                    int dst = yo + 2 * ((b * h + hh) * k + k0);
                    for (int kk = 0; kk < valid; kk++)
                    {
                        ya[dst + 2 * kk] = acc[2 * b * Chunk + kk];
                        ya[dst + 2 * kk + 1] = acc[2 * b * Chunk + Chunk + kk];
                    }
                }
            }
        });
    }

    public static void Backward(Tensor v, Tensor w, Tensor z, Tensor dr, Tensor dv, Tensor dw, int rCount, int h, int n2, int k)
    {
        int kp = Padded(k);
        var (zr, zi) = Planar(z, 1, k, kp, padWithLast: true);
        var (gr, gi) = Planar(dr, rCount * h, k, kp, padWithLast: false); // padded nodes get zero gradient
        float[] va = v.Data, wa = w.Data, dva = dv.Data, dwa = dw.Data;
        int vo = v.Offset, wo = w.Offset, dvo = dv.Offset, dwo = dw.Offset;
        CpuParallel.For(h * n2, 1, (i0, i1) =>
        {
            var acc = new Vector256<float>[4 * rCount];
            ref float zrRef = ref MemoryMarshal.GetArrayDataReference(zr);
            ref float ziRef = ref MemoryMarshal.GetArrayDataReference(zi);
            ref float grRef = ref MemoryMarshal.GetArrayDataReference(gr);
            ref float giRef = ref MemoryMarshal.GetArrayDataReference(gi);
            for (int i = i0; i < i1; i++)
            {
                int hh = i / n2, n = i - hh * n2;
                float wr = wa[wo + 2 * i], wi = wa[wo + 2 * i + 1];
                var vwr = Vector256.Create(wr);
                var vwi = Vector256.Create(wi);
                Array.Clear(acc);
                for (int kk = 0; kk < kp; kk += Width)
                {
                    var x = Vector256.LoadUnsafe(ref zrRef, (nuint)kk) - vwr;
                    var zim = Vector256.LoadUnsafe(ref ziRef, (nuint)kk);
                    var (i1r, i1i) = Reciprocal(x, zim - vwi); // 1/(z − w); q = conj of it
                    var (pr, pi) = Reciprocal(x, zim + vwi);   // p = 1/(z − conj w)
                    var qr = i1r;
                    var qi = -i1i;
                    var p2r = pr * pr - pi * pi;
                    var p2i = (pr + pr) * pi;
                    var q2r = qr * qr - qi * qi;
                    var q2i = (qr + qr) * qi;
                    // g·q + conj(g)·p = (gr(qr + pr) − gi(qi − pi), gr(qi + pi) + gi(qr − pr)); the same with q², p².
                    Vector256<float> a0 = qr + pr, a1 = qi - pi, a2 = qi + pi, a3 = qr - pr;
                    Vector256<float> b0 = q2r + p2r, b1 = q2i - p2i, b2 = q2i + p2i, b3 = q2r - p2r;
                    for (int b = 0; b < rCount; b++)
                    {
                        nuint at = (nuint)((b * h + hh) * kp + kk);
                        var g0 = Vector256.LoadUnsafe(ref grRef, at);
                        var g1 = Vector256.LoadUnsafe(ref giRef, at);
                        acc[4 * b] = Vector256.FusedMultiplyAdd(g0, a0, Vector256.FusedMultiplyAdd(-g1, a1, acc[4 * b]));
                        acc[4 * b + 1] = Vector256.FusedMultiplyAdd(g0, a2, Vector256.FusedMultiplyAdd(g1, a3, acc[4 * b + 1]));
                        acc[4 * b + 2] = Vector256.FusedMultiplyAdd(g0, b0, Vector256.FusedMultiplyAdd(-g1, b1, acc[4 * b + 2]));
                        acc[4 * b + 3] = Vector256.FusedMultiplyAdd(g0, b2, Vector256.FusedMultiplyAdd(g1, b3, acc[4 * b + 3]));
                    }
                }
                double dwr = 0, dwi = 0;
                for (int b = 0; b < rCount; b++)
                {
                    int vm = 2 * ((b * h + hh) * n2 + n);
                    dva[dvo + vm] = Vector256.Sum(acc[4 * b]);
                    dva[dvo + vm + 1] = Vector256.Sum(acc[4 * b + 1]);
                    double sr = Vector256.Sum(acc[4 * b + 2]), si = Vector256.Sum(acc[4 * b + 3]);
                    double vr = va[vo + vm], vi = va[vo + vm + 1];
                    dwr += vr * sr + vi * si; // conj(v)·S2
                    dwi += vr * si - vi * sr;
                }
                dwa[dwo + 2 * i] = (float)dwr;
                dwa[dwo + 2 * i + 1] = (float)dwi;
            }
        });
    }

    public static void Woodbury(Tensor r, Tensor scale, Tensor y, int h, int k)
    {
        float[] ra = r.Data, sa = scale.Data, ya = y.Data;
        int ro = r.Offset, so = scale.Offset, yo = y.Offset, plane = 2 * h * k;
        CpuParallel.For(h * k, 4096, (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                int s = so + 2 * (i % k), a = ro + 2 * i;
                CauchyMath.Woodbury(ra[a], ra[a + 1], ra[a + plane], ra[a + plane + 1], ra[a + 2 * plane], ra[a + 2 * plane + 1],
                    ra[a + 3 * plane], ra[a + 3 * plane + 1], sa[s], sa[s + 1], out ya[yo + 2 * i], out ya[yo + 2 * i + 1]);
            }
        });
    }

    public static void WoodburyBackward(Tensor r, Tensor scale, Tensor dOut, Tensor dr, int h, int k)
    {
        float[] ra = r.Data, sa = scale.Data, ga = dOut.Data, da = dr.Data;
        int ro = r.Offset, so = scale.Offset, go = dOut.Offset, dro = dr.Offset, plane = 2 * h * k;
        CpuParallel.For(h * k, 4096, (i0, i1) =>
        {
            for (int i = i0; i < i1; i++)
            {
                int s = so + 2 * (i % k), a = ro + 2 * i, d = dro + 2 * i;
                CauchyMath.WoodburyGrad(ra[a + plane], ra[a + plane + 1], ra[a + 2 * plane], ra[a + 2 * plane + 1],
                    ra[a + 3 * plane], ra[a + 3 * plane + 1], sa[s], sa[s + 1], ga[go + 2 * i], ga[go + 2 * i + 1],
                    out da[d], out da[d + 1], out da[d + plane], out da[d + plane + 1],
                    out da[d + 2 * plane], out da[d + 2 * plane + 1], out da[d + 3 * plane], out da[d + 3 * plane + 1]);
            }
        });
    }
}
