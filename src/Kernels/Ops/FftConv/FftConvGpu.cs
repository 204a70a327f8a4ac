using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Scalar arguments of the FFT-convolution kernels.</summary>
internal struct FftConvArgs
{
    /// <summary>Sequence length L (row length of the input and output).</summary>
    public int Len;
    /// <summary>Half transform length m = n/2.</summary>
    public int Size;
    /// <summary>log2 m.</summary>
    public int Bits;
    /// <summary>Number of kernel spectra (channels, or batch·channels); row r uses spectrum r mod KRows.</summary>
    public int KRows;
    /// <summary>1: multiply by the conjugate kernel spectrum (the correlation of the backward pass).</summary>
    public int Conj;
    /// <summary>1: write the convolution output.</summary>
    public int WriteY;
    /// <summary>1: replace p (the rows' spectra of u) by conj(p)·X, X the spectrum of the input rows.</summary>
    public int UpdateP;
}

/// <summary>
/// ILGPU kernels of <see cref="FftConv"/>. When m = n/2 fits in shared memory, <see cref="ConvRowsKernel"/> does the
/// whole row in one group: load (zero-padded), DIF stages, for each pair (k, m−k) the real split, the product with the
/// kernel spectrum and the inverse split (in registers, in place in the bit-reversed order), DIT stages and the
/// store of the first L samples. Otherwise: <see cref="FftGpu"/>'s global-memory rfft, <see cref="SpectrumKernel"/>,
/// irfft. The batch sum of dk is a sum of spectra (Elementwise.SumTo) before one inverse transform per kernel row.
/// </summary>
internal static class FftConvGpu
{
    /// <summary>One group per row: y = irfft(rfft(x)·K), optionally p ← conj(p)·rfft(x).</summary>
    [GpuKernel(Grouped = true)]
    internal static void ConvRowsKernel(ArrayView<float> x, ArrayView<float> kf, ArrayView<float> y, ArrayView<float> p,
        ArrayView<float> tw, FftConvArgs a)
    {
        var sh = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, m = a.Size, n = 2 * m, lim = a.Len < n ? a.Len : n;
        long xo = (long)row * a.Len;
        for (int t = Group.IdxX; t < n; t += Group.DimX) sh[t] = t < lim ? x[xo + t] : 0f;
        Group.Barrier();
        FftGpu.SharedDif(sh, m, tw);
        int ko = 2 * (row % a.KRows) * (m + 1), po = 2 * row * (m + 1);
        for (int k = Group.IdxX; k <= m / 2; k += Group.DimX)
        {
            int q = m - k, ia = 2 * FftMath.Rev(k, a.Bits), ib = 2 * FftMath.Rev(q & (m - 1), a.Bits);
            float wr = tw[2 * (m + k)], wi = tw[2 * (m + k) + 1];
            FftMath.Post(sh[ia], sh[ia + 1], sh[ib], sh[ib + 1], wr, wi, out float xr, out float xi, out float vr, out float vi);
            if (a.UpdateP != 0)
            {
                ConjTimes(p, po + 2 * k, xr, xi);
                if (q != k) ConjTimes(p, po + 2 * q, vr, vi);
            }
            if (a.WriteY != 0)
            {
                float sign = a.Conj != 0 ? -1f : 1f;
                float kr = kf[ko + 2 * k], ki = sign * kf[ko + 2 * k + 1], lr = kf[ko + 2 * q], li = sign * kf[ko + 2 * q + 1];
                float pr = xr * kr - xi * ki, pi = xr * ki + xi * kr, qr = vr * lr - vi * li, qi = vr * li + vi * lr;
                if (k == 0) { pi = 0f; qi = 0f; } // edge bins: imaginary parts ignored, as in Fft.Irfft
                FftMath.Pre(pr, pi, qr, qi, wr, wi, out float zr, out float zi, out float ur, out float ui);
                sh[ia] = zr; sh[ia + 1] = zi;
                if (k != 0) { sh[ib] = ur; sh[ib + 1] = ui; }
            }
        }
        Group.Barrier();
        if (a.WriteY == 0) return;
        FftGpu.SharedDit(sh, m, tw);
        float scale = 1f / m;
        long yo = (long)row * a.Len;
        for (int t = Group.IdxX; t < a.Len; t += Group.DimX) y[yo + t] = sh[t] * scale;
    }

