using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Reductions"/>. x is viewed as [outer, n, inner]. Last-dimension reductions: one group per
/// row, each thread accumulates a strided slice, then a shared-memory tree (<see cref="GroupReduce"/>). Other dimensions:
/// one thread per output element looping over k (consecutive threads read consecutive addresses). Whole-tensor sums: a
/// grid-stride pass to at most one partial per thread of a group, then the same kernel with one group.
/// </summary>
internal static class ReductionsGpu
{
    [GpuKernel(Grouped = true)]
    internal static void SumRowsKernel(ArrayView<float> x, ArrayView<float> y, int n, float scale)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, t = Group.IdxX, start = row * n;
        float acc = 0f;
        for (int k = t; k < n; k += Group.DimX) acc += x[start + k];
        float total = GroupReduce.Sum(shared, acc);
        if (t == 0) y[row] = scale * total;
    }

    /// <summary>Group g writes scale·Σ x[i] over i ≡ (g·groupSize + thread) mod (groups·groupSize) to y[g].</summary>
    [GpuKernel(Grouped = true)]
    internal static void SumGridStrideKernel(ArrayView<float> x, ArrayView<float> y, int n, float scale)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int t = Group.IdxX, stride = Grid.DimX * Group.DimX;
        float acc = 0f;
        for (int i = Grid.IdxX * Group.DimX + t; i < n; i += stride) acc += x[i];
        float total = GroupReduce.Sum(shared, acc);
        if (t == 0) y[Grid.IdxX] = scale * total;
    }

    [GpuKernel(Grouped = true)]
    internal static void MaxRowsKernel(ArrayView<float> x, ArrayView<float> values, ArrayView<int> indices, int n)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int row = Grid.IdxX, t = Group.IdxX, start = row * n;
        float best = float.NegativeInfinity;
        int bestIndex = int.MaxValue;
        for (int k = t; k < n; k += Group.DimX)
        {
            float v = x[start + k];
            if (GroupReduce.Better(v, k, best, bestIndex))
            {
                best = v;
                bestIndex = k;
            }
        }
        int index = GroupReduce.ArgMax(shared, best, bestIndex, out float max);
        if (t == 0)
        {
            values[row] = max;
            indices[row] = index;
        }
    }

    [GpuKernel]
    internal static void SumStridedKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, int n, int inner, float scale)
    {
        int o = i / inner, start = o * n * inner + (i - o * inner);
        float acc = 0f;
        for (int k = 0; k < n; k++) acc += x[start + k * inner];
        y[i] = scale * acc;
    }

    [GpuKernel]
    internal static void MaxStridedKernel(Index1D i, ArrayView<float> x, ArrayView<float> values, ArrayView<int> indices, int n, int inner)
    {
        int o = i / inner, start = o * n * inner + (i - o * inner);
        float best = x[start];
        int bestIndex = 0;
        for (int k = 1; k < n; k++)
        {
            float v = x[start + k * inner];
            if (GroupReduce.Better(v, k, best, bestIndex))
            {
                best = v;
                bestIndex = k;
            }
        }
        values[i] = best;
        indices[i] = bestIndex;
    }

    /// <summary>dx[o, k, j] = scale·dy[o, j].</summary>
    [GpuKernel]
    internal static void SumBackwardKernel(Index1D i, ArrayView<float> dy, ArrayView<float> dx, int n, int inner, float scale)
    {
        int o = i / (n * inner), j = i % inner;
        dx[i] = scale * dy[o * inner + j];
    }

    /// <summary>dx[o, indices[o, j], j] = dy[o, j] (dx zeroed before).</summary>
    [GpuKernel]
    internal static void MaxBackwardKernel(Index1D i, ArrayView<float> dy, ArrayView<int> indices, ArrayView<float> dx, int n, int inner)
    {
        int o = i / inner, j = i - o * inner;
        dx[(o * n + indices[i]) * inner + j] = dy[i];
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void SumAll(Tensor x, Tensor y, float scale)
    {
        var dev = Dev(x);
        int n = x.Length, groupSize = GroupReduce.GroupSize(dev, int.MaxValue);
        int groups = Math.Clamp((n + 4 * groupSize - 1) / (4 * groupSize), 1, groupSize);
        var kernel = dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, float>>(SumGridStrideKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, float>(SumGridStrideKernel));
        if (groups == 1)
        {
            kernel(GroupReduce.PerRow(1, groupSize, groupSize), x.View, y.View, n, scale);
            return;
        }
        using var partials = Tensor.Empty(new[] { groups }, DType.Float32, x.Device);
        kernel(GroupReduce.PerRow(groups, groupSize, groupSize), x.View, partials.View, n, 1f);
        kernel(GroupReduce.PerRow(1, groupSize, groupSize), partials.View, y.View, groups, scale);
    }

    public static void Sum(Tensor x, Tensor y, int outer, int n, int inner, float scale)
    {
        var dev = Dev(x);
        if (inner == 1)
        {
            int groupSize = GroupReduce.GroupSize(dev, n);
            dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, float>>(SumRowsKernel,
                a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, float>(SumRowsKernel))
                (GroupReduce.PerRow(outer, groupSize, groupSize), x.View, y.View, n, scale);
            return;
        }
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, float>>(SumStridedKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, float>(SumStridedKernel))
            (outer * inner, x.View, y.View, n, inner, scale);
    }

    public static void Max(Tensor x, Tensor values, Tensor indices, int outer, int n, int inner)
    {
        var dev = Dev(x);
        if (inner == 1)
        {
            int groupSize = GroupReduce.GroupSize(dev, n);
            dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, int>>(MaxRowsKernel,
                a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, int>(MaxRowsKernel))
                (GroupReduce.PerRow(outer, groupSize, 2 * groupSize), x.View, values.View, indices.GpuView<int>(), n);
            return;
        }
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int>>(MaxStridedKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int>(MaxStridedKernel))
            (outer * inner, x.View, values.View, indices.GpuView<int>(), n, inner);
    }

    public static void SumBackward(Tensor dy, Tensor dx, int n, int inner, float scale)
        => Dev(dy).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, float>>(SumBackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, float>(SumBackwardKernel))
            (dx.Length, dy.View, dx.View, n, inner, scale);

    public static void MaxBackward(Tensor dy, Tensor indices, Tensor dx, int n, int inner)
        => Dev(dy).Kernel<Action<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>>(MaxBackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(MaxBackwardKernel))
            (dy.Length, dy.View, indices.GpuView<int>(), dx.View, n, inner);
}
