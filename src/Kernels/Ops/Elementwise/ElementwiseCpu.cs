using System.Numerics.Tensors;

namespace Ssm.Kernels;

/// <summary>Managed CPU implementations of <see cref="Elementwise"/> (TensorPrimitives over Parallel.For chunks).</summary>
internal static class ElementwiseCpu
{
    private const int Chunk = 16384;

    public static void Unary(UnaryOp op, Tensor x, Tensor y, float p0, float p1)
    {
        float[] xa = x.Data, ya = y.Data;
        int xo = x.Offset, yo = y.Offset;
        CpuParallel.For(x.Length, Chunk, (s, e) =>
        {
            var src = new ReadOnlySpan<float>(xa, xo + s, e - s);
            var dst = new Span<float>(ya, yo + s, e - s);
            switch (op)
            {
                case UnaryOp.Neg: TensorPrimitives.Negate(src, dst); break;
                case UnaryOp.Exp: TensorPrimitives.Exp(src, dst); break;
                case UnaryOp.Log: TensorPrimitives.Log(src, dst); break;
                case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(src, dst); break;
                case UnaryOp.Tanh: TensorPrimitives.Tanh(src, dst); break;
                case UnaryOp.Sqrt: TensorPrimitives.Sqrt(src, dst); break;
                case UnaryOp.Abs: TensorPrimitives.Abs(src, dst); break;
                case UnaryOp.Reciprocal: TensorPrimitives.Reciprocal(src, dst); break;
                case UnaryOp.Square: TensorPrimitives.Multiply(src, src, dst); break;
                case UnaryOp.Relu: TensorPrimitives.Max(src, 0f, dst); break;
                case UnaryOp.Affine: TensorPrimitives.Multiply(src, p0, dst); TensorPrimitives.Add(dst, p1, dst); break;
                case UnaryOp.Clamp: TensorPrimitives.Max(src, p0, dst); TensorPrimitives.Min(dst, p1, dst); break;
                case UnaryOp.Silu:
                    if (ReferenceEquals(xa, ya) && xo == yo)
                        for (int i = 0; i < dst.Length; i++) dst[i] = ScalarMath.Silu(src[i]);
                    else { TensorPrimitives.Sigmoid(src, dst); TensorPrimitives.Multiply(src, dst, dst); }
                    break;
                default:
                    int code = (int)op;
                    for (int i = 0; i < dst.Length; i++) dst[i] = ScalarMath.Apply(code, src[i], p0, p1);
                    break;
            }
        });
    }

    public static void UnaryBackward(UnaryOp op, Tensor x, Tensor dy, Tensor dx, float p0, float p1)
    {
        float[] xa = x.Data, ga = dy.Data, da = dx.Data;
        int xo = x.Offset, go = dy.Offset, dof = dx.Offset, code = (int)op;
        CpuParallel.For(x.Length, Chunk, (s, e) =>
        {
            for (int i = s; i < e; i++) da[dof + i] = ScalarMath.Grad(code, xa[xo + i], ga[go + i], p0, p1);
        });
    }

    public static void Binary(BinaryOp op, Tensor a, Tensor b, Tensor c)
    {
        float[] aa = a.Data, ba = b.Data, ca = c.Data;
        int ao = a.Offset, bo = b.Offset, co = c.Offset;
        if (a.Length == c.Length && b.Length == c.Length)
        {
            CpuParallel.For(c.Length, Chunk, (s, e) =>
                Run(op, new ReadOnlySpan<float>(aa, ao + s, e - s), 1, new ReadOnlySpan<float>(ba, bo + s, e - s), 1,
                    new Span<float>(ca, co + s, e - s)));
            return;
        }
        var l = BroadcastLayout.Create(c.Shape, a.Shape, b.Shape, $"Elementwise.{op}");
        int inner = l.D5, rows = c.Length / inner;
        int sa = l.A5, sb = l.B5;
        CpuParallel.For(rows, Math.Max(1, Chunk / inner), (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                l.Offsets(r * inner, out int oa, out int ob);
                Run(op, new ReadOnlySpan<float>(aa, ao + oa, sa == 0 ? 1 : inner), sa,
                    new ReadOnlySpan<float>(ba, bo + ob, sb == 0 ? 1 : inner), sb,
                    new Span<float>(ca, co + r * inner, inner));
            }
        });
    }

    /// <summary>One contiguous run: each operand is either a full span (stride 1) or a scalar (stride 0).</summary>
    private static void Run(BinaryOp op, ReadOnlySpan<float> a, int sa, ReadOnlySpan<float> b, int sb, Span<float> c)
    {
        if (sa != 0 && sb != 0)
        {
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(a, b, c); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, c); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, c); return;
                case BinaryOp.Div: TensorPrimitives.Divide(a, b, c); return;
                case BinaryOp.Max: TensorPrimitives.Max(a, b, c); return;
                case BinaryOp.Min: TensorPrimitives.Min(a, b, c); return;
            }
        }
        else if (sa != 0)
        {
            float s = b[0];
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(a, s, c); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(a, s, c); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(a, s, c); return;
                case BinaryOp.Div: TensorPrimitives.Divide(a, s, c); return;
                case BinaryOp.Max: TensorPrimitives.Max(a, s, c); return;
                case BinaryOp.Min: TensorPrimitives.Min(a, s, c); return;
            }
        }
        else if (sb != 0)
        {
            float s = a[0];
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(b, s, c); return;
                case BinaryOp.Sub: TensorPrimitives.Subtract(s, b, c); return;
                case BinaryOp.Mul: TensorPrimitives.Multiply(b, s, c); return;
                case BinaryOp.Div: TensorPrimitives.Divide(s, b, c); return;
                case BinaryOp.Max: TensorPrimitives.Max(b, s, c); return;
                case BinaryOp.Min: TensorPrimitives.Min(b, s, c); return;
            }
        }
        else c.Fill(ScalarMath.Apply((int)op, a[0], b[0]));
    }

    public static void SumTo(Tensor x, Tensor y, BroadcastLayout l)
    {
        // Layout over x's shape: A = x (contiguous), B = y (0 on summed dims). Rows of the innermost dimension.
        float[] xa = x.Data, ya = y.Data;
        int xo = x.Offset, yo = y.Offset, inner = l.D5, rows = x.Length / inner;
        for (int r = 0; r < rows; r++)
        {
            l.Offsets(r * inner, out int oa, out int ob);
            var src = new ReadOnlySpan<float>(xa, xo + oa, inner);
            if (l.B5 == 0) ya[yo + ob] += TensorPrimitives.Sum(src);
            else
            {
                var dst = new Span<float>(ya, yo + ob, inner);
                TensorPrimitives.Add(dst, src, dst);
            }
        }
    }

    public static void Axpy(float alpha, Tensor x, Tensor y)
    {
        float[] xa = x.Data, ya = y.Data;
        int xo = x.Offset, yo = y.Offset;
        CpuParallel.For(x.Length, Chunk, (s, e) =>
        {
            var dst = new Span<float>(ya, yo + s, e - s);
            TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(xa, xo + s, e - s), alpha, dst, dst);
        });
    }
}
