using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Embedding"/>: one thread per output element (consecutive threads copy consecutive
/// columns of a row); the backward adds each dy element into dW with Atomic.Add. Ids are read from an int32 or int64
/// view (<see cref="IndexValidation.Read"/>); an id outside [0, V) gives a NaN row forward and is skipped backward.
/// </summary>
internal static class EmbeddingGpu
{
    [GpuKernel]
    internal static void ForwardKernel(Index1D i, ArrayView<int> ids32, ArrayView<long> ids64, ArrayView<float> weight, ArrayView<float> y, int vocab, int dim)
    {
        int row = i / dim;
        long id = IndexValidation.Read(ids32, ids64, row);
        y[i] = id < 0 || id >= vocab ? float.NaN : weight[(int)id * dim + (i - row * dim)];
    }

    [GpuKernel]
    internal static void BackwardKernel(Index1D i, ArrayView<int> ids32, ArrayView<long> ids64, ArrayView<float> dy, ArrayView<float> dw, int vocab, int dim)
    {
        int row = i / dim;
        long id = IndexValidation.Read(ids32, ids64, row);
        if (id >= 0 && id < vocab) Atomic.Add(ref dw[(int)id * dim + (i - row * dim)], dy[i]);
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Forward(Tensor ids, Tensor weight, Tensor y, int vocab, int dim)
    {
        var (i32, i64) = IndexValidation.GpuViews(ids);
        Dev(weight).Kernel<Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int>>(ForwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int>(ForwardKernel))
            (y.Length, i32, i64, weight.View, y.View, vocab, dim);
    }

    public static void Backward(Tensor ids, Tensor dy, Tensor dw, int vocab, int dim)
    {
        var (i32, i64) = IndexValidation.GpuViews(ids);
        Dev(dy).Kernel<Action<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int>>(BackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<long>, ArrayView<float>, ArrayView<float>, int, int>(BackwardKernel))
            (dy.Length, i32, i64, dy.View, dw.View, vocab, dim);
    }
}
