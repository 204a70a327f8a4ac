using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>ILGPU strided copy: one thread per element.</summary>
internal static class LayoutGpu
{
    [GpuKernel]
    internal static void CopyKernel(Index1D i, ArrayView<float> src, ArrayView<float> dst, StridedLayout l)
    {
        l.Offsets(i, out int a, out int b);
        dst[b] = src[a];
    }

    [GpuKernel]
    internal static void CopyIntKernel(Index1D i, ArrayView<int> src, ArrayView<int> dst, StridedLayout l)
    {
        l.Offsets(i, out int a, out int b);
        dst[b] = src[a];
    }

    [GpuKernel]
    internal static void CopyLongKernel(Index1D i, ArrayView<long> src, ArrayView<long> dst, StridedLayout l)
    {
        l.Offsets(i, out int a, out int b);
        dst[b] = src[a];
    }

    public static void Copy(Tensor src, Tensor dst, StridedLayout l)
    {
        var dev = (IlgpuDevice)src.Device;
        switch (src.DType)
        {
            case DType.Float32:
                dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, StridedLayout>>(CopyKernel,
                    a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, StridedLayout>(CopyKernel))
                    (l.Count, src.View, dst.View, l);
                break;
            case DType.Int32:
                dev.Kernel<Action<Index1D, ArrayView<int>, ArrayView<int>, StridedLayout>>(CopyIntKernel,
                    a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, StridedLayout>(CopyIntKernel))
                    (l.Count, src.GpuView<int>(), dst.GpuView<int>(), l);
                break;
            default:
                dev.Kernel<Action<Index1D, ArrayView<long>, ArrayView<long>, StridedLayout>>(CopyLongKernel,
                    a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<long>, ArrayView<long>, StridedLayout>(CopyLongKernel))
                    (l.Count, src.GpuView<long>(), dst.GpuView<long>(), l);
                break;
        }
    }
}
