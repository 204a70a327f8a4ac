using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Cauchy"/>. Forward: one thread per output (b, h, k) looping over the modes. Backward: one
/// group per mode (h, n); threads stride over the nodes, keep their 4·R partial sums (dv and the dw sums, complex, for
/// each b) in their own shared-memory slots, then the group reduces them. Woodbury: one thread per (h, k).
/// </summary>
internal static class CauchyGpu
{
    [GpuKernel]
    internal static void MultiplyKernel(Index1D i, ArrayView<float> v, ArrayView<float> w, ArrayView<float> z,
        ArrayView<float> y, int h, int n2, int k)
    {
        int kk = i % k, row = i / k, hh = row % h;
        float zr = z[2 * kk], zi = z[2 * kk + 1];
        float accR = 0f, accI = 0f;
        for (int n = 0; n < n2; n++)
        {
            int m = hh * n2 + n, vm = row * n2 + n;
            float wr = w[2 * m], wi = w[2 * m + 1], vr = v[2 * vm], vi = v[2 * vm + 1];
            float x = zr - wr;
            CauchyMath.Reciprocal(x * x - (zi - wi) * (zi + wi), 2f * x * zi, out float ir, out float ii);
            float nr = 2f * (vr * x - vi * wi), ni = 2f * vr * zi;
            accR += nr * ir - ni * ii;
            accI += nr * ii + ni * ir;
        }
        y[2 * i] = accR;
        y[2 * i + 1] = accI;
    }

    [GpuKernel(Grouped = true)]
    internal static void BackwardKernel(ArrayView<float> v, ArrayView<float> w, ArrayView<float> z, ArrayView<float> dr,
        ArrayView<float> dv, ArrayView<float> dw, int rCount, int h, int n2, int k)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int mode = Grid.IdxX, t = Group.IdxX, g = Group.DimX, hh = mode / n2, n = mode - hh * n2;
        for (int q = 0; q < 4 * rCount; q++) shared[q * g + t] = 0f;
        float wr = w[2 * mode], wi = w[2 * mode + 1];
        for (int kk = t; kk < k; kk += g)
        {
            float x = z[2 * kk] - wr, zi = z[2 * kk + 1];
            CauchyMath.Reciprocal(x, zi - wi, out float qr, out float qi);
            qi = -qi;                                                   // q = conj(1/(z − w))
            CauchyMath.Reciprocal(x, zi + wi, out float pr, out float pi); // p = 1/(z − conj w)
            float p2r = pr * pr - pi * pi, p2i = 2f * pr * pi, q2r = qr * qr - qi * qi, q2i = 2f * qr * qi;
            float a0 = qr + pr, a1 = qi - pi, a2 = qi + pi, a3 = qr - pr;
            float b0 = q2r + p2r, b1 = q2i - p2i, b2 = q2i + p2i, b3 = q2r - p2r;
            for (int b = 0; b < rCount; b++)
            {
                int at = 2 * ((b * h + hh) * k + kk);
                float g0 = dr[at], g1 = dr[at + 1];
                shared[4 * b * g + t] += g0 * a0 - g1 * a1;
                shared[(4 * b + 1) * g + t] += g0 * a2 + g1 * a3;
                shared[(4 * b + 2) * g + t] += g0 * b0 - g1 * b1;
                shared[(4 * b + 3) * g + t] += g0 * b2 + g1 * b3;
            }
        }
        GroupSums.Reduce(shared, 4 * rCount);
        if (t == 0)
        {
            float dwr = 0f, dwi = 0f;
            for (int b = 0; b < rCount; b++)
            {
                int vm = 2 * ((b * h + hh) * n2 + n);
                dv[vm] = shared[4 * b * g];
                dv[vm + 1] = shared[(4 * b + 1) * g];
                float sr = shared[(4 * b + 2) * g], si = shared[(4 * b + 3) * g], vr = v[vm], vi = v[vm + 1];
                dwr += vr * sr + vi * si;
                dwi += vr * si - vi * sr;
            }
            dw[2 * mode] = dwr;
            dw[2 * mode + 1] = dwi;
        }
    }

    [GpuKernel]
    internal static void WoodburyKernel(Index1D i, ArrayView<float> r, ArrayView<float> scale, ArrayView<float> y, int k, int plane)
    {
        int s = 2 * (i % k), a = 2 * i;
        CauchyMath.Woodbury(r[a], r[a + 1], r[a + plane], r[a + plane + 1], r[a + 2 * plane], r[a + 2 * plane + 1],
            r[a + 3 * plane], r[a + 3 * plane + 1], scale[s], scale[s + 1], out float re, out float im);
        y[a] = re;
        y[a + 1] = im;
    }

    [GpuKernel]
    internal static void WoodburyBackwardKernel(Index1D i, ArrayView<float> r, ArrayView<float> scale, ArrayView<float> g,
        ArrayView<float> dr, int k, int plane)
    {
        int s = 2 * (i % k), a = 2 * i;
        CauchyMath.WoodburyGrad(r[a + plane], r[a + plane + 1], r[a + 2 * plane], r[a + 2 * plane + 1],
            r[a + 3 * plane], r[a + 3 * plane + 1], scale[s], scale[s + 1], g[a], g[a + 1],
            out float d0r, out float d0i, out float d1r, out float d1i, out float d2r, out float d2i, out float d3r, out float d3i);
        dr[a] = d0r; dr[a + 1] = d0i;
        dr[a + plane] = d1r; dr[a + plane + 1] = d1i;
        dr[a + 2 * plane] = d2r; dr[a + 2 * plane + 1] = d2i;
        dr[a + 3 * plane] = d3r; dr[a + 3 * plane + 1] = d3i;
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Multiply(Tensor v, Tensor w, Tensor z, Tensor y, int rCount, int h, int n2, int k)
        => Dev(v).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>>(MultiplyKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(MultiplyKernel))
            (rCount * h * k, v.View, w.View, z.View, y.View, h, n2, k);

    public static void Backward(Tensor v, Tensor w, Tensor z, Tensor dr, Tensor dv, Tensor dw, int rCount, int h, int n2, int k)
    {
        int slots = 4 * rCount, groupSize = GroupSums.GroupSize(Dev(v), slots);
        Dev(v).Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>>(BackwardKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(BackwardKernel))
            (GroupSums.PerItem(h * n2, groupSize, slots), v.View, w.View, z.View, dr.View, dv.View, dw.View, rCount, h, n2, k);
    }

    public static void Woodbury(Tensor r, Tensor scale, Tensor y, int h, int k)
        => Dev(r).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(WoodburyKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(WoodburyKernel))
            (h * k, r.View, scale.View, y.View, k, 2 * h * k);

    public static void WoodburyBackward(Tensor r, Tensor scale, Tensor dOut, Tensor dr, int h, int k)
        => Dev(r).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>>(WoodburyBackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int>(WoodburyBackwardKernel))
            (h * k, r.View, scale.View, dOut.View, dr.View, k, 2 * h * k);
}
