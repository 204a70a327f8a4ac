using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="LinearScan"/> (math at the top of LinearScan.cs): one thread per (batch, inner) column
/// walking the time axis; consecutive threads take consecutive inner elements, so every load and store coalesces.
/// </summary>
internal static class LinearScanGpu
{
    /// <summary>One thread per column i = b·inner + n: the scan (forward or reverse) of that column.</summary>
    [GpuKernel]
    internal static void ForwardKernel(Index1D i, ArrayView<float> a, ArrayView<float> x, ArrayView<float> h0, ArrayView<float> h, ScanSpec s)
    {
        int n = i % s.Inner, b = i / s.Inner, stride = s.Inner, base0 = b * s.Length * s.Inner + n;
        if (s.Reverse == 0)
        {
            float prev = s.HasH0 != 0 ? h0[i] : 0f;
            for (int t = 0; t < s.Length; t++)
            {
                int k = base0 + t * stride;
                prev = a[k] * prev + x[k];
                h[k] = prev;
            }
        }
        else
        {
            float next = 0f, aNext = 0f;
            for (int t = s.Length - 1; t >= 0; t--)
            {
                int k = base0 + t * stride;
                next = aNext * next + x[k];
                h[k] = next;
                aNext = a[k];
            }
        }
    }

    /// <summary>
    /// One thread per column: r = dx by the opposite-direction scan of dh, da from r and the saved h, dh0 = a_0·r_0
    /// (flags: 1 da, 2 dh0).
    /// </summary>
    [GpuKernel]
    internal static void BackwardKernel(Index1D i, ArrayView<float> a, ArrayView<float> h, ArrayView<float> dh, ArrayView<float> h0,
        ArrayView<float> dx, ArrayView<float> da, ArrayView<float> dh0, ScanSpec s, int flags)
    {
        int n = i % s.Inner, b = i / s.Inner, stride = s.Inner, base0 = b * s.Length * s.Inner + n;
        if (s.Reverse == 0)
        {
            float r = 0f, aNext = 0f;
            for (int t = s.Length - 1; t >= 0; t--)
            {
                int k = base0 + t * stride;
                r = dh[k] + aNext * r;
                dx[k] = r;
                aNext = a[k];
                if ((flags & 1) != 0)
                    da[k] = t > 0 ? r * h[k - stride] : (s.HasH0 != 0 ? r * h0[i] : 0f);
            }
            if ((flags & 2) != 0) dh0[i] = a[base0] * r;
        }
        else
        {
            float r = 0f;
            for (int t = 0; t < s.Length; t++)
            {
                int k = base0 + t * stride;
                if ((flags & 1) != 0) da[k] = t > 0 ? r * h[k] : 0f;
                r = dh[k] + (t > 0 ? a[k] * r : 0f);
                dx[k] = r;
            }
        }
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Forward(ScanSpec s, Tensor a, Tensor x, Tensor? h0, Tensor h)
        => Dev(x).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ScanSpec>>(ForwardKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ScanSpec>(ForwardKernel))
            (s.Batch * s.Inner, a.View, x.View, (h0 ?? x).View, h.View, s);

    public static void Backward(ScanSpec s, Tensor a, Tensor h, Tensor dh, Tensor? h0, Tensor dx, Tensor? da, Tensor? dh0)
    {
        int flags = (da is not null ? 1 : 0) | (dh0 is not null ? 2 : 0);
        Dev(h).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ScanSpec, int>>(BackwardKernel,
            acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ScanSpec, int>(BackwardKernel))
            (s.Batch * s.Inner, a.View, h.View, dh.View, (h0 ?? h).View, dx.View, (da ?? dx).View, (dh0 ?? dx).View, s, flags);
    }
}
