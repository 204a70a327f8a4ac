using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// Physical limits measured in C# on the same threads: peak FMA throughput (independent FMA chains in registers, the
/// widest vectors the JIT accelerates) and a STREAM-style triad a = b + s·c over arrays far larger than the caches
/// (bytes counted as in STREAM: two reads and one write per element).
/// </summary>
internal static class MachineLimits
{
    public static IEnumerable<CompareCase> Cases(bool small)
    {
        int threads = CpuDevice.Threads;
        long iterations = small ? 1000 : 20_000_000;
        int width = Vector512.IsHardwareAccelerated ? 16 : 8;
        // 12 chains × width lanes × 2 flops per FMA.
        yield return new CompareCase("limits", "fma_peak", $"{threads} threads, {width * 32}-bit", 24.0 * width * iterations * threads, "GFLOP/s",
            () => OnThreads(threads, _ => FmaChains(iterations)));

        int n = small ? 1 << 12 : 1 << 25; // 3 arrays × 128 MiB: well beyond the last-level cache
        var a = new float[n];
        var b = new float[n];
        var c = new float[n];
        new Rng(3).FillUniform(b, -1, 1);
        new Rng(4).FillUniform(c, -1, 1);
        yield return new CompareCase("limits", "triad", $"{n} floats, {threads} threads", 3.0 * sizeof(float) * n, "GB/s",
            () => OnThreads(threads, t =>
            {
                int s = (int)((long)n * t / threads), e = (int)((long)n * (t + 1) / threads);
                TensorPrimitives.MultiplyAdd(c.AsSpan(s, e - s), 1.5f, b.AsSpan(s, e - s), a.AsSpan(s, e - s));
            }));
    }

    /// <summary>Runs body(t) for t in [0, threads) on that many dedicated threads at once.</summary>
    private static void OnThreads(int threads, Action<int> body)
    {
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => body(t))).ToArray();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float FmaChains(long iterations)
        => Vector512.IsHardwareAccelerated ? Chains512(iterations) : Chains256(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains512(long iterations)
    {
        var x0 = Vector512.Create(1f); var x1 = x0; var x2 = x0; var x3 = x0; var x4 = x0; var x5 = x0;
        var x6 = x0; var x7 = x0; var x8 = x0; var x9 = x0; var x10 = x0; var x11 = x0;
        var m = Vector512.Create(0.9999f);
        var c = Vector512.Create(1e-4f);
        for (long i = 0; i < iterations; i++)
        {
            x0 = Vector512.FusedMultiplyAdd(x0, m, c); x1 = Vector512.FusedMultiplyAdd(x1, m, c);
            x2 = Vector512.FusedMultiplyAdd(x2, m, c); x3 = Vector512.FusedMultiplyAdd(x3, m, c);
            x4 = Vector512.FusedMultiplyAdd(x4, m, c); x5 = Vector512.FusedMultiplyAdd(x5, m, c);
            x6 = Vector512.FusedMultiplyAdd(x6, m, c); x7 = Vector512.FusedMultiplyAdd(x7, m, c);
            x8 = Vector512.FusedMultiplyAdd(x8, m, c); x9 = Vector512.FusedMultiplyAdd(x9, m, c);
            x10 = Vector512.FusedMultiplyAdd(x10, m, c); x11 = Vector512.FusedMultiplyAdd(x11, m, c);
        }
        return Vector512.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Chains256(long iterations)
    {
        var x0 = Vector256.Create(1f); var x1 = x0; var x2 = x0; var x3 = x0; var x4 = x0; var x5 = x0;
        var x6 = x0; var x7 = x0; var x8 = x0; var x9 = x0; var x10 = x0; var x11 = x0;
        var m = Vector256.Create(0.9999f);
        var c = Vector256.Create(1e-4f);
        for (long i = 0; i < iterations; i++)
        {
            x0 = Vector256.FusedMultiplyAdd(x0, m, c); x1 = Vector256.FusedMultiplyAdd(x1, m, c);
            x2 = Vector256.FusedMultiplyAdd(x2, m, c); x3 = Vector256.FusedMultiplyAdd(x3, m, c);
            x4 = Vector256.FusedMultiplyAdd(x4, m, c); x5 = Vector256.FusedMultiplyAdd(x5, m, c);
            x6 = Vector256.FusedMultiplyAdd(x6, m, c); x7 = Vector256.FusedMultiplyAdd(x7, m, c);
            x8 = Vector256.FusedMultiplyAdd(x8, m, c); x9 = Vector256.FusedMultiplyAdd(x9, m, c);
            x10 = Vector256.FusedMultiplyAdd(x10, m, c); x11 = Vector256.FusedMultiplyAdd(x11, m, c);
        }
        return Vector256.Sum(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11);
    }
}
