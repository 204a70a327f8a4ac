using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Fft"/>, one row per task (Parallel.For over rows).
/// Power-of-two real length n = 2m: the real row is read as m complex values z_j = x_{2j} + i·x_{2j+1}, transformed by
/// an in-place radix-2 decimation-in-frequency FFT (natural order in, bit-reversed out; Gentleman–Sande), and split
/// into the spectrum by X_k = E_k + W_n^k·O_k with E_k = (Z_k + conj Z_{m−k})/2, O_k = (Z_k − conj Z_{m−k})/(2i)
/// (Numerical Recipes §12.3). The inverse runs the same steps backwards with a decimation-in-time FFT (bit-reversed in,
/// natural out). Other lengths: Bluestein's chirp-z transform (<see cref="BluesteinPlan"/>) as a complex DFT of
/// length n. Stages with half-span ≥ 8 use Vector256 over split re/im arrays.
/// </summary>
internal static class FftCpu
{
    /// <summary>Per-worker scratch: split real/imaginary arrays of the complex transform length.</summary>
    internal sealed class Scratch(int n)
    {
        public readonly float[] Re = new float[Length(n)], Im = new float[Length(n)];

        private static int Length(int n) => IsPow2Real(n) ? n / 2 : BluesteinPlan.Get(n).M;
    }

    /// <summary>True when length n uses the radix-2 real path (n a power of two ≥ 2); other lengths use Bluestein.</summary>
    internal static bool IsPow2Real(int n) => n >= 2 && BitOperations.IsPow2(n);

    /// <summary>Real FFT of length n; y [rows, bins, 2] receives bins k &lt; y.Size(-2) (zero beyond n/2).</summary>
    public static void Rfft(Tensor x, Tensor y, int n, float edge, float mid)
    {
        int len = x.Size(-1), bins = y.Size(-2), rows = y.Length / (2 * bins);
        float[] xa = x.Data, ya = y.Data;
        int xo = x.Offset, yo = y.Offset;
        CpuParallel.For(rows, Math.Max(1, 8192 / n), (s, e) =>
        {
            var scratch = new Scratch(n);
            for (int r = s; r < e; r++)
                RfftRow(new ReadOnlySpan<float>(xa, xo + r * len, len), n, new Span<float>(ya, yo + r * 2 * bins, 2 * bins), edge, mid, scratch);
        });
    }

    /// <summary>Inverse real FFT of length n; y receives samples t &lt; y.Size(-1) of each row (zero beyond n).</summary>
    public static void Irfft(Tensor spectrum, Tensor y, int n, float edge, float mid)
    {
        int bins = spectrum.Size(-2), outLen = y.Size(-1), rows = y.Length / outLen;
        float[] xa = spectrum.Data, ya = y.Data;
        int xo = spectrum.Offset, yo = y.Offset;
        CpuParallel.For(rows, Math.Max(1, 8192 / n), (s, e) =>
        {
            var scratch = new Scratch(n);
            for (int r = s; r < e; r++)
                IrfftRow(new ReadOnlySpan<float>(xa, xo + r * 2 * bins, 2 * bins), n, new Span<float>(ya, yo + r * outLen, outLen), edge, mid, scratch);
        });
    }

    /// <summary>
    /// bins[k] = s_k · Σ_{t&lt;n} x_t e^{−2πikt/n} for k ≤ n/2 (interleaved re, im; bins beyond n/2 are zero, fewer bins
    /// are a prefix), x zero-padded or truncated to n; s_k = <paramref name="edge"/> for k = 0 and k = n/2 (n even),
    /// <paramref name="mid"/> otherwise. The imaginary parts of the edge bins are exactly zero.
    /// </summary>
    internal static void RfftRow(ReadOnlySpan<float> x, int n, Span<float> bins, float edge, float mid, Scratch scratch)
    {
        float[] re = scratch.Re, im = scratch.Im;
        int lim = Math.Min(x.Length, n), count = bins.Length / 2;
        if (count > n / 2 + 1) bins[(2 * (n / 2 + 1))..].Clear();
        if (IsPow2Real(n))
        {
            int m = n / 2, bits = BitOperations.Log2((uint)m);
            var tw = FftTwiddles.Get(n);
            for (int j = 0; j < m; j++)
            {
                re[j] = 2 * j < lim ? x[2 * j] : 0f;
                im[j] = 2 * j + 1 < lim ? x[2 * j + 1] : 0f;
            }
            Dif(re, im, m, tw);
            for (int k = 0; k <= m / 2; k++)
            {
                int a = FftMath.Rev(k, bits), b = FftMath.Rev((m - k) & (m - 1), bits);
                FftMath.Post(re[a], im[a], re[b], im[b], tw.Re[m + k], tw.Im[m + k], out float xr, out float xi, out float yr, out float yi);
                float s = k == 0 ? edge : mid; // bins 0 and m are the edges; k ≤ m/2 < m − k otherwise
                if (k < count) { bins[2 * k] = xr * s; bins[2 * k + 1] = xi * s; }
                if (m - k < count) { bins[2 * (m - k)] = yr * s; bins[2 * (m - k) + 1] = yi * s; }
            }
            return;
        }
        var plan = BluesteinPlan.Get(n);
        for (int j = 0; j < n; j++)
        {
            float v = j < lim ? x[j] : 0f;
            re[j] = v * plan.ChirpRe[j];
            im[j] = v * plan.ChirpIm[j];
        }
        Convolve(plan, re, im);
        for (int k = 0; k <= n / 2 && k < count; k++)
        {
            bool isEdge = k == 0 || 2 * k == n;
            float s = isEdge ? edge : mid;
            float wr = plan.ChirpRe[k], wi = plan.ChirpIm[k];
            bins[2 * k] = (re[k] * wr - im[k] * wi) * s;
            bins[2 * k + 1] = isEdge ? 0f : (re[k] * wi + im[k] * wr) * s;
        }
    }

