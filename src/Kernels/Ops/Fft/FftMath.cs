using System.Runtime.CompilerServices;

namespace Ssm.Kernels;

/// <summary>Scalar helpers shared by the CPU and ILGPU FFT code (plain arithmetic, callable inside kernels).</summary>
internal static class FftMath
{
    /// <summary>k with its lowest <paramref name="bits"/> bits reversed.</summary>
    internal static int Rev(int k, int bits) => bits == 0 ? 0 : (int)(ReverseBits((uint)k) >> (32 - bits));

    private static uint ReverseBits(uint v)
    {
        v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
        v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
        v = ((v >> 4) & 0x0F0F0F0Fu) | ((v & 0x0F0F0F0Fu) << 4);
        v = ((v >> 8) & 0x00FF00FFu) | ((v & 0x00FF00FFu) << 8);
        return (v >> 16) | (v << 16);
    }

    /// <summary>
    /// Real-FFT split of one pair: from a = Z_k and b = Z_{m−k} of the half-length transform and w = W_n^k, returns
    /// X_k = E + w·O (x) and X_{m−k} = conj(E − w·O) (y), E = (a + conj b)/2, O = (a − conj b)/(2i).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Post(float ar, float ai, float br, float bi, float wr, float wi,
        out float xr, out float xi, out float yr, out float yi)
    {
        float er = 0.5f * (ar + br), ei = 0.5f * (ai - bi);
        float or = 0.5f * (ai + bi), oi = -0.5f * (ar - br);
        float tr = wr * or - wi * oi, ti = wr * oi + wi * or;
        xr = er + tr; xi = ei + ti;
        yr = er - tr; yi = ti - ei;
    }

    /// <summary>
    /// Inverse of <see cref="Post"/>: from p = X_k, q = X_{m−k} and w = W_n^k, returns Z_k = E + i·O (z) and
    /// Z_{m−k} = conj E + i·conj O (v), E = (p + conj q)/2, O = (p − conj q)·conj(w)/2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Pre(float pr, float pi, float qr, float qi, float wr, float wi,
        out float zr, out float zi, out float vr, out float vi)
    {
        float er = 0.5f * (pr + qr), ei = 0.5f * (pi - qi);
        float dr = pr - qr, di = pi + qi;
        float or = 0.5f * (dr * wr + di * wi), oi = 0.5f * (di * wr - dr * wi);
        zr = er - oi; zi = ei + or;
        vr = er + oi; vi = or - ei;
    }
}
