using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="LinearScan"/> (math at the top of LinearScan.cs): work items are (batch row,
/// block of inner elements); each walks the time axis with TensorPrimitives multiply-adds over its block.
/// </summary>
internal static class LinearScanCpu
{
    /// <summary>Inner elements per work item (one item when inner is smaller).</summary>
    private const int Block = 512;

    /// <summary>Runs body(b, n0, count) over every (batch row, inner block) on the worker pool.</summary>
    private static void Items(ScanSpec s, Action<int, int, int> body)
    {
        int blocks = (s.Inner + Block - 1) / Block;
        CpuParallel.For(s.Batch * blocks, Math.Max(1, 8192 / Math.Max(1, s.Length * Math.Min(Block, s.Inner))), (start, end) =>
        {
            for (int item = start; item < end; item++)
            {
                int b = item / blocks, n0 = item % blocks * Block;
                body(b, n0, Math.Min(Block, s.Inner - n0));
            }
        });
    }

    public static void Forward(ScanSpec s, Tensor a, Tensor x, Tensor? h0, Tensor h)
    {
        float[] aa = a.Data, xa = x.Data, ha = h.Data, h0a = h0?.Data ?? Array.Empty<float>();
        int ao = a.Offset, xo = x.Offset, ho = h.Offset, h0o = h0?.Offset ?? 0, T = s.Length, N = s.Inner;
        Items(s, (b, n0, n) =>
        {
            Span<float> Row(float[] arr, int off, int t) => new(arr, off + (b * T + t) * N + n0, n);
            if (s.Reverse == 0)
            {
                for (int t = 0; t < T; t++)
                {
                    var dst = Row(ha, ho, t);
                    if (t > 0) TensorPrimitives.MultiplyAdd(Row(aa, ao, t), Row(ha, ho, t - 1), Row(xa, xo, t), dst);
                    else if (s.HasH0 != 0) TensorPrimitives.MultiplyAdd(Row(aa, ao, 0), new Span<float>(h0a, h0o + b * N + n0, n), Row(xa, xo, 0), dst);
                    else Row(xa, xo, 0).CopyTo(dst);
                }
            }
            else
            {
                Row(xa, xo, T - 1).CopyTo(Row(ha, ho, T - 1));
                for (int t = T - 2; t >= 0; t--)
                    TensorPrimitives.MultiplyAdd(Row(aa, ao, t + 1), Row(ha, ho, t + 1), Row(xa, xo, t), Row(ha, ho, t));
            }
        });
    }

    public static void Backward(ScanSpec s, Tensor a, Tensor h, Tensor dh, Tensor? h0, Tensor dx, Tensor? da, Tensor? dh0)
    {
        float[] aa = a.Data, ha = h.Data, ga = dh.Data, ra = dx.Data, daa = da?.Data ?? Array.Empty<float>();
        float[] h0a = h0?.Data ?? Array.Empty<float>(), dh0a = dh0?.Data ?? Array.Empty<float>();
        int ao = a.Offset, ho = h.Offset, go = dh.Offset, ro = dx.Offset, dao = da?.Offset ?? 0;
        int h0o = h0?.Offset ?? 0, dh0o = dh0?.Offset ?? 0, T = s.Length, N = s.Inner;
        Items(s, (b, n0, n) =>
        {
            Span<float> Row(float[] arr, int off, int t) => new(arr, off + (b * T + t) * N + n0, n);
            if (s.Reverse == 0)
            {
                // r_t = g_t + a_{t+1} r_{t+1}, from the end; da_t = r_t·h_{t−1}.
                for (int t = T - 1; t >= 0; t--)
                {
                    var r = Row(ra, ro, t);
                    if (t == T - 1) Row(ga, go, t).CopyTo(r);
                    else TensorPrimitives.MultiplyAdd(Row(aa, ao, t + 1), Row(ra, ro, t + 1), Row(ga, go, t), r);
                    if (da is null) continue;
                    if (t > 0) TensorPrimitives.Multiply(r, Row(ha, ho, t - 1), Row(daa, dao, t));
                    else if (s.HasH0 != 0) TensorPrimitives.Multiply(r, new Span<float>(h0a, h0o + b * N + n0, n), Row(daa, dao, 0));
                    else Row(daa, dao, 0).Clear();
                }
                if (dh0 is not null)
                    TensorPrimitives.Multiply(Row(aa, ao, 0), Row(ra, ro, 0), new Span<float>(dh0a, dh0o + b * N + n0, n));
            }
            else
            {
                // r_t = g_t + a_t r_{t−1}, from the start; da_t = r_{t−1}·h_t, da_0 = 0.
                for (int t = 0; t < T; t++)
                {
                    var r = Row(ra, ro, t);
                    if (t == 0) Row(ga, go, 0).CopyTo(r);
                    else TensorPrimitives.MultiplyAdd(Row(aa, ao, t), Row(ra, ro, t - 1), Row(ga, go, t), r);
                    if (da is null) continue;
                    if (t > 0) TensorPrimitives.Multiply(Row(ra, ro, t - 1), Row(ha, ho, t), Row(daa, dao, t));
                    else Row(daa, dao, 0).Clear();
                }
            }
        });
    }
}
