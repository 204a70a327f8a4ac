using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Scalar arguments of the row transforms (kernel parameter struct).</summary>
internal struct FftRowArgs
{
    /// <summary>Input row length: real samples (forward) or spectrum bins (inverse).</summary>
    public int Len;
    /// <summary>Output row length: spectrum bins (forward) or real samples kept (inverse, ≤ n).</summary>
    public int OutLen;
    /// <summary>Complex transform length: n/2 (radix-2 real path) or N (Bluestein).</summary>
    public int Size;
    /// <summary>log2 of the radix-2 length.</summary>
    public int Bits;
    /// <summary>Scale of the edge bins (0 and n/2).</summary>
    public float Edge;
    /// <summary>Scale of the other bins.</summary>
    public float Mid;
}

/// <summary>
/// ILGPU kernels of <see cref="Fft"/> (same algorithms as <see cref="FftCpu"/>). Radix-2 real length n = 2m with
/// m ≤ <see cref="SharedLimit"/>: one group per row does load, in-place DIF (or DIT) stages in dynamic shared memory
/// and the real split in one launch. Larger m: global-memory radix-2 stages (one launch each, one thread per butterfly)
/// until the sub-transforms fit in shared memory, then one grouped launch for those blocks (DIF: global stages first;
/// DIT: blocks first), plus separate split/store passes. Bluestein lengths: chirp load, power-of-two DIF, product with
/// the filter (both bit-reversed), DIT, chirp store. Group sizes follow <see cref="IlgpuDevice.MaxGroupSize"/>.
/// </summary>
internal static class FftGpu
{
    /// <summary>Tests lower this to force the global-memory path at small sizes (0: from the device).</summary>
    internal static int SharedLimitOverride;

    /// <summary>Largest complex block (a power of two) transformed in one group's shared memory on this device.</summary>
    internal static int SharedLimit(IlgpuDevice dev)
    {
        if (SharedLimitOverride > 0) return SharedLimitOverride;
        long bytes = Math.Min(dev.Accelerator.MaxSharedMemoryPerGroup, 48 * 1024);
        return (int)Math.Min(4096, BitOperations.RoundUpToPowerOf2((uint)(bytes / 8 + 1)) / 2);
    }

    internal static int GroupSize(IlgpuDevice dev, int size) => Math.Clamp(size / 2, 1, dev.MaxGroupSize);

    // ---- device functions ----------------------------------------------------------------------------------------

    /// <summary>Radix-2 DIF butterfly b of the stage with half-span h on the complex array at element offset o.</summary>
    internal static void DifButterfly(ArrayView<float> d, int o, int b, int h, ArrayView<float> tw)
    {
        int j = b & (h - 1), i = 2 * (o + ((b - j) << 1) + j), i2 = i + 2 * h;
        float ar = d[i], ai = d[i + 1], br = d[i2], bi = d[i2 + 1], cr = tw[2 * (h + j)], ci = tw[2 * (h + j) + 1];
        float dr = ar - br, di = ai - bi;
        d[i] = ar + br; d[i + 1] = ai + bi;
        d[i2] = dr * cr - di * ci; d[i2 + 1] = dr * ci + di * cr;
    }

    /// <summary>Radix-2 DIT butterfly (conjugate twiddles: the unnormalized inverse).</summary>
    internal static void DitButterfly(ArrayView<float> d, int o, int b, int h, ArrayView<float> tw)
    {
        int j = b & (h - 1), i = 2 * (o + ((b - j) << 1) + j), i2 = i + 2 * h;
        float br = d[i2], bi = d[i2 + 1], cr = tw[2 * (h + j)], ci = tw[2 * (h + j) + 1];
        float tr = br * cr + bi * ci, ti = bi * cr - br * ci, ar = d[i], ai = d[i + 1];
        d[i] = ar + tr; d[i + 1] = ai + ti;
        d[i2] = ar - tr; d[i2 + 1] = ai - ti;
    }

