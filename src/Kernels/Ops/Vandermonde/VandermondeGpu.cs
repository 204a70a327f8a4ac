using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="Vandermonde"/>. A table kernel evaluates, per mode, the anchors e^{dtA·B·j} (j &lt; ⌈L/B⌉)
/// and the powers e^{dtA·r} (r &lt; B, B the power of two ≥ √L; times 2c for the forward) in double precision
/// (<see cref="DoubleMath"/>), stored as float. Forward: one thread per (h, l) sums Re(anchor_j·power_r) over the modes.
/// Backward: one group per (h, n); threads stride over l, accumulate dK·conj(e^{dtA·l}) and l·dK·conj(e^{dtA·l}), and
/// reduce them in shared memory.
/// </summary>
internal static class VandermondeGpu
{
    /// <summary>Entry e of mode i (e &lt; anchors: e^{dtA·B·e}; else e^{dtA·(e − anchors)}, times 2c when withC ≠ 0).</summary>
    [GpuKernel]
    internal static void TableKernel(Index1D i, ArrayView<float> dtA, ArrayView<float> c, ArrayView<float> table,
        int entries, int anchors, int block, int withC)
    {
        int mode = i / entries, e = i - mode * entries;
        bool anchor = e < anchors;
        double m = anchor ? (double)e * block : e - anchors;
        double ar = dtA[2 * mode], ai = dtA[2 * mode + 1];
        double mag = DoubleMath.Exp(ar * m);
        DoubleMath.SinCos(ai * m, out double sin, out double cos);
        double re = mag * cos, im = mag * sin;
        if (!anchor && withC != 0)
        {
            double cr = 2.0 * c[2 * mode], ci = 2.0 * c[2 * mode + 1];
            double t = cr * re - ci * im;
            im = cr * im + ci * re;
            re = t;
        }
        table[2 * i] = (float)re;
        table[2 * i + 1] = (float)im;
    }

    [GpuKernel]
    internal static void ForwardKernel(Index1D i, ArrayView<float> table, ArrayView<float> k,
        int n2, int length, int anchors, int logBlock)
    {
        int h = i / length, l = i - h * length;
        int j = l >> logBlock, r = l & ((1 << logBlock) - 1);
        int entries = anchors + (1 << logBlock);
        float acc = 0f;
        for (int n = 0; n < n2; n++)
        {
            int b = 2 * (h * n2 + n) * entries;
            float pr = table[b + 2 * j], pi = table[b + 2 * j + 1];
            float wr = table[b + 2 * (anchors + r)], wi = table[b + 2 * (anchors + r) + 1];
            acc += pr * wr - pi * wi;
        }
        k[i] = acc;
    }

    [GpuKernel(Grouped = true)]
    internal static void BackwardKernel(ArrayView<float> table, ArrayView<float> c, ArrayView<float> dK,
        ArrayView<float> dDtA, ArrayView<float> dC, int n2, int length, int anchors, int logBlock)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int mode = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        int h = mode / n2, entries = anchors + (1 << logBlock), b = 2 * mode * entries, mask = (1 << logBlock) - 1;
        float s0r = 0f, s0i = 0f, s1r = 0f, s1i = 0f;
        for (int l = t; l < length; l += g)
        {
            int j = l >> logBlock, r = l & mask;
            float pr = table[b + 2 * j], pi = table[b + 2 * j + 1];
            float wr = table[b + 2 * (anchors + r)], wi = table[b + 2 * (anchors + r) + 1];
            float er = pr * wr - pi * wi, ei = pr * wi + pi * wr;
            float d = dK[h * length + l], dl = d * l;
            s0r += d * er; s0i -= d * ei;
            s1r += dl * er; s1i -= dl * ei;
        }
        shared[t] = s0r; shared[g + t] = s0i; shared[2 * g + t] = s1r; shared[3 * g + t] = s1i;
        GroupSums.Reduce(shared, 4);
        if (t == 0)
        {
            float cr = c[2 * mode], ci = c[2 * mode + 1];
            float u0r = shared[0], u0i = shared[g], u1r = shared[2 * g], u1i = shared[3 * g];
            dC[2 * mode] = 2f * u0r;
            dC[2 * mode + 1] = 2f * u0i;
            dDtA[2 * mode] = 2f * (cr * u1r + ci * u1i);
            dDtA[2 * mode + 1] = 2f * (cr * u1i - ci * u1r);
        }
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    /// <summary>log2 of the table block B (the power of two ≥ √L) and the anchor count ⌈L/B⌉.</summary>
    private static (int LogBlock, int Anchors) Layout(int length)
    {
        int logBlock = 0;
        while ((1L << (2 * logBlock)) < length) logBlock++;
        return (logBlock, (length + (1 << logBlock) - 1) >> logBlock);
    }

    private static Tensor Table(Tensor dtA, Tensor c, int length, bool withC, out int anchors, out int logBlock)
    {
        (logBlock, anchors) = Layout(length);
        int modes = dtA.Length / 2, entries = anchors + (1 << logBlock);
        var table = Tensor.Empty(new[] { modes, entries, 2 }, DType.Float32, dtA.Device);
        Dev(dtA).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>>(TableKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(TableKernel))
            (modes * entries, dtA.View, c.View, table.View, entries, anchors, 1 << logBlock, withC ? 1 : 0);
        return table;
    }

    public static void Kernel(Tensor dtA, Tensor c, Tensor k, int n2, int length)
    {
        if (n2 == 0) { Elementwise.Fill(k, 0f); return; }
        using var table = Table(dtA, c, length, withC: true, out int anchors, out int logBlock);
        Dev(dtA).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int>>(ForwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int, int, int>(ForwardKernel))
            (k.Length, table.View, k.View, n2, length, anchors, logBlock);
    }

    public static void Backward(Tensor dtA, Tensor c, Tensor dK, Tensor dDtA, Tensor dC, int n2)
    {
        int length = dK.Size(1), modes = dtA.Length / 2;
        using var table = Table(dtA, c, length, withC: false, out int anchors, out int logBlock);
        int groupSize = GroupSums.GroupSize(Dev(dtA), 4);
        Dev(dtA).Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>>(BackwardKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int>(BackwardKernel))
            (GroupSums.PerItem(modes, groupSize, 4), table.View, c.View, dK.View, dDtA.View, dC.View, n2, length, anchors, logBlock);
    }
}
