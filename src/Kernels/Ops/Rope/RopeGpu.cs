using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>ILGPU kernel of <see cref="Rope"/> (math at the top of Rope.cs): one thread per element.</summary>
internal static class RopeGpu
{
    /// <summary>One thread per element of x [B, H, L, D]; positions is read when s.Positions ≠ 0.</summary>
    [GpuKernel]
    internal static void ApplyKernel(Index1D index, ArrayView<float> x, ArrayView<float> y, ArrayView<float> cos, ArrayView<float> sin,
        ArrayView<int> positions, RopeSpec s)
    {
        int e = index, row = e / s.D, c = e - row * s.D;
        if (c >= s.RotaryDim)
        {
            y[e] = x[e];
            return;
        }
        int l = row % s.Length, b = row / (s.Heads * s.Length);
        int pos = s.Positions == 0 ? s.Offset + l : positions[s.PositionIndex(b, l)];
        int t = pos * (s.RotaryDim / 2) + s.Frequency(c);
        y[e] = s.Rotate(s.IsFirst(c), x[e], x[row * s.D + s.Partner(c)], cos[t], sin[t]);
    }

    public static void Apply(RopeSpec s, Tensor x, Tensor y, RopeTable table, Tensor? positions)
        => ((IlgpuDevice)x.Device).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, RopeSpec>>(
                ApplyKernel,
                a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, RopeSpec>(ApplyKernel))
            (x.Length, x.View, y.View, table.Cos.View, table.Sin.View, positions is null ? ArrayView<int>.Empty : positions.GpuView<int>(), s);
}
