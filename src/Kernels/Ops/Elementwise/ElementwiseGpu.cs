using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>ILGPU kernels of <see cref="Elementwise"/>: one thread per output element (trivially parallel work).</summary>
internal static class ElementwiseGpu
{
    [GpuKernel]
    internal static void UnaryKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, int op, float p0, float p1)
        => y[i] = ScalarMath.Apply(op, x[i], p0, p1);

    [GpuKernel]
    internal static void UnaryBackwardKernel(Index1D i, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dx, int op, float p0, float p1)
        => dx[i] = ScalarMath.Grad(op, x[i], dy[i], p0, p1);

    [GpuKernel]
    internal static void BinaryKernel(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, BroadcastLayout l, int op)
    {
        l.Offsets(i, out int oa, out int ob);
        c[i] = ScalarMath.Apply(op, a[oa], b[ob]);
    }

    /// <summary>One thread per element of y: sums x over the dimensions where y's stride (B) is 0.</summary>
    [GpuKernel]
    internal static void SumToKernel(Index1D j, ArrayView<float> x, ArrayView<float> y, BroadcastLayout l, int reduced)
    {
        // Decode j over the kept dimensions (B stride != 0), innermost first.
        int rem = j, xBase = 0;
        for (int d = 5; d >= 0; d--)
        {
            if (l.StrideB(d) == 0) continue;
            int c = rem % l.Size(d);
            rem /= l.Size(d);
            xBase += c * l.StrideA(d);
        }
        float sum = 0f;
        for (int k = 0; k < reduced; k++)
        {
            int rk = k, off = xBase;
            for (int d = 5; d >= 0; d--)
            {
                if (l.StrideB(d) != 0) continue;
                int c = rk % l.Size(d);
                rk /= l.Size(d);
                off += c * l.StrideA(d);
            }
            sum += x[off];
        }
        y[j] += sum;
    }

    [GpuKernel]
    internal static void AxpyKernel(Index1D i, ArrayView<float> x, ArrayView<float> y, float alpha) => y[i] += alpha * x[i];

    [GpuKernel]
    internal static void FillKernel(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Unary(UnaryOp op, Tensor x, Tensor y, float p0, float p1)
    {
        if (x.Length == 0) return;
        Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int, float, float>>(UnaryKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, float, float>(UnaryKernel))
            (x.Length, x.View, y.View, (int)op, p0, p1);
    }

    public static void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx, float p0, float p1)
    {
        if (x.Length == 0) return;
        Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float>>(UnaryBackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float, float>(UnaryBackwardKernel))
            (x.Length, x.View, dy.View, dx.View, (int)op, p0, p1);
    }

    public static void Binary(BinaryOp op, Tensor a, Tensor b, Tensor c)
    {
        var l = BroadcastLayout.Create(c.Shape, a.Shape, b.Shape, $"Elementwise.{op}");
        Dev(a).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, BroadcastLayout, int>>(BinaryKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, BroadcastLayout, int>(BinaryKernel))
            (c.Length, a.View, b.View, c.View, l, (int)op);
    }

    public static void SumTo(Tensor x, Tensor y, BroadcastLayout l)
    {
        int reduced = x.Length / y.Length;
        Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, BroadcastLayout, int>>(SumToKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, BroadcastLayout, int>(SumToKernel))
            (y.Length, x.View, y.View, l, reduced);
    }

    public static void Axpy(float alpha, Tensor x, Tensor y)
    {
        if (x.Length == 0) return;
        Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, float>>(AxpyKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, float>(AxpyKernel))
            (x.Length, x.View, y.View, alpha);
    }

    public static void Fill(Tensor t, float value)
        => Dev(t).Kernel<Action<Index1D, ArrayView<float>, float>>(FillKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, float>(FillKernel))
            (t.Length, t.View, value);
}
