using System.Runtime.Intrinsics;

namespace Ssm.Kernels;

/// <summary>Managed CPU implementation of <see cref="DropoutOps"/>: the hash of 8 counters per Vector256 step.</summary>
internal static class DropoutOpsCpu
{
    private const int Chunk = 16384;

    public static void Apply(Tensor x, Tensor y, ulong key, uint threshold, float scale)
    {
        float[] xa = x.Data, ya = y.Data;
        int xo = x.Offset, yo = y.Offset;
        CpuParallel.For(x.Length, Chunk, (s, e) => Run(xa, xo, ya, yo, s, e, key, threshold, scale));
    }

    private static void Run(float[] xa, int xo, float[] ya, int yo, int s, int e, ulong key, uint threshold, float scale)
    {
        int i = s;
        if (Vector256.IsHardwareAccelerated)
        {
            var keyV = Vector256.Create(key);
            var gamma = Vector256.Create(DropoutOps.Gamma);
            var lanes = Vector256.Create(1UL, 2UL, 3UL, 4UL);
            var four = Vector256.Create(4UL);
            var thr = Vector256.Create(threshold);
            var scaleV = Vector256.Create(scale);
            for (; i + 8 <= e; i += 8)
            {
                var c0 = Vector256.Create((ulong)i) + lanes; // counters i+1 … i+4
                var r0 = Vector256.ShiftRightLogical(Mix(keyV + c0 * gamma), 33);
                var r1 = Vector256.ShiftRightLogical(Mix(keyV + (c0 + four) * gamma), 33);
                var keep = Vector256.GreaterThanOrEqual(Vector256.Narrow(r0, r1), thr).AsSingle();
                var xv = Vector256.Create(new ReadOnlySpan<float>(xa, xo + i, 8));
                (xv * scaleV & keep).CopyTo(new Span<float>(ya, yo + i, 8));
            }
        }
        for (; i < e; i++) ya[yo + i] = DropoutOps.Draw(key, i) >= threshold ? xa[xo + i] * scale : 0f;
    }

    private static Vector256<ulong> Mix(Vector256<ulong> z)
    {
        z = (z ^ Vector256.ShiftRightLogical(z, 30)) * Vector256.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ Vector256.ShiftRightLogical(z, 27)) * Vector256.Create(0x94D049BB133111EBUL);
        return z ^ Vector256.ShiftRightLogical(z, 31);
    }
}
