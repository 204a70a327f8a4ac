namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="FftConv"/>: per row, the real FFT of <see cref="FftCpu"/>, the spectrum
/// product, and the inverse FFT truncated to L. Rows in parallel; the backward runs one task per kernel row so the
/// batch sum of dk accumulates in order (deterministic).
/// </summary>
internal static class FftConvCpu
{
    public static void Forward(Tensor u, Tensor k, Tensor y, int n)
    {
        int len = u.Size(2), rows = u.Length / len, kRows = k.Length / len, bins = n / 2 + 1;
        var kf = Spectra(k, n);
        float[] ua = u.Data, ya = y.Data;
        int uo = u.Offset, yo = y.Offset;
        CpuParallel.For(rows, Math.Max(1, 4096 / n), (s, e) =>
        {
            var scratch = new FftCpu.Scratch(n);
            var spec = new float[2 * bins];
            for (int r = s; r < e; r++)
            {
                FftCpu.RfftRow(new ReadOnlySpan<float>(ua, uo + r * len, len), n, spec, 1f, 1f, scratch);
                Multiply(spec, new ReadOnlySpan<float>(kf, (r % kRows) * 2 * bins, 2 * bins), conj: false, spec);
                FftCpu.IrfftRow(spec, n, new Span<float>(ya, yo + r * len, len), 1f, 1f, scratch);
            }
        });
    }

    public static void Backward(Tensor u, Tensor k, Tensor dy, Tensor? du, Tensor? dk, int n)
    {
        int len = u.Size(2), rows = u.Length / len, kRows = k.Length / len, bins = n / 2 + 1;
        var kf = du is null ? null : Spectra(k, n);
        float[] ua = u.Data, ga = dy.Data;
        int uo = u.Offset, go = dy.Offset;
        CpuParallel.For(kRows, Math.Max(1, 4096 / (n * (rows / kRows))), (s, e) =>
        {
            var scratch = new FftCpu.Scratch(n);
            float[] dys = new float[2 * bins], us = new float[2 * bins], tmp = new float[2 * bins], acc = new float[2 * bins];
            for (int g = s; g < e; g++)
            {
                Array.Clear(acc);
                for (int r = g; r < rows; r += kRows)
                {
                    FftCpu.RfftRow(new ReadOnlySpan<float>(ga, go + r * len, len), n, dys, 1f, 1f, scratch);
                    if (du is not null)
                    {
                        Multiply(dys, new ReadOnlySpan<float>(kf, g * 2 * bins, 2 * bins), conj: true, tmp);
                        FftCpu.IrfftRow(tmp, n, new Span<float>(du.Data, du.Offset + r * len, len), 1f, 1f, scratch);
                    }
                    if (dk is not null)
                    {
                        FftCpu.RfftRow(new ReadOnlySpan<float>(ua, uo + r * len, len), n, us, 1f, 1f, scratch);
                        for (int q = 0; q < bins; q++)
                        {
                            float ur = us[2 * q], ui = us[2 * q + 1], gr = dys[2 * q], gi = dys[2 * q + 1];
                            acc[2 * q] += ur * gr + ui * gi;       // conj(U)·DY
                            acc[2 * q + 1] += ur * gi - ui * gr;
                        }
                    }
                }
                if (dk is not null) FftCpu.IrfftRow(acc, n, new Span<float>(dk.Data, dk.Offset + g * len, len), 1f, 1f, scratch);
            }
        });
    }

    /// <summary>rfft of each kernel row to length n: [kRows, n/2+1, 2] interleaved.</summary>
    private static float[] Spectra(Tensor k, int n)
    {
        int len = k.Size(-1), kRows = k.Length / len, bins = n / 2 + 1;
        var kf = new float[kRows * 2 * bins];
        float[] ka = k.Data;
        int ko = k.Offset;
        CpuParallel.For(kRows, Math.Max(1, 4096 / n), (s, e) =>
        {
            var scratch = new FftCpu.Scratch(n);
            for (int r = s; r < e; r++)
                FftCpu.RfftRow(new ReadOnlySpan<float>(ka, ko + r * len, len), n, new Span<float>(kf, r * 2 * bins, 2 * bins), 1f, 1f, scratch);
        });
        return kf;
    }

    /// <summary>dst = a·b or a·conj(b), complex interleaved (dst may alias a).</summary>
    private static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, bool conj, Span<float> dst)
    {
        float sign = conj ? -1f : 1f;
        for (int q = 0; q < a.Length; q += 2)
        {
            float ar = a[q], ai = a[q + 1], br = b[q], bi = sign * b[q + 1];
            dst[q] = ar * br - ai * bi;
            dst[q + 1] = ar * bi + ai * br;
        }
    }
}