    /// <summary>
    /// y_t = (1/n)·Σ_{k&lt;n} X'_k e^{2πikt/n} for t &lt; y.Length (zero for t ≥ n), where X'_k = s_k·bins[k] for k ≤ n/2 (missing bins
    /// are zero, the imaginary parts of bin 0 and of bin n/2 for even n are ignored), extended Hermitian
    /// (X'_{n−k} = conj X'_k); s_k as in <see cref="RfftRow"/>.
    /// </summary>
    internal static void IrfftRow(ReadOnlySpan<float> bins, int n, Span<float> y, float edge, float mid, Scratch scratch)
    {
        float[] re = scratch.Re, im = scratch.Im;
        int count = bins.Length / 2;
        if (y.Length > n)
        {
            y[n..].Clear();
            y = y[..n];
        }
        if (IsPow2Real(n))
        {
            int m = n / 2, bits = BitOperations.Log2((uint)m);
            var tw = FftTwiddles.Get(n);
            for (int k = 0; k <= m / 2; k++)
            {
                int q = m - k;
                float s = k == 0 ? edge : mid; // k = 0 pairs the edge bins 0 and m, whose imaginary parts are ignored
                float pr = k < count ? bins[2 * k] * s : 0f, pi = k < count && k != 0 ? bins[2 * k + 1] * s : 0f;
                float qr = q < count ? bins[2 * q] * s : 0f, qi = q < count && k != 0 ? bins[2 * q + 1] * s : 0f;
                FftMath.Pre(pr, pi, qr, qi, tw.Re[m + k], tw.Im[m + k], out float zr, out float zi, out float vr, out float vi);
                int a = FftMath.Rev(k, bits);
                re[a] = zr; im[a] = zi;
                if (k != 0)
                {
                    int b = FftMath.Rev(q, bits);
                    re[b] = vr; im[b] = vi;
                }
            }
            Dit(re, im, m, tw);
            float scale = 1f / m;
            for (int t = 0; t < y.Length; t++)
                y[t] = ((t & 1) == 0 ? re[t >> 1] : im[t >> 1]) * scale;
            return;
        }
        var plan = BluesteinPlan.Get(n);
        for (int j = 0; j < n; j++)
        {
            // conj(Y_j) for the Hermitian extension Y of the bins: IDFT(Y) = conj(DFT(conj Y)) / n.
            int k = 2 * j <= n ? j : n - j;
            float s = k == 0 || 2 * k == n ? edge : mid;
            float yr = k < count ? bins[2 * k] * s : 0f;
            float yi = k < count && k != 0 && 2 * k != n ? bins[2 * k + 1] * s : 0f;
            if (k != j) yi = -yi;
            float cr = plan.ChirpRe[j], ci = plan.ChirpIm[j];
            re[j] = yr * cr + yi * ci;   // conj(Y)·w
            im[j] = yr * ci - yi * cr;
        }
        Convolve(plan, re, im);
        float inv = 1f / n;
        for (int t = 0; t < y.Length; t++)
            y[t] = (re[t] * plan.ChirpRe[t] - im[t] * plan.ChirpIm[t]) * inv;
    }