    /// <summary>All DIF stages of a length-<paramref name="size"/> transform held in shared memory (whole group).</summary>
    internal static void SharedDif(ArrayView<float> sh, int size, ArrayView<float> tw)
    {
        int half = size >> 1;
        for (int h = half; h >= 1; h >>= 1)
        {
            for (int b = Group.IdxX; b < half; b += Group.DimX) DifButterfly(sh, 0, b, h, tw);
            Group.Barrier();
        }
    }

    /// <summary>All DIT stages of a length-<paramref name="size"/> transform held in shared memory (whole group).</summary>
    internal static void SharedDit(ArrayView<float> sh, int size, ArrayView<float> tw)
    {
        int half = size >> 1;
        for (int h = 1; h <= half; h <<= 1)
        {
            for (int b = Group.IdxX; b < half; b += Group.DimX) DitButterfly(sh, 0, b, h, tw);
            Group.Barrier();
        }
    }

    /// <summary>
    /// Real split of pair k: Z (bit-reversed, at complex offset zo) → spectrum bins k and m−k (those below a.OutLen) at
    /// complex offset yo.
    /// </summary>
    internal static void PostPair(ArrayView<float> z, int zo, ArrayView<float> y, int yo, ArrayView<float> tw, int k, FftRowArgs a)
    {
        int m = a.Size, p = 2 * (zo + FftMath.Rev(k, a.Bits)), q = 2 * (zo + FftMath.Rev((m - k) & (m - 1), a.Bits));
        FftMath.Post(z[p], z[p + 1], z[q], z[q + 1], tw[2 * (m + k)], tw[2 * (m + k) + 1], out float xr, out float xi, out float vr, out float vi);
        float s = k == 0 ? a.Edge : a.Mid;
        if (k < a.OutLen) { y[2 * (yo + k)] = xr * s; y[2 * (yo + k) + 1] = xi * s; }
        if (m - k < a.OutLen) { y[2 * (yo + m - k)] = vr * s; y[2 * (yo + m - k) + 1] = vi * s; }
    }

    /// <summary>Inverse split of pair k: spectrum (a.Len bins at complex offset so) → Z_k, Z_{m−k} bit-reversed at zo.</summary>
    internal static void PrePair(ArrayView<float> spec, int so, ArrayView<float> z, int zo, ArrayView<float> tw, int k, FftRowArgs a)
    {
        int m = a.Size, q = m - k;
        float s = k == 0 ? a.Edge : a.Mid;
        float pr = k < a.Len ? spec[2 * (so + k)] * s : 0f, pi = k < a.Len && k != 0 ? spec[2 * (so + k) + 1] * s : 0f;
        float qr = q < a.Len ? spec[2 * (so + q)] * s : 0f, qi = q < a.Len && k != 0 ? spec[2 * (so + q) + 1] * s : 0f;
        FftMath.Pre(pr, pi, qr, qi, tw[2 * (m + k)], tw[2 * (m + k) + 1], out float zr, out float zi, out float vr, out float vi);
        int i = 2 * (zo + FftMath.Rev(k, a.Bits));
        z[i] = zr; z[i + 1] = zi;
        if (k != 0)
        {
            int j = 2 * (zo + FftMath.Rev(q, a.Bits));
            z[j] = vr; z[j + 1] = vi;
        }
    }

    // ---- kernels --------------------------------------------------------------------------------------------------

    /// <summary>One group per row: real row (a.Len samples, zero-padded/truncated to 2m) → spectrum (a.OutLen bins).</summary>
    [GpuKernel(Grouped = true)]
    internal static void RfftRowsKernel(ArrayView<float> x, ArrayView<float> y, ArrayView<float> tw, FftRowArgs a)
    {
        var sh = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, m = a.Size, lim = a.Len < 2 * m ? a.Len : 2 * m;
        long xo = (long)row * a.Len;
        for (int t = Group.IdxX; t < 2 * m; t += Group.DimX) sh[t] = t < lim ? x[xo + t] : 0f;
        Group.Barrier();
        SharedDif(sh, m, tw);
        for (int k = Group.IdxX; k <= m / 2; k += Group.DimX) PostPair(sh, 0, y, row * a.OutLen, tw, k, a);
    }

