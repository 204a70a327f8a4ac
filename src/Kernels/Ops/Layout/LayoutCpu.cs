namespace Ssm.Kernels;

/// <summary>CPU strided copy: rows of the innermost dimension, block copies when both strides are 1.</summary>
internal static class LayoutCpu
{
    public static void Copy(Tensor src, Tensor dst, StridedLayout l)
    {
        if (src.DType == DType.Float32) Copy(src.CpuArray<float>(), src.Offset, dst.CpuArray<float>(), dst.Offset, l);
        else if (src.DType == DType.Int32) Copy(src.CpuArray<int>(), src.Offset, dst.CpuArray<int>(), dst.Offset, l);
        else Copy(src.CpuArray<long>(), src.Offset, dst.CpuArray<long>(), dst.Offset, l);
    }

    private static void Copy<T>(T[] s, int so, T[] d, int dof, StridedLayout l)
    {
        int inner = l.D5, rows = l.Count / inner;
        int ss = l.S5, ts = l.T5;
        CpuParallel.For(rows, Math.Max(1, 16384 / inner), (r0, r1) =>
        {
            for (int r = r0; r < r1; r++)
            {
                l.Offsets(r * inner, out int a, out int b);
                a += so; b += dof;
                if (ss == 1 && ts == 1) Array.Copy(s, a, d, b, inner);
                else for (int k = 0; k < inner; k++) d[b + k * ts] = s[a + k * ss];
            }
        });
    }
}