    /// <summary>Bluestein core: re/im hold x_j·w_j (j &lt; N); on return, c = (x·w) ⊛ conj w (circular, length M).</summary>
    private static void Convolve(BluesteinPlan plan, float[] re, float[] im)
    {
        int n = plan.N, size = plan.M;
        Array.Clear(re, n, size - n);
        Array.Clear(im, n, size - n);
        Dif(re, im, size, plan.Twiddles);
        float[] fr = plan.FilterRe, fi = plan.FilterIm;
        for (int k = 0; k < size; k++)
        {
            float ar = re[k], ai = im[k];
            re[k] = ar * fr[k] - ai * fi[k];
            im[k] = ar * fi[k] + ai * fr[k];
        }
        Dit(re, im, size, plan.Twiddles);
    }

    /// <summary>In-place radix-2 DIF forward FFT of length <paramref name="size"/>: natural order in, bit-reversed out.</summary>
    internal static void Dif(float[] re, float[] im, int size, FftTwiddles tw)
    {
        float[] wr = tw.Re, wi = tw.Im;
        int last = size >= 8 ? 8 : 1; // the stages with half-span < 8 run fused per block of 8 (Dif8)
        for (int h = size >> 1; h >= last; h >>= 1)
        {
            for (int s = 0; s < size; s += 2 * h)
            {
                int j = 0;
                if (h >= Vector256<float>.Count && Vector256.IsHardwareAccelerated)
                    for (; j < h; j += Vector256<float>.Count)
                    {
                        int a = s + j, b = a + h;
                        Vector256<float> ar = Load(re, a), ai = Load(im, a), br = Load(re, b), bi = Load(im, b);
                        Vector256<float> cr = Load(wr, h + j), ci = Load(wi, h + j);
                        Vector256<float> dr = ar - br, di = ai - bi;
                        Store(ar + br, re, a); Store(ai + bi, im, a);
                        Store(dr * cr - di * ci, re, b); Store(dr * ci + di * cr, im, b);
                    }
                for (; j < h; j++)
                {
                    int a = s + j, b = a + h;
                    float ar = re[a], ai = im[a], br = re[b], bi = im[b], cr = wr[h + j], ci = wi[h + j];
                    float dr = ar - br, di = ai - bi;
                    re[a] = ar + br; im[a] = ai + bi;
                    re[b] = dr * cr - di * ci; im[b] = dr * ci + di * cr;
                }
            }
        }
        if (size >= 8)
            for (int s = 0; s < size; s += 8) Dif8(re, im, s);
    }

    private const float SqrtHalf = 0.70710678118654752f;

    /// <summary>The DIF stages with half-spans 4, 2, 1 on the block of 8 at <paramref name="s"/>, in registers.</summary>
    private static void Dif8(float[] re, float[] im, int s)
    {
        // h = 4: twiddles W8^j = 1, (1 − i)/√2, −i, −(1 + i)/√2.
        float a0r = re[s] + re[s + 4], a0i = im[s] + im[s + 4], d0r = re[s] - re[s + 4], d0i = im[s] - im[s + 4];
        float a1r = re[s + 1] + re[s + 5], a1i = im[s + 1] + im[s + 5], d1r = re[s + 1] - re[s + 5], d1i = im[s + 1] - im[s + 5];
        float a2r = re[s + 2] + re[s + 6], a2i = im[s + 2] + im[s + 6], d2r = re[s + 2] - re[s + 6], d2i = im[s + 2] - im[s + 6];
        float a3r = re[s + 3] + re[s + 7], a3i = im[s + 3] + im[s + 7], d3r = re[s + 3] - re[s + 7], d3i = im[s + 3] - im[s + 7];
        float b1r = SqrtHalf * (d1r + d1i), b1i = SqrtHalf * (d1i - d1r);
        float b2r = d2i, b2i = -d2r;
        float b3r = SqrtHalf * (d3i - d3r), b3i = -SqrtHalf * (d3r + d3i);
        // h = 2 (twiddles 1, −i) and h = 1, on the halves (a0..a3) and (d0, b1, b2, b3).
        Dif4(re, im, s, a0r, a0i, a1r, a1i, a2r, a2i, a3r, a3i);
        Dif4(re, im, s + 4, d0r, d0i, b1r, b1i, b2r, b2i, b3r, b3i);
    }

    private static void Dif4(float[] re, float[] im, int s, float x0r, float x0i, float x1r, float x1i, float x2r, float x2i, float x3r, float x3i)
    {
        float e0r = x0r + x2r, e0i = x0i + x2i, e1r = x1r + x3r, e1i = x1i + x3i;
        float f0r = x0r - x2r, f0i = x0i - x2i, f1r = x1i - x3i, f1i = x3r - x1r; // (x1 − x3)·(−i)
        re[s] = e0r + e1r; im[s] = e0i + e1i;
        re[s + 1] = e0r - e1r; im[s + 1] = e0i - e1i;
        re[s + 2] = f0r + f1r; im[s + 2] = f0i + f1i;
        re[s + 3] = f0r - f1r; im[s + 3] = f0i - f1i;
    }