    /// <summary>
    /// Spectrum product for the global-memory path, one thread per (row, bin): optionally p ← conj(p)·s, then
    /// s ← s·K (or s·conj K) when a.WriteY.
    /// </summary>
    [GpuKernel]
    internal static void SpectrumKernel(Index1D i, ArrayView<float> s, ArrayView<float> kf, ArrayView<float> p, FftConvArgs a)
    {
        int bins = a.Size + 1, row = i / bins, k = i - row * bins;
        float xr = s[2 * i], xi = s[2 * i + 1];
        if (a.UpdateP != 0) ConjTimes(p, 2 * i, xr, xi);
        if (a.WriteY == 0) return;
        int ko = 2 * ((row % a.KRows) * bins + k);
        float kr = kf[ko], ki = a.Conj != 0 ? -kf[ko + 1] : kf[ko + 1];
        s[2 * i] = xr * kr - xi * ki;
        s[2 * i + 1] = xr * ki + xi * kr;
    }

    /// <summary>p[o..o+1] ← conj(p)·(xr + i·xi).</summary>
    private static void ConjTimes(ArrayView<float> p, int o, float xr, float xi)
    {
        float ur = p[o], ui = p[o + 1];
        p[o] = ur * xr + ui * xi;
        p[o + 1] = ur * xi - ui * xr;
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Forward(Tensor u, Tensor k, Tensor y, int n)
    {
        int len = u.Size(2), kRows = k.Length / len;
        using var kf = Spectra(k, n);
        Run(u, kf, y, null, n, kRows, conj: false);
    }

    public static void Backward(Tensor u, Tensor k, Tensor dy, Tensor? du, Tensor? dk, int n)
    {
        int len = u.Size(2), rows = u.Length / len, kRows = k.Length / len, bins = n / 2 + 1;
        using var kf = du is null ? null : Spectra(k, n);
        using var p = dk is null ? null : Spectra(u, n);
        Run(dy, kf, du, p, n, kRows, conj: true);
        if (dk is null) return;
        if (kRows == rows)
        {
            FftGpu.Irfft(p!, dk, n, 1f, 1f);
            return;
        }
        using var batched = p!.Reshape(rows / kRows, kRows, bins, 2);
        using var sum = Elementwise.SumTo(batched, [kRows, bins, 2]);
        FftGpu.Irfft(sum, dk, n, 1f, 1f);
    }

    /// <summary>rfft of each row of t to length n: [rows, n/2+1, 2].</summary>
    private static Tensor Spectra(Tensor t, int n)
    {
        int len = t.Size(-1), rows = t.Length / len;
        var s = Tensor.Empty([rows, n / 2 + 1, 2], DType.Float32, t.Device);
        FftGpu.Rfft(t, s, n, 1f, 1f);
        return s;
    }

    /// <summary>y = irfft(rfft(x)·K)[:L] when y is given; p ← conj(p)·rfft(x) when p is given.</summary>
    private static void Run(Tensor x, Tensor? kf, Tensor? y, Tensor? p, int n, int kRows, bool conj)
    {
        var dev = Dev(x);
        int len = x.Size(2), rows = x.Length / len, m = n / 2;
        var a = new FftConvArgs
        {
            Len = len, Size = m, Bits = BitOperations.Log2((uint)m), KRows = kRows,
            Conj = conj ? 1 : 0, WriteY = y is null ? 0 : 1, UpdateP = p is null ? 0 : 1,
        };
        // Views not used by a launch (WriteY = 0 or UpdateP = 0) are bound to x's, never read or written.
        ArrayView<float> kv = kf?.View ?? x.View, yv = y?.View ?? x.View, pv = p?.View ?? x.View;
        if (m <= FftGpu.SharedLimit(dev))
        {
            var kernel = dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftConvArgs>>(
                ConvRowsKernel, acc => acc.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftConvArgs>(ConvRowsKernel));
            var config = new KernelConfig(rows, FftGpu.GroupSize(dev, m), SharedMemoryConfig.RequestDynamic<float>(n));
            kernel(config, x.View, kv, yv, pv, FftTwiddles.Get(n).On(dev).View, a);
            return;
        }
        using var s = Spectra(x, n);
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftConvArgs>>(SpectrumKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftConvArgs>(SpectrumKernel))
            (s.Length / 2, s.View, kv, pv, a);
        if (y is not null) FftGpu.Irfft(s, y, n, 1f, 1f);
    }
}
