using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>ILGPU kernel of <see cref="DropoutOps"/>: one thread per element (trivially parallel).</summary>
internal static class DropoutOpsGpu
{
    [GpuKernel]
    internal static void ApplyKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, ulong key, uint threshold, float scale)
        => y[i] = DropoutOps.Draw(key, i) >= threshold ? x[i] * scale : 0f;

    public static void Apply(Tensor x, Tensor y, ulong key, uint threshold, float scale)
        => ((IlgpuDevice)x.Device).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ulong, uint, float>>(ApplyKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ulong, uint, float>(ApplyKernel))
            (x.Length, x.View, y.View, key, threshold, scale);
}
