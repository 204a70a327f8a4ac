namespace Ssm.Kernels;

/// <summary>
/// The one seeded random generator of Ssm (xoshiro256**, seeded through SplitMix64): same seed, same numbers, on every
/// platform. Every initializer and task generator takes one.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spare;

    /// <summary>Creates a generator from a seed.</summary>
    public Rng(long seed)
    {
        ulong x = (ulong)seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
    }

    /// <summary>The full state, for checkpointing (exact resume).</summary>
    public ulong[] GetState() => new[] { _s0, _s1, _s2, _s3 };

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    public void SetState(ulong[] state)
    {
        if (state is not { Length: 4 }) throw new ArgumentException("Rng.SetState: expected 4 words.", nameof(state));
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        _spare = null;
    }

    /// <summary>A new independent generator derived from this one (for a sub-task or a layer).</summary>
    public Rng Fork() => new((long)NextUInt64());

    /// <summary>Next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = RotL(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotL(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [lo, hi).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * NextDouble();

    /// <summary>Uniform integer in [lo, hi) (unbiased).</summary>
    public int Next(int lo, int hi)
    {
        if (hi <= lo) throw new ArgumentOutOfRangeException(nameof(hi), $"Rng.Next: empty range [{lo}, {hi}).");
        ulong range = (ulong)((long)hi - lo);
        ulong limit = ulong.MaxValue - ulong.MaxValue % range;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (int)(lo + (long)(r % range));
    }

    /// <summary>Uniform integer in [0, n).</summary>
    public int Next(int n) => Next(0, n);

    /// <summary>Standard normal (Box–Muller).</summary>
    public double Normal()
    {
        if (_spare is double s) { _spare = null; return s; }
        double u1, u2;
        do u1 = NextDouble(); while (u1 <= double.Epsilon);
        u2 = NextDouble();
        double r = Math.Sqrt(-2 * Math.Log(u1));
        _spare = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="dst"/> with N(mean, std²) samples.</summary>
    public void FillNormal(Span<float> dst, double mean = 0, double std = 1)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)(mean + std * Normal());
    }

    /// <summary>Fills <paramref name="dst"/> with U[lo, hi) samples.</summary>
    public void FillUniform(Span<float> dst, double lo, double hi)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)Uniform(lo, hi);
    }

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A tensor of N(mean, std²) samples on <paramref name="device"/>.</summary>
    public Tensor Normal(ReadOnlySpan<int> shape, double mean = 0, double std = 1, Device? device = null)
    {
        var host = new float[Shapes.Numel(shape)];
        FillNormal(host, mean, std);
        return Tensor.From(host, shape, device);
    }

    /// <summary>A tensor of U[lo, hi) samples on <paramref name="device"/>.</summary>
    public Tensor Uniform(ReadOnlySpan<int> shape, double lo, double hi, Device? device = null)
    {
        var host = new float[Shapes.Numel(shape)];
        FillUniform(host, lo, hi);
        return Tensor.From(host, shape, device);
    }

    private static ulong RotL(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