    /// <summary>One group per row: spectrum (a.Len bins) → real row of a.OutLen samples (the 2m outputs scaled 1/m, then zeros).</summary>
    [GpuKernel(Grouped = true)]
    internal static void IrfftRowsKernel(ArrayView<float> spec, ArrayView<float> y, ArrayView<float> tw, FftRowArgs a)
    {
        var sh = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, m = a.Size;
        for (int k = Group.IdxX; k <= m / 2; k += Group.DimX) PrePair(spec, row * a.Len, sh, 0, tw, k, a);
        Group.Barrier();
        SharedDit(sh, m, tw);
        float scale = 1f / m;
        long yo = (long)row * a.OutLen;
        for (int t = Group.IdxX; t < a.OutLen; t += Group.DimX) y[yo + t] = t < 2 * m ? sh[t] * scale : 0f;
    }

    /// <summary>One group per contiguous block of <paramref name="size"/> complex values: all DIF stages in shared memory.</summary>
    [GpuKernel(Grouped = true)]
    internal static void BlockDifKernel(ArrayView<float> d, ArrayView<float> tw, int size)
    {
        var sh = SharedMemory.GetDynamic<float>();
        long o = 2L * Grid.IdxX * size;
        for (int t = Group.IdxX; t < 2 * size; t += Group.DimX) sh[t] = d[o + t];
        Group.Barrier();
        SharedDif(sh, size, tw);
        for (int t = Group.IdxX; t < 2 * size; t += Group.DimX) d[o + t] = sh[t];
    }

    /// <summary>One group per contiguous block: all DIT stages in shared memory.</summary>
    [GpuKernel(Grouped = true)]
    internal static void BlockDitKernel(ArrayView<float> d, ArrayView<float> tw, int size)
    {
        var sh = SharedMemory.GetDynamic<float>();
        long o = 2L * Grid.IdxX * size;
        for (int t = Group.IdxX; t < 2 * size; t += Group.DimX) sh[t] = d[o + t];
        Group.Barrier();
        SharedDit(sh, size, tw);
        for (int t = Group.IdxX; t < 2 * size; t += Group.DimX) d[o + t] = sh[t];
    }

    /// <summary>One DIF stage (half-span h) over rows of <paramref name="size"/> complex values; one thread per butterfly.</summary>
    [GpuKernel]
    internal static void DifStageKernel(Index1D i, ArrayView<float> d, ArrayView<float> tw, int size, int h)
    {
        int half = size >> 1, row = i / half;
        DifButterfly(d, row * size, i - row * half, h, tw);
    }

    /// <summary>One DIT stage (half-span h).</summary>
    [GpuKernel]
    internal static void DitStageKernel(Index1D i, ArrayView<float> d, ArrayView<float> tw, int size, int h)
    {
        int half = size >> 1, row = i / half;
        DitButterfly(d, row * size, i - row * half, h, tw);
    }

    /// <summary>Real rows (a.Len samples) zero-padded/truncated into rows of 2·a.Size floats; one thread per float.</summary>
    [GpuKernel]
    internal static void PadKernel(Index1D i, ArrayView<float> x, ArrayView<float> d, FftRowArgs a)
    {
        int n = 2 * a.Size, row = i / n, t = i - row * n;
        d[i] = t < a.Len ? x[(long)row * a.Len + t] : 0f;
    }

    /// <summary>Real split; one thread per pair (row, k ≤ m/2).</summary>
    [GpuKernel]
    internal static void PostKernel(Index1D i, ArrayView<float> z, ArrayView<float> y, ArrayView<float> tw, FftRowArgs a)
    {
        int pairs = a.Size / 2 + 1, row = i / pairs;
        PostPair(z, row * a.Size, y, row * a.OutLen, tw, i - row * pairs, a);
    }

