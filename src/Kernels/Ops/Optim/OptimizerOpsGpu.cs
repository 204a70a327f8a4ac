using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="OptimizerOps"/>: one thread per element for the updates; a two-stage grouped reduction
/// for the sum of squares (grid-stride partial sums per group, then one group adds the partials to the total), in a
/// fixed order so the result is deterministic.
/// </summary>
internal static class OptimizerOpsGpu
{
    [GpuKernel]
    internal static void AdamWKernel(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, ArrayView<float> v, AdamWCoefficients c)
    {
        float gi = g[i];
        float mi = c.Moment1(m[i], gi), vi = c.Moment2(v[i], gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = c.Param(p[i], mi, vi);
    }

    /// <summary>SGD update; without momentum <paramref name="b"/> is any view and is not touched.</summary>
    [GpuKernel]
    internal static void SgdKernel(Index1D i, ArrayView<float> p, ArrayView<float> g, ArrayView<float> b, SgdCoefficients c)
    {
        float bi = c.Momentum != 0f ? b[i] : 0f;
        float pi = p[i];
        p[i] = pi - c.Lr * c.Direction(pi, g[i], ref bi);
        if (c.Momentum != 0f) b[i] = bi;
    }

    /// <summary>partials[group] = Σ x² over the elements this group visits (grid stride); group size a power of two.</summary>
    [GpuKernel(Grouped = true)]
    internal static void SumOfSquaresPartialKernel(ArrayView<float> x, ArrayView<float> partials, int n)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, size = Group.DimX;
        float acc = 0f;
        for (int i = Grid.IdxX * size + tid; i < n; i += Grid.DimX * size)
        {
            float xi = x[i];
            acc += xi * xi;
        }
        shared[tid] = acc;
        Group.Barrier();
        for (int s = size / 2; s > 0; s /= 2)
        {
            if (tid < s) shared[tid] += shared[tid + s];
            Group.Barrier();
        }
        if (tid == 0) partials[Grid.IdxX] = shared[0];
    }

    /// <summary>One group: total[0] += Σ partials (group size a power of two).</summary>
    [GpuKernel(Grouped = true)]
    internal static void AddPartialsKernel(ArrayView<float> partials, ArrayView<float> total, int count)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, size = Group.DimX;
        float acc = 0f;
        for (int i = tid; i < count; i += size) acc += partials[i];
        shared[tid] = acc;
        Group.Barrier();
        for (int s = size / 2; s > 0; s /= 2)
        {
            if (tid < s) shared[tid] += shared[tid + s];
            Group.Barrier();
        }
        if (tid == 0) total[0] += shared[0];
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void AdamW(Tensor p, Tensor g, Tensor m, Tensor v, AdamWCoefficients c)
        => Dev(p).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWCoefficients>>(AdamWKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AdamWCoefficients>(AdamWKernel))
            (p.Length, p.View, g.View, m.View, v.View, c);

    public static void Sgd(Tensor p, Tensor g, Tensor b, SgdCoefficients c)
        => Dev(p).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdCoefficients>>(SgdKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, SgdCoefficients>(SgdKernel))
            (p.Length, p.View, g.View, b.View, c);

    public static void AddSumOfSquares(Tensor x, Tensor total)
    {
        var dev = Dev(x);
        int size = 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)dev.MaxGroupSize)); // power of two
        int groups = Math.Min((x.Length + size - 1) / size, 4 * size);
        using var partials = Tensor.Empty(new[] { groups }, DType.Float32, x.Device);
        var shared = SharedMemoryConfig.RequestDynamic<float>(size);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, int>>(SumOfSquaresPartialKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(SumOfSquaresPartialKernel))
            (new KernelConfig(groups, size, shared), x.View, partials.View, x.Length);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, int>>(AddPartialsKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int>(AddPartialsKernel))
            (new KernelConfig(1, size, shared), partials.View, total.View, groups);
    }
}