    /// <summary>In-place radix-2 DIT inverse FFT (unnormalized, conjugate twiddles): bit-reversed order in, natural out.</summary>
    internal static void Dit(float[] re, float[] im, int size, FftTwiddles tw)
    {
        float[] wr = tw.Re, wi = tw.Im;
        int first = 1;
        if (size >= 8)
        {
            for (int s = 0; s < size; s += 8) Dit8(re, im, s);
            first = 8;
        }
        for (int h = first; h < size; h <<= 1)
        {
            for (int s = 0; s < size; s += 2 * h)
            {
                int j = 0;
                if (h >= Vector256<float>.Count && Vector256.IsHardwareAccelerated)
                    for (; j < h; j += Vector256<float>.Count)
                    {
                        int a = s + j, b = a + h;
                        Vector256<float> ar = Load(re, a), ai = Load(im, a), br = Load(re, b), bi = Load(im, b);
                        Vector256<float> cr = Load(wr, h + j), ci = Load(wi, h + j);
                        Vector256<float> tr = br * cr + bi * ci, ti = bi * cr - br * ci;
                        Store(ar + tr, re, a); Store(ai + ti, im, a);
                        Store(ar - tr, re, b); Store(ai - ti, im, b);
                    }
                for (; j < h; j++)
                {
                    int a = s + j, b = a + h;
                    float br = re[b], bi = im[b], cr = wr[h + j], ci = wi[h + j];
                    float tr = br * cr + bi * ci, ti = bi * cr - br * ci;
                    float ar = re[a], ai = im[a];
                    re[a] = ar + tr; im[a] = ai + ti;
                    re[b] = ar - tr; im[b] = ai - ti;
                }
            }
        }
    }

    /// <summary>The DIT stages with half-spans 1, 2, 4 (conjugate twiddles) on the block of 8 at <paramref name="s"/>.</summary>
    private static void Dit8(float[] re, float[] im, int s)
    {
        Dit4(re, im, s, out float a0r, out float a0i, out float a1r, out float a1i, out float a2r, out float a2i, out float a3r, out float a3i);
        Dit4(re, im, s + 4, out float b0r, out float b0i, out float b1r, out float b1i, out float b2r, out float b2i, out float b3r, out float b3i);
        // h = 4: b_j·conj(W8^j), conj twiddles 1, (1 + i)/√2, i, (−1 + i)/√2.
        float t1r = SqrtHalf * (b1r - b1i), t1i = SqrtHalf * (b1r + b1i);
        float t2r = -b2i, t2i = b2r;
        float t3r = -SqrtHalf * (b3r + b3i), t3i = SqrtHalf * (b3r - b3i);
        re[s] = a0r + b0r; im[s] = a0i + b0i; re[s + 4] = a0r - b0r; im[s + 4] = a0i - b0i;
        re[s + 1] = a1r + t1r; im[s + 1] = a1i + t1i; re[s + 5] = a1r - t1r; im[s + 5] = a1i - t1i;
        re[s + 2] = a2r + t2r; im[s + 2] = a2i + t2i; re[s + 6] = a2r - t2r; im[s + 6] = a2i - t2i;
        re[s + 3] = a3r + t3r; im[s + 3] = a3i + t3i; re[s + 7] = a3r - t3r; im[s + 7] = a3i - t3i;
    }

    private static void Dit4(float[] re, float[] im, int s, out float y0r, out float y0i, out float y1r, out float y1i,
        out float y2r, out float y2i, out float y3r, out float y3i)
    {
        // h = 1, then h = 2 with conj twiddles 1, i.
        float e0r = re[s] + re[s + 1], e0i = im[s] + im[s + 1], e1r = re[s] - re[s + 1], e1i = im[s] - im[s + 1];
        float f0r = re[s + 2] + re[s + 3], f0i = im[s + 2] + im[s + 3], g1r = re[s + 2] - re[s + 3], g1i = im[s + 2] - im[s + 3];
        float f1r = -g1i, f1i = g1r;
        y0r = e0r + f0r; y0i = e0i + f0i; y2r = e0r - f0r; y2i = e0i - f0i;
        y1r = e1r + f1r; y1i = e1i + f1i; y3r = e1r - f1r; y3i = e1i - f1i;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Load(float[] a, int i) => Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> v, float[] a, int i) => v.StoreUnsafe(ref MemoryMarshal.GetArrayDataReference(a), (nuint)i);
}
