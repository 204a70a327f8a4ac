using System.Collections.Concurrent;

namespace Ssm.Kernels;

// Rotary position embedding (RoFormer, Su et al. 2021). For a row x of head dimension D at position p, the first R
// (rotary dim, even) channels form R/2 pairs (a_k, b_k), k = 0..R/2−1, each rotated by the angle θ_k = p·base^(−2k/R):
//   a' = a·cos θ − b·sin θ,   b' = b·cos θ + a·sin θ;   channels R..D−1 pass through unchanged.
// Pairing: half-split (GPT-NeoX / HF Llama `rotate_half`): a_k = x[k], b_k = x[k + R/2] — the default; interleaved
// (GPT-J / RoFormer / Meta's complex form): a_k = x[2k], b_k = x[2k+1].
// The backward is the inverse rotation (angle −θ): the rotation is orthogonal, so its transpose is its inverse.
// Relative positions: (R_m q)·(R_n k) depends only on m − n, which is what LM-Infinite's distance limit exploits: its
// global branch scores a far key with the query rotated to the fixed distance and the key unrotated (position 0),
// see Attention.LambdaForward and F.LmInfiniteAttention.

/// <summary>
/// Rotary position embedding over x [B, H, L, D] with cos/sin tables computed in float64 and cached per device, rotary
/// dim and base (positions [0, P) with P a power of two that grows as needed; older tables stay alive, at most doubling
/// the memory). Positions are offset + l, or given explicitly per row (shared by the batch) or per batch and row.
/// CPU: rows in parallel; ILGPU: one thread per element.
/// </summary>
public static class Rope
{
    private static readonly ConcurrentDictionary<(Device, int, float, int), Lazy<RopeTable>> Tables = new();

    /// <summary>
    /// Rotates x [B, H, L, D] at positions <paramref name="offset"/> + l. <paramref name="rotaryDim"/> (default D, even)
    /// channels are rotated; <paramref name="interleaved"/> pairs (2k, 2k+1) instead of the default half split (k, k + R/2)
    /// used by GPT-NeoX and HF Llama.
    /// </summary>
    public static Tensor Apply(Tensor x, int offset = 0, float @base = 10000f, int? rotaryDim = null, bool interleaved = false)
        => Run("Rope.Apply", x, offset, null, @base, rotaryDim, interleaved, inverse: false);

    /// <summary>
    /// Rotates x [B, H, L, D] at explicit <paramref name="positions"/> (≥ 0): L entries shared by the batch, or B·L
    /// entries ([B, L] row-major) per batch item. Other arguments as in <see cref="Apply(Tensor, int, float, int?, bool)"/>.
    /// </summary>
    public static Tensor Apply(Tensor x, int[] positions, float @base = 10000f, int? rotaryDim = null, bool interleaved = false)
        => Run("Rope.Apply", x, 0, positions ?? throw new ArgumentNullException(nameof(positions)), @base, rotaryDim, interleaved, inverse: false);

    /// <summary>Backward of <see cref="Apply(Tensor, int, float, int?, bool)"/>: dx = the inverse rotation of <paramref name="dy"/>.</summary>
    public static Tensor Backward(Tensor dy, int offset = 0, float @base = 10000f, int? rotaryDim = null, bool interleaved = false)
        => Run("Rope.Backward", dy, offset, null, @base, rotaryDim, interleaved, inverse: true);

    /// <summary>Backward of <see cref="Apply(Tensor, int[], float, int?, bool)"/>: dx = the inverse rotation of <paramref name="dy"/>.</summary>
    public static Tensor Backward(Tensor dy, int[] positions, float @base = 10000f, int? rotaryDim = null, bool interleaved = false)
        => Run("Rope.Backward", dy, 0, positions ?? throw new ArgumentNullException(nameof(positions)), @base, rotaryDim, interleaved, inverse: true);

