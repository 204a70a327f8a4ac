using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>Managed CPU implementations of <see cref="Softmax"/>: TensorPrimitives over each row, parallel over rows.</summary>
internal static class SoftmaxCpu
{
    private const int Chunk = 16384;

    public static void Forward(Tensor x, Tensor y, int rows, int n, bool log)
    {
        float[] xa = x.Data, ya = y.Data;
        int xo = x.Offset, yo = y.Offset;
        CpuParallel.For(rows, Math.Max(1, Chunk / n), (s, e) =>
        {
            var scratch = log ? new float[n] : null;
            for (int r = s; r < e; r++)
            {
                var src = new ReadOnlySpan<float>(xa, xo + r * n, n);
                var dst = new Span<float>(ya, yo + r * n, n);
                TensorPrimitives.Subtract(src, TensorPrimitives.Max(src), dst);
                if (log)
                {
                    TensorPrimitives.Exp(dst, scratch);
                    TensorPrimitives.Subtract(dst, MathF.Log(TensorPrimitives.Sum(scratch)), dst);
                }
                else
                {
                    TensorPrimitives.Exp(dst, dst);
                    TensorPrimitives.Multiply(dst, 1f / TensorPrimitives.Sum(dst), dst);
                }
            }
        });
    }

    public static void Backward(Tensor y, Tensor dy, Tensor dx, int rows, int n, bool log)
    {
        float[] ya = y.Data, ga = dy.Data, da = dx.Data;
        int yo = y.Offset, go = dy.Offset, dof = dx.Offset;
        CpuParallel.For(rows, Math.Max(1, Chunk / n), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                var yr = new ReadOnlySpan<float>(ya, yo + r * n, n);
                var g = new ReadOnlySpan<float>(ga, go + r * n, n);
                var d = new Span<float>(da, dof + r * n, n);
                if (log)
                {
                    float total = TensorPrimitives.Sum(g);
                    TensorPrimitives.Exp(yr, d);
                    TensorPrimitives.MultiplyAdd(d, -total, g, d);
                }
                else
                {
                    TensorPrimitives.Subtract(g, TensorPrimitives.Dot(g, yr), d);
                    TensorPrimitives.Multiply(d, yr, d);
                }
            }
        });
    }
}