    /// <summary>Inverse real split; one thread per pair.</summary>
    [GpuKernel]
    internal static void PreKernel(Index1D i, ArrayView<float> spec, ArrayView<float> z, ArrayView<float> tw, FftRowArgs a)
    {
        int pairs = a.Size / 2 + 1, row = i / pairs;
        PrePair(spec, row * a.Len, z, row * a.Size, tw, i - row * pairs, a);
    }

    /// <summary>Rows of a.OutLen floats: a row of 2·a.Size times <paramref name="scale"/>, then zeros; one thread per output.</summary>
    [GpuKernel]
    internal static void StoreKernel(Index1D i, ArrayView<float> d, ArrayView<float> y, FftRowArgs a, float scale)
    {
        int row = i / a.OutLen, t = i - row * a.OutLen;
        y[i] = t < 2 * a.Size ? d[2L * row * a.Size + t] * scale : 0f;
    }

    /// <summary>
    /// Bluestein load, one thread per (row, j &lt; M): d_j = v_j·w_j for j &lt; N, else 0. <paramref name="hermitian"/> = 0:
    /// v = real row (a.Len samples, padded/truncated); 1: v = conj of the Hermitian extension of a.Len bins (scaled).
    /// </summary>
    [GpuKernel]
    internal static void ChirpLoadKernel(Index1D i, ArrayView<float> src, ArrayView<float> d, ArrayView<float> chirp, FftRowArgs a, int size, int hermitian)
    {
        int n = a.Size, row = i / size, j = i - row * size;
        if (j >= n)
        {
            d[2 * i] = 0f;
            d[2 * i + 1] = 0f;
            return;
        }
        float vr, vi = 0f;
        if (hermitian == 0) vr = j < a.Len ? src[(long)row * a.Len + j] : 0f;
        else
        {
            int k = 2 * j <= n ? j : n - j;
            bool edge = k == 0 || 2 * k == n;
            float s = edge ? a.Edge : a.Mid;
            long o = 2L * ((long)row * a.Len + k);
            vr = k < a.Len ? src[o] * s : 0f;
            vi = k < a.Len && !edge ? src[o + 1] * s : 0f;
            if (k == j) vi = -vi;
        }
        float cr = chirp[2 * j], ci = chirp[2 * j + 1];
        d[2 * i] = vr * cr - vi * ci;
        d[2 * i + 1] = vr * ci + vi * cr;
    }

    /// <summary>d ← d·filter, both bit-reversed; one thread per complex value.</summary>
    [GpuKernel]
    internal static void FilterKernel(Index1D i, ArrayView<float> d, ArrayView<float> filter, int size)
    {
        int f = 2 * (i % size);
        float ar = d[2 * i], ai = d[2 * i + 1], fr = filter[f], fi = filter[f + 1];
        d[2 * i] = ar * fr - ai * fi;
        d[2 * i + 1] = ar * fi + ai * fr;
    }

    /// <summary>
    /// Bluestein store, one thread per output (row, k &lt; a.OutLen). <paramref name="real"/> = 0: bin k ≤ N/2 is w_k·c_k
    /// (scaled; zero imaginary part at the edges); 1: sample t &lt; N is Re(w_t·c_t)/N. Zero beyond.
    /// </summary>
    [GpuKernel]
    internal static void ChirpStoreKernel(Index1D i, ArrayView<float> d, ArrayView<float> y, ArrayView<float> chirp, FftRowArgs a, int size, int real)
    {
        int n = a.Size, row = i / a.OutLen, k = i - row * a.OutLen;
        bool inside = real != 0 ? k < n : 2 * k <= n;
        float vr = 0f, vi = 0f;
        if (inside)
        {
            long c = 2L * ((long)row * size + k);
            float cr = d[c], ci = d[c + 1], wr = chirp[2 * k], wi = chirp[2 * k + 1];
            vr = cr * wr - ci * wi;
            vi = cr * wi + ci * wr;
        }
        if (real != 0) y[i] = vr / n;
        else
        {
            bool edge = k == 0 || 2 * k == n;
            float s = edge ? a.Edge : a.Mid;
            y[2 * i] = vr * s;
            y[2 * i + 1] = edge ? 0f : vi * s;
        }
    }