    private static Tensor Run(string op, Tensor x, int offset, int[]? positions, float @base, int? rotaryDim, bool interleaved, bool inverse)
    {
        ArgumentNullException.ThrowIfNull(x);
        Guard.DType(op, x, "x", DType.Float32);
        Guard.Rank(op, x, "x", 4, "[batch, heads, length, D]");
        int b = x.Size(0), h = x.Size(1), l = x.Size(2), d = x.Size(3), r = rotaryDim ?? d;
        if (r < 2 || r % 2 != 0 || r > d)
            throw new ArgumentOutOfRangeException(nameof(rotaryDim), r, $"{op}: rotaryDim is {r}, expected an even number in [2, D = {d}].");
        if (!(@base > 1f) || !float.IsFinite(@base))
            throw new ArgumentOutOfRangeException(nameof(@base), @base, $"{op}: base is {@base}, expected a finite number > 1.");
        if (offset < 0) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"{op}: offset is {offset}, expected ≥ 0.");
        int maxPos = l == 0 ? 0 : offset + l - 1;
        if (positions is not null)
        {
            if (positions.Length != l && positions.Length != b * l)
                throw new ArgumentException($"{op}: positions has {positions.Length} entries, expected L = {l} (shared by the batch) or B·L = {b * l}.", nameof(positions));
            maxPos = 0;
            foreach (int p in positions)
            {
                if (p < 0) throw new ArgumentOutOfRangeException(nameof(positions), p, $"{op}: positions contains {p}, expected ≥ 0.");
                maxPos = Math.Max(maxPos, p);
            }
        }
        if (offset > int.MaxValue - l) throw new ArgumentOutOfRangeException(nameof(offset), offset, $"{op}: offset + length overflows.");

        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        if (y.Length == 0) return y;
        var table = Table(x.Device, r, @base, maxPos);
        var spec = new RopeSpec
        {
            Heads = h, Length = l, D = d, RotaryDim = r, Offset = offset, Interleaved = interleaved ? 1 : 0,
            Positions = positions is null ? 0 : positions.Length == l ? 1 : 2, Sign = inverse ? -1f : 1f,
        };
        if (x.Device.IsIlgpu)
        {
            using var pos = positions is null ? null : Tensor.From(positions, new[] { positions.Length }, x.Device);
            RopeGpu.Apply(spec, x, y, table, pos);
        }
        else RopeCpu.Apply(spec, x, y, table, positions);
        return y;
    }

    /// <summary>The cached cos/sin table of <paramref name="device"/> covering positions 0..<paramref name="maxPosition"/>.</summary>
    internal static RopeTable Table(Device device, int rotaryDim, float @base, int maxPosition)
    {
        int capacity = 256;
        while (capacity <= maxPosition && capacity < (1 << 30)) capacity *= 2;
        if (capacity <= maxPosition) capacity = maxPosition + 1;
        return Tables.GetOrAdd((device, rotaryDim, @base, capacity),
            key => new Lazy<RopeTable>(() => RopeTable.Create(key.Item1, key.Item2, key.Item3, key.Item4))).Value;
    }
}

/// <summary>cos θ and sin θ for positions [0, Capacity) and frequencies k ∈ [0, R/2), each [Capacity, R/2] (computed in float64).</summary>
internal sealed class RopeTable
{
    private RopeTable(int capacity, Tensor cos, Tensor sin)
    {
        Capacity = capacity;
        Cos = cos;
        Sin = sin;
    }

    public int Capacity { get; }
    public Tensor Cos { get; }
    public Tensor Sin { get; }

    public static RopeTable Create(Device device, int rotaryDim, float @base, int capacity)
    {
        int half = rotaryDim / 2;
        if ((long)capacity * half > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, $"Rope: a table for positions up to {capacity} with {half} frequencies is too large.");
        var cos = new float[capacity * half];
        var sin = new float[cos.Length];
        for (int k = 0; k < half; k++)
        {
            double invFreq = Math.Pow(@base, -2.0 * k / rotaryDim);
            for (int p = 0; p < capacity; p++)
            {
                double angle = p * invFreq;
                cos[p * half + k] = (float)Math.Cos(angle);
                sin[p * half + k] = (float)Math.Sin(angle);
            }
        }
        var shape = new[] { capacity, half };
        return new RopeTable(capacity, Tensor.From(cos, shape, device).DetachFromScope(), Tensor.From(sin, shape, device).DetachFromScope());
    }
}

/// <summary>Sizes and options of one RoPE call (also the ILGPU kernel parameter).</summary>
internal struct RopeSpec
{
    /// <summary>Heads H.</summary>
    public int Heads;
    /// <summary>Rows per head L.</summary>
    public int Length;
    /// <summary>Head dimension D.</summary>
    public int D;
    /// <summary>Rotated channels R (even, ≤ D).</summary>
    public int RotaryDim;
    /// <summary>Position of row 0 when no explicit positions are given.</summary>
    public int Offset;
    /// <summary>1: pairs (2k, 2k+1); 0: pairs (k, k + R/2).</summary>
    public int Interleaved;
    /// <summary>0: offset + l; 1: positions[l]; 2: positions[b·L + l].</summary>
    public int Positions;
    /// <summary>+1 for the rotation, −1 for its inverse.</summary>
    public float Sign;

    /// <summary>Index into the explicit positions for batch item b, row l.</summary>
    public readonly int PositionIndex(int b, int l) => Positions == 2 ? b * Length + l : l;

    /// <summary>The frequency index k of rotated channel c &lt; R.</summary>
    public readonly int Frequency(int c) => Interleaved != 0 ? c >> 1 : c < RotaryDim / 2 ? c : c - RotaryDim / 2;

    /// <summary>The channel paired with rotated channel c &lt; R.</summary>
    public readonly int Partner(int c) => Interleaved != 0 ? c ^ 1 : c < RotaryDim / 2 ? c + RotaryDim / 2 : c - RotaryDim / 2;

    /// <summary>True when rotated channel c is the first member a of its pair (a' = a·cos − b·sin).</summary>
    public readonly bool IsFirst(int c) => Interleaved != 0 ? (c & 1) == 0 : c < RotaryDim / 2;

    /// <summary>The rotated value of a channel from its value, its partner's value and the angle's cos and sin.</summary>
    public readonly float Rotate(bool first, float value, float partner, float cos, float sin)
    {
        float s = Sign * sin;
        return first ? value * cos - partner * s : value * cos + partner * s;
    }
}
