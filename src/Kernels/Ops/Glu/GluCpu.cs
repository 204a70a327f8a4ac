using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="Glu"/>: x viewed as [outer, 2, h, inner]. Rows of contiguous elements in
/// parallel — one row per outer index when inner = 1 (the gate along the last dimension; the bias is a vector), else one
/// per (outer, channel) (the bias is a scalar per row) — with TensorPrimitives over each row.
/// </summary>
internal static class GluCpu
{
    private const int Chunk = 16384;

    /// <summary>Row r: offsets of a, b (x) and y, its length, and the bias index of its first element.</summary>
    private static void Row(int r, int half, int inner, out int a, out int b, out int y, out int length, out int c)
    {
        if (inner == 1)
        {
            a = r * 2 * half; b = a + half; y = r * half; length = half; c = 0;
        }
        else
        {
            int o = r / half;
            c = r - o * half;
            a = (o * 2 * half + c) * inner; b = a + half * inner; y = (o * half + c) * inner; length = inner;
        }
    }

    /// <summary>a′ and s = σ(b′) of one row (bias added).</summary>
    private static void Gate(float[] xa, int xo, float[]? ba, int bo, int half, int inner, int a, int b, int c,
        Span<float> aPrime, Span<float> s)
    {
        var av = new ReadOnlySpan<float>(xa, xo + a, aPrime.Length);
        var bv = new ReadOnlySpan<float>(xa, xo + b, s.Length);
        if (ba is null) { av.CopyTo(aPrime); bv.CopyTo(s); }
        else if (inner == 1)
        {
            TensorPrimitives.Add(av, new ReadOnlySpan<float>(ba, bo, half), aPrime);
            TensorPrimitives.Add(bv, new ReadOnlySpan<float>(ba, bo + half, half), s);
        }
        else
        {
            TensorPrimitives.Add(av, ba[bo + c], aPrime);
            TensorPrimitives.Add(bv, ba[bo + half + c], s);
        }
        TensorPrimitives.Sigmoid(s, s);
    }

    public static void Forward(Tensor x, Tensor? bias, Tensor y, int outer, int half, int inner)
    {
        float[] xa = x.Data, ya = y.Data;
        float[]? ba = bias?.Data;
        int xo = x.Offset, yo = y.Offset, bo = bias?.Offset ?? 0;
        int rows = inner == 1 ? outer : outer * half, rowLength = inner == 1 ? half : inner;
        CpuParallel.For(rows, Math.Max(1, Chunk / rowLength), (r0, r1) =>
        {
            var ap = new float[rowLength];
            var s = new float[rowLength];
            for (int r = r0; r < r1; r++)
            {
                Row(r, half, inner, out int a, out int b, out int yOff, out int length, out int c);
                Gate(xa, xo, ba, bo, half, inner, a, b, c, ap, s);
                TensorPrimitives.Multiply(ap, s, new Span<float>(ya, yo + yOff, length));
            }
        });
    }

    public static void Backward(Tensor x, Tensor? bias, Tensor dy, Tensor dx, int outer, int half, int inner)
    {
        float[] xa = x.Data, ga = dy.Data, da = dx.Data;
        float[]? ba = bias?.Data;
        int xo = x.Offset, go = dy.Offset, dof = dx.Offset, bo = bias?.Offset ?? 0;
        int rows = inner == 1 ? outer : outer * half, rowLength = inner == 1 ? half : inner;
        CpuParallel.For(rows, Math.Max(1, Chunk / rowLength), (r0, r1) =>
        {
            var ap = new float[rowLength];
            var s = new float[rowLength];
            for (int r = r0; r < r1; r++)
            {
                Row(r, half, inner, out int a, out int b, out int yOff, out int length, out int c);
                Gate(xa, xo, ba, bo, half, inner, a, b, c, ap, s);
                var g = new ReadOnlySpan<float>(ga, go + yOff, length);
                var dA = new Span<float>(da, dof + a, length);
                var dB = new Span<float>(da, dof + b, length);
                TensorPrimitives.Multiply(g, s, dA);                 // dy·σ(b′)
                TensorPrimitives.Multiply(dA, ap, dB);               // dy·a′·σ(b′)
                TensorPrimitives.Subtract(1f, s, s);                 // 1 − σ(b′)
                TensorPrimitives.Multiply(dB, s, dB);
            }
        });
    }
}
