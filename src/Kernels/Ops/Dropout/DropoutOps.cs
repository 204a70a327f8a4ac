namespace Ssm.Kernels;

// Dropout with a counter-based mask (no mask tensor is stored):
//   keep(i) = r(key, i) ≥ round(p·2³¹),  r(key, i) = SplitMix64(key + (i+1)·γ) >> 33  (uniform on [0, 2³¹))
//   y_i = keep(i) ? x_i / (1 − p) : 0
// key = SplitMix64 finalizer of the seed, γ = 0x9E3779B97F4A7C15 (Steele, Lea & Flood, "Fast splittable pseudorandom
// number generators", OOPSLA 2014: the SplitMix64 output for counter i). Integer arithmetic only, so the CPU and the
// ILGPU kernels produce the identical mask for the same (seed, element index). The backward pass is the same map
// applied to dy with the same seed: dx_i = keep(i) ? dy_i / (1 − p) : 0.

/// <summary>
/// Dropout whose mask is a pure function of (seed, flat element index): the forward pass and the backward pass
/// (<see cref="Apply"/> on the output gradient with the same seed) regenerate the same mask, and every device gives the
/// identical mask.
/// </summary>
public static class DropoutOps
{
    internal const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>
    /// y = x·mask/(1 − p), where element i is dropped with probability <paramref name="p"/> as decided by
    /// (<paramref name="seed"/>, i). Writes into <paramref name="output"/> when given (same number of elements; may alias x).
    /// The gradient of this op is <c>Apply(dy, p, seed)</c>. p = 1 drops everything (output zeros).
    /// </summary>
    public static Tensor Apply(Tensor x, float p, ulong seed, Tensor? output = null)
    {
        const string op = "DropoutOps.Apply";
        Guard.DType(op, x, "x", DType.Float32);
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, $"{op}: p must be in [0, 1], got {p}.");
        var y = output ?? Tensor.Empty(x.Shape, DType.Float32, x.Device);
        Guard.DType(op, y, "output", DType.Float32);
        Guard.SameDevice(op, x, "x", y, "output");
        if (y.Length != x.Length)
            throw new ArgumentException($"{op}: output has shape {Shapes.Format(y.Shape)}, expected {x.Length} elements like x {Shapes.Format(x.Shape)}.", nameof(output));
        if (x.Length == 0) return y;
        ulong key = Mix(seed);
        uint threshold = Threshold(p);
        float scale = p < 1f ? (float)(1.0 / (1.0 - p)) : 0f;
        if (x.Device.IsIlgpu) DropoutOpsGpu.Apply(x, y, key, threshold, scale);
        else DropoutOpsCpu.Apply(x, y, key, threshold, scale);
        return y;
    }

    /// <summary>Elements whose 31-bit draw is below this are dropped: round(p·2³¹).</summary>
    internal static uint Threshold(float p) => (uint)Math.Round(p * 2147483648.0);

    /// <summary>The uniform 31-bit draw of element <paramref name="index"/> under <paramref name="key"/>.</summary>
    internal static uint Draw(ulong key, int index) => (uint)(Mix(key + ((ulong)index + 1UL) * Gamma) >> 33);

    /// <summary>The SplitMix64 finalizer (a bijection of 64-bit words with full avalanche).</summary>
    internal static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
