namespace Ssm.Kernels;

/// <summary>Managed CPU implementation of <see cref="Rope"/> (math at the top of Rope.cs): rows in parallel, pairs in a scalar loop.</summary>
internal static class RopeCpu
{
    public static void Apply(RopeSpec s, Tensor x, Tensor y, RopeTable table, int[]? positions)
    {
        float[] xa = x.Data, ya = y.Data, cos = table.Cos.Data, sin = table.Sin.Data;
        int xOff = x.Offset, yOff = y.Offset, cOff = table.Cos.Offset, sOff = table.Sin.Offset;
        int d = s.D, half = s.RotaryDim / 2, rows = x.Length / d;
        CpuParallel.For(rows, Math.Max(1, 8192 / d), (r0, r1) =>
        {
            for (int row = r0; row < r1; row++)
            {
                int l = row % s.Length, b = row / (s.Heads * s.Length);
                int pos = positions is null ? s.Offset + l : positions[s.PositionIndex(b, l)];
                int xr = xOff + row * d, yr = yOff + row * d, tr = pos * half;
                for (int c = 0; c < s.RotaryDim; c++)
                {
                    int k = s.Frequency(c);
                    ya[yr + c] = s.Rotate(s.IsFirst(c), xa[xr + c], xa[xr + s.Partner(c)], cos[cOff + tr + k], sin[sOff + tr + k]);
                }
                Array.Copy(xa, xr + s.RotaryDim, ya, yr + s.RotaryDim, d - s.RotaryDim);
            }
        });
    }
}
