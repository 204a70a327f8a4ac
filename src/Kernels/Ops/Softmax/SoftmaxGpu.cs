using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Softmax"/>: one group per row; the row max and Σ e^(x−max) (or Σ dy⊙y) are shared-memory
/// tree reductions (<see cref="GroupReduce"/>), each thread handling a strided slice of the row.
/// </summary>
internal static class SoftmaxGpu
{
    /// <summary>The row maximum m and ln Σ e^(x−m) of x[start, start+n), for every thread of the group.</summary>
    internal static float RowMaxAndLogSumExp(ArrayView<float> shared, ArrayView<float> x, int start, int n, out float logSum)
    {
        float m = float.NegativeInfinity;
        for (int k = Group.IdxX; k < n; k += Group.DimX)
        {
            float v = x[start + k];
            if (v > m || float.IsNaN(v)) m = v;
        }
        m = GroupReduce.Max(shared, m);
        float s = 0f;
        for (int k = Group.IdxX; k < n; k += Group.DimX) s += MathF.Exp(x[start + k] - m);
        logSum = MathF.Log(GroupReduce.Sum(shared, s));
        return m;
    }

    [GpuKernel(Grouped = true)]
    internal static void ForwardKernel(ArrayView<float> x, ArrayView<float> y, int n, int log)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int start = Grid.IdxX * n;
        float m = RowMaxAndLogSumExp(shared, x, start, n, out float logSum);
        float inv = MathF.Exp(-logSum);
        for (int k = Group.IdxX; k < n; k += Group.DimX)
        {
            float z = x[start + k] - m;
            y[start + k] = log != 0 ? z - logSum : MathF.Exp(z) * inv;
        }
    }

    [GpuKernel(Grouped = true)]
    internal static void BackwardKernel(ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, int n, int log)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int start = Grid.IdxX * n;
        float acc = 0f;
        for (int k = Group.IdxX; k < n; k += Group.DimX) acc += log != 0 ? dy[start + k] : dy[start + k] * y[start + k];
        float total = GroupReduce.Sum(shared, acc);
        for (int k = Group.IdxX; k < n; k += Group.DimX)
        {
            int i = start + k;
            dx[i] = log != 0 ? dy[i] - MathF.Exp(y[i]) * total : y[i] * (dy[i] - total);
        }
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Forward(Tensor x, Tensor y, int rows, int n, bool log)
    {
        var dev = Dev(x);
        int groupSize = GroupReduce.GroupSize(dev, n);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, int, int>>(ForwardKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, int, int>(ForwardKernel))
            (GroupReduce.PerRow(rows, groupSize, groupSize), x.View, y.View, n, log ? 1 : 0);
    }

    public static void Backward(Tensor y, Tensor dy, Tensor dx, int rows, int n, bool log)
    {
        var dev = Dev(y);
        int groupSize = GroupReduce.GroupSize(dev, n);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(BackwardKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(BackwardKernel))
            (GroupReduce.PerRow(rows, groupSize, groupSize), y.View, dy.View, dx.View, n, log ? 1 : 0);
    }
}