    // ---- host side ------------------------------------------------------------------------------------------------

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    /// <summary>Real FFT of length n; y [rows, bins, 2] receives bins k &lt; y.Size(-2) (zero beyond n/2).</summary>
    public static void Rfft(Tensor x, Tensor y, int n, float edge, float mid)
    {
        var dev = Dev(x);
        int bins = y.Size(-2), rows = y.Length / (2 * bins), len = x.Size(-1);
        if (FftCpu.IsPow2Real(n))
        {
            int m = n / 2;
            if (bins > m + 1) y.Zero();
            var a = new FftRowArgs { Len = len, OutLen = bins, Size = m, Bits = BitOperations.Log2((uint)m), Edge = edge, Mid = mid };
            var tw = FftTwiddles.Get(n).On(dev).View;
            if (m <= SharedLimit(dev))
            {
                RowsLaunch(dev, RfftRowsKernel, rows, m)(x.View, y.View, tw, a);
                return;
            }
            using var buf = Tensor.Empty([rows, n], DType.Float32, dev);
            Launch<FftRowArgs>(dev, PadKernel)(rows * n, x.View, buf.View, a);
            Dif(dev, buf.View, rows, m, tw);
            Launch<ArrayView<float>, FftRowArgs>(dev, PostKernel)(rows * (m / 2 + 1), buf.View, y.View, tw, a);
            return;
        }
        var plan = BluesteinPlan.Get(n);
        var b = new FftRowArgs { Len = len, OutLen = bins, Size = n, Edge = edge, Mid = mid };
        using var d = Bluestein(dev, plan, x.View, rows, b, hermitian: 0);
        ChirpStore(dev)(rows * bins, d.View, y.View, plan.ChirpOn(dev).View, b, plan.M, 0);
    }

    /// <summary>Inverse real FFT of length n; y receives samples t &lt; y.Size(-1) of each row (zero beyond n).</summary>
    public static void Irfft(Tensor spectrum, Tensor y, int n, float edge, float mid)
    {
        var dev = Dev(spectrum);
        int bins = spectrum.Size(-2), outLen = y.Size(-1), rows = y.Length / outLen;
        if (FftCpu.IsPow2Real(n))
        {
            int m = n / 2;
            var a = new FftRowArgs { Len = bins, OutLen = outLen, Size = m, Bits = BitOperations.Log2((uint)m), Edge = edge, Mid = mid };
            var tw = FftTwiddles.Get(n).On(dev).View;
            if (m <= SharedLimit(dev))
            {
                RowsLaunch(dev, IrfftRowsKernel, rows, m)(spectrum.View, y.View, tw, a);
                return;
            }
            using var buf = Tensor.Empty([rows, n], DType.Float32, dev);
            Launch<ArrayView<float>, FftRowArgs>(dev, PreKernel)(rows * (m / 2 + 1), spectrum.View, buf.View, tw, a);
            Dit(dev, buf.View, rows, m, tw);
            Launch<FftRowArgs, float>(dev, StoreKernel)(rows * outLen, buf.View, y.View, a, 1f / m);
            return;
        }
        var plan = BluesteinPlan.Get(n);
        var b = new FftRowArgs { Len = bins, OutLen = outLen, Size = n, Edge = edge, Mid = mid };
        using var d = Bluestein(dev, plan, spectrum.View, rows, b, hermitian: 1);
        ChirpStore(dev)(rows * outLen, d.View, y.View, plan.ChirpOn(dev).View, b, plan.M, 1);
    }

