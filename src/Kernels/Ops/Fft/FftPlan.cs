using System.Numerics;
using System.Runtime.CompilerServices;

namespace Ssm.Kernels;

/// <summary>
/// Radix-2 twiddle factors, computed in double and stored as float (split re/im arrays for the CPU, an interleaved
/// tensor per ILGPU device). Entry h + j (h = 1, 2, 4, …, Size/2; 0 ≤ j &lt; h) is W_{2h}^j = e^{−πij/h}, the twiddle of
/// butterfly j in the stage of half-span h; entry 0 is unused. The table for a size holds every smaller table as its
/// prefix, and entries m + k (k &lt; m) of the table for Size = n = 2m are W_n^k, the twiddles of the real-FFT
/// post/pre-processing of length n.
/// </summary>
internal sealed class FftTwiddles
{
    private static readonly ConcurrentDictionaryCache<int, FftTwiddles> Cache = new(size => new FftTwiddles(size));
    private readonly ConditionalWeakTable<IlgpuDevice, Tensor> _onDevice = new();

    private FftTwiddles(int size)
    {
        Size = size;
        Re = new float[size];
        Im = new float[size];
        Re[0] = 1;
        for (int h = 1; h < size; h <<= 1)
            for (int j = 0; j < h; j++)
            {
                var (s, c) = double.SinCosPi(-(double)j / h);
                Re[h + j] = (float)c;
                Im[h + j] = (float)s;
            }
    }

    /// <summary>Table length (a power of two, at least 2).</summary>
    public int Size { get; }

    /// <summary>Real parts.</summary>
    public float[] Re { get; }

    /// <summary>Imaginary parts.</summary>
    public float[] Im { get; }

    /// <summary>The table for transforms up to <paramref name="size"/> (a power of two), cached.</summary>
    public static FftTwiddles Get(int size) => Cache.Get(Math.Max(size, 2));

    /// <summary>The table as an interleaved [Size, 2] tensor on <paramref name="device"/>, cached per device.</summary>
    public Tensor On(IlgpuDevice device) => _onDevice.GetValue(device, d => Interleaved(Re, Im, d));

    internal static Tensor Interleaved(float[] re, float[] im, IlgpuDevice device)
    {
        var data = new float[2 * re.Length];
        for (int i = 0; i < re.Length; i++) { data[2 * i] = re[i]; data[2 * i + 1] = im[i]; }
        return Tensor.From(data, new[] { re.Length, 2 }, device).DetachFromScope();
    }
}

/// <summary>
/// Bluestein's chirp-z plan for a complex DFT of any length N (Bluestein 1970; Rabiner, Schafer &amp; Rader 1969):
/// with w_j = e^{−πi j²/N}, X_k = w_k · Σ_j (x_j w_j) · conj(w_{k−j}), a circular convolution of length
/// M = 2^⌈log2(2N−1)⌉ done by power-of-two FFTs. <see cref="FilterRe"/>/<see cref="FilterIm"/> hold
/// DFT_M(conj w) / M in bit-reversed order (the order a decimation-in-frequency FFT leaves its output in), computed in
/// double. j² is reduced mod 2N in integers so the chirp angles stay exact for large N.
/// </summary>
internal sealed class BluesteinPlan
{
    private static readonly ConcurrentDictionaryCache<int, BluesteinPlan> Cache = new(n => new BluesteinPlan(n));
    private readonly ConditionalWeakTable<IlgpuDevice, Tensor> _chirp = new(), _filter = new();

    private BluesteinPlan(int n)
    {
        N = n;
        M = (int)BitOperations.RoundUpToPowerOf2((uint)(2 * n - 1));
        Bits = BitOperations.Log2((uint)M);
        Twiddles = FftTwiddles.Get(M);
        ChirpRe = new float[n];
        ChirpIm = new float[n];
        var fr = new double[M];
        var fi = new double[M];
        for (int j = 0; j < n; j++)
        {
            long r = (long)j * j % (2L * n);
            var (s, c) = double.SinCosPi(-(double)r / n);
            ChirpRe[j] = (float)c;
            ChirpIm[j] = (float)s;
            fr[j] = c; fi[j] = -s;
            if (j > 0) { fr[M - j] = c; fi[M - j] = -s; }
        }
        DoubleFft(fr, fi);
        FilterRe = new float[M];
        FilterIm = new float[M];
        for (int k = 0; k < M; k++)
        {
            int p = FftMath.Rev(k, Bits);
            FilterRe[p] = (float)(fr[k] / M);
            FilterIm[p] = (float)(fi[k] / M);
        }
    }

    /// <summary>Transform length.</summary>
    public int N { get; }

    /// <summary>Power-of-two convolution length ≥ 2N − 1.</summary>
    public int M { get; }

    /// <summary>log2 M.</summary>
    public int Bits { get; }

    /// <summary>Twiddles for the length-M transforms.</summary>
    public FftTwiddles Twiddles { get; }

    /// <summary>Chirp w_j = e^{−πi j²/N}, real parts.</summary>
    public float[] ChirpRe { get; }

    /// <summary>Chirp, imaginary parts.</summary>
    public float[] ChirpIm { get; }

    /// <summary>DFT_M of the conjugate chirp, divided by M, bit-reversed order: real parts.</summary>
    public float[] FilterRe { get; }

    /// <summary>Filter, imaginary parts.</summary>
    public float[] FilterIm { get; }

    /// <summary>The plan for length <paramref name="n"/>, cached.</summary>
    public static BluesteinPlan Get(int n) => Cache.Get(n);

    /// <summary>The chirp as an interleaved [N, 2] tensor on <paramref name="device"/>.</summary>
    public Tensor ChirpOn(IlgpuDevice device) => _chirp.GetValue(device, d => FftTwiddles.Interleaved(ChirpRe, ChirpIm, d));

    /// <summary>The filter as an interleaved [M, 2] tensor on <paramref name="device"/>.</summary>
    public Tensor FilterOn(IlgpuDevice device) => _filter.GetValue(device, d => FftTwiddles.Interleaved(FilterRe, FilterIm, d));

    /// <summary>In-place forward DFT of a power-of-two length in double precision (plan set-up only).</summary>
    private static void DoubleFft(double[] re, double[] im)
    {
        int n = re.Length, bits = BitOperations.Log2((uint)n);
        for (int i = 0; i < n; i++)
        {
            int j = FftMath.Rev(i, bits);
            if (j > i) { (re[i], re[j]) = (re[j], re[i]); (im[i], im[j]) = (im[j], im[i]); }
        }
        for (int h = 1; h < n; h <<= 1)
            for (int s = 0; s < n; s += 2 * h)
                for (int j = 0; j < h; j++)
                {
                    var (ws, wc) = double.SinCosPi(-(double)j / h);
                    int a = s + j, b = a + h;
                    double tr = re[b] * wc - im[b] * ws, ti = re[b] * ws + im[b] * wc;
                    re[b] = re[a] - tr; im[b] = im[a] - ti;
                    re[a] += tr; im[a] += ti;
                }
    }
}

/// <summary>A thread-safe lazily filled cache (one value per key, created once).</summary>
internal sealed class ConcurrentDictionaryCache<TKey, TValue>(Func<TKey, TValue> create) where TKey : notnull
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TKey, Lazy<TValue>> _items = new();

    public TValue Get(TKey key) => _items.GetOrAdd(key, k => new Lazy<TValue>(() => create(k))).Value;
}
