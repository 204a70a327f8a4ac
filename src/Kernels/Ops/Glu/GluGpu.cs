using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>ILGPU kernels of <see cref="Glu"/>: one thread per output element (x viewed as [outer, 2, h, inner]).</summary>
internal static class GluGpu
{
    /// <summary>Offsets of a and b for output element i.</summary>
    private static void Offsets(int i, int half, int inner, out int a, out int b, out int c)
    {
        int o = i / (half * inner), rest = i - o * half * inner;
        c = rest / inner;
        a = o * 2 * half * inner + rest;
        b = a + half * inner;
    }

    private static float Sigmoid(float x) => x >= 0 ? 1f / (1f + MathF.Exp(-x)) : MathF.Exp(x) / (1f + MathF.Exp(x));

    [GpuKernel]
    internal static void ForwardKernel(Index1D i, ArrayView<float> x, ArrayView<float> bias, ArrayView<float> y, int half, int inner, int hasBias)
    {
        Offsets(i, half, inner, out int a, out int b, out int c);
        float av = x[a], bv = x[b];
        if (hasBias != 0) { av += bias[c]; bv += bias[half + c]; }
        y[i] = av * Sigmoid(bv);
    }

    [GpuKernel]
    internal static void BackwardKernel(Index1D i, ArrayView<float> x, ArrayView<float> bias, ArrayView<float> dy, ArrayView<float> dx,
        int half, int inner, int hasBias)
    {
        Offsets(i, half, inner, out int a, out int b, out int c);
        float av = x[a], bv = x[b];
        if (hasBias != 0) { av += bias[c]; bv += bias[half + c]; }
        float s = Sigmoid(bv), g = dy[i];
        dx[a] = g * s;
        dx[b] = g * av * s * (1f - s);
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Forward(Tensor x, Tensor? bias, Tensor y, int outer, int half, int inner)
        => Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>>(ForwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(ForwardKernel))
            (outer * half * inner, x.View, (bias ?? x).View, y.View, half, inner, bias is null ? 0 : 1);

    public static void Backward(Tensor x, Tensor? bias, Tensor dy, Tensor dx, int outer, int half, int inner)
        => Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>>(BackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(BackwardKernel))
            (outer * half * inner, x.View, (bias ?? x).View, dy.View, dx.View, half, inner, bias is null ? 0 : 1);
}
