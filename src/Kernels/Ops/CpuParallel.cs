namespace Ssm.Kernels;

/// <summary>Work splitting for CPU ops: contiguous chunks over <see cref="CpuDevice.Threads"/> workers, inline when small.</summary>
internal static class CpuParallel
{
    /// <summary>Runs <paramref name="body"/>(start, end) over [0, n) in contiguous chunks; inline when n &lt; <paramref name="minChunk"/>·2.</summary>
    public static void For(int n, int minChunk, Action<int, int> body)
    {
        int threads = CpuDevice.Threads;
        int chunks = Math.Min(threads * 4, n / Math.Max(minChunk, 1));
        if (chunks <= 1 || threads == 1)
        {
            if (n > 0) body(0, n);
            return;
        }
        Parallel.For(0, chunks, CpuDevice.ParallelOptions, c =>
        {
            int start = (int)((long)n * c / chunks), end = (int)((long)n * (c + 1) / chunks);
            body(start, end);
        });
    }

    /// <summary>Runs <paramref name="body"/>(i) for each i in [0, n) on the worker pool (one item per task; use for coarse items).</summary>
    public static void Each(int n, Action<int> body)
    {
        if (n == 1 || CpuDevice.Threads == 1)
        {
            for (int i = 0; i < n; i++) body(i);
            return;
        }
        Parallel.For(0, n, CpuDevice.ParallelOptions, body);
    }
}