    /// <summary>Chirp load, DIF, filter, DIT: returns [rows, M] complex c = (v·w) ⊛ conj w.</summary>
    private static Tensor Bluestein(IlgpuDevice dev, BluesteinPlan plan, ArrayView<float> src, int rows, FftRowArgs a, int hermitian)
    {
        int size = plan.M;
        var d = Tensor.Empty([rows, size, 2], DType.Float32, dev);
        var tw = plan.Twiddles.On(dev).View;
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs, int, int>>(ChirpLoadKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs, int, int>(ChirpLoadKernel))
            (rows * size, src, d.View, plan.ChirpOn(dev).View, a, size, hermitian);
        Dif(dev, d.View, rows, size, tw);
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int>>(FilterKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(FilterKernel))
            (rows * size, d.View, plan.FilterOn(dev).View, size);
        Dit(dev, d.View, rows, size, tw);
        return d;
    }

    private static Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs, int, int> ChirpStore(IlgpuDevice dev)
        => dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs, int, int>>(ChirpStoreKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs, int, int>(ChirpStoreKernel));

    /// <summary>Forward DIF of each row of <paramref name="size"/> complex values in d (natural → bit-reversed).</summary>
    internal static void Dif(IlgpuDevice dev, ArrayView<float> d, int rows, int size, ArrayView<float> tw)
    {
        int limit = SharedLimit(dev), block = Math.Min(size, limit);
        var stage = Stage(dev, DifStageKernel);
        for (int h = size / 2; h >= block; h >>= 1) stage(rows * (size / 2), d, tw, size, h);
        Blocks(dev, BlockDifKernel, rows * (size / block), block)(d, tw, block);
    }

    /// <summary>Inverse DIT of each row (bit-reversed → natural, unnormalized).</summary>
    internal static void Dit(IlgpuDevice dev, ArrayView<float> d, int rows, int size, ArrayView<float> tw)
    {
        int limit = SharedLimit(dev), block = Math.Min(size, limit);
        Blocks(dev, BlockDitKernel, rows * (size / block), block)(d, tw, block);
        var stage = Stage(dev, DitStageKernel);
        for (int h = block; h < size; h <<= 1) stage(rows * (size / 2), d, tw, size, h);
    }

    private static Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> Stage(IlgpuDevice dev, Action<Index1D, ArrayView<float>, ArrayView<float>, int, int> kernel)
        => dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int>>(kernel,
            acc => acc.LoadAutoGroupedStreamKernel(kernel));

    private static Action<ArrayView<float>, ArrayView<float>, int> Blocks(IlgpuDevice dev, Action<ArrayView<float>, ArrayView<float>, int> kernel, int groups, int size)
    {
        var k = dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, int>>(kernel, acc => acc.LoadStreamKernel(kernel));
        var config = new KernelConfig(groups, GroupSize(dev, size), SharedMemoryConfig.RequestDynamic<float>(2 * size));
        return (d, tw, s) => k(config, d, tw, s);
    }

    /// <summary>A row kernel (one group per row, 2·size floats of dynamic shared memory) bound to its launch configuration.</summary>
    internal static Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs> RowsLaunch(IlgpuDevice dev,
        Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs> kernel, int rows, int size)
    {
        var k = dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, FftRowArgs>>(kernel, acc => acc.LoadStreamKernel(kernel));
        var config = new KernelConfig(rows, GroupSize(dev, size), SharedMemoryConfig.RequestDynamic<float>(2 * size));
        return (a, b, c, d) => k(config, a, b, c, d);
    }

    private static Action<Index1D, ArrayView<float>, ArrayView<float>, T> Launch<T>(IlgpuDevice dev, Action<Index1D, ArrayView<float>, ArrayView<float>, T> kernel)
        where T : struct
        => dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, T>>(kernel, acc => acc.LoadAutoGroupedStreamKernel(kernel));

    private static Action<Index1D, ArrayView<float>, ArrayView<float>, T1, T2> Launch<T1, T2>(IlgpuDevice dev, Action<Index1D, ArrayView<float>, ArrayView<float>, T1, T2> kernel)
        where T1 : struct where T2 : struct
        => dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, T1, T2>>(kernel, acc => acc.LoadAutoGroupedStreamKernel(kernel));
}
