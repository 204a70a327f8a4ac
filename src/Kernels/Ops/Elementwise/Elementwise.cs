namespace Ssm.Kernels;

/// <summary>Unary elementwise functions (see <see cref="Elementwise.Unary"/>).</summary>
public enum UnaryOp
{
    /// <summary>−x</summary>
    Neg,
    /// <summary>eˣ</summary>
    Exp,
    /// <summary>ln x</summary>
    Log,
    /// <summary>1/(1+e⁻ˣ)</summary>
    Sigmoid,
    /// <summary>x·σ(x)</summary>
    Silu,
    /// <summary>x·Φ(x) (exact, erf form)</summary>
    Gelu,
    /// <summary>ln(1+eˣ) (x above 20 passes through, as in PyTorch)</summary>
    Softplus,
    /// <summary>tanh x</summary>
    Tanh,
    /// <summary>max(x, 0)</summary>
    Relu,
    /// <summary>√x</summary>
    Sqrt,
    /// <summary>1/√x</summary>
    Rsqrt,
    /// <summary>x²</summary>
    Square,
    /// <summary>|x|</summary>
    Abs,
    /// <summary>1/x</summary>
    Reciprocal,
    /// <summary>p0·x + p1</summary>
    Affine,
    /// <summary>min(max(x, p0), p1)</summary>
    Clamp,
    /// <summary>x^p0</summary>
    Pow,
}

/// <summary>Binary elementwise functions with NumPy broadcasting (see <see cref="Elementwise.Binary"/>).</summary>
public enum BinaryOp
{
    /// <summary>a + b</summary>
    Add,
    /// <summary>a − b</summary>
    Sub,
    /// <summary>a · b</summary>
    Mul,
    /// <summary>a / b</summary>
    Div,
    /// <summary>max(a, b)</summary>
    Max,
    /// <summary>min(a, b)</summary>
    Min,
}

/// <summary>
/// Elementwise ops: unary functions and their derivatives, broadcasting binary ops, the sum back to a broadcast shape
/// (the adjoint of broadcasting), fills and in-place accumulation. Each op runs on the CPU (TensorPrimitives SIMD over
/// Parallel.For chunks) or on an ILGPU accelerator (one thread per element).
/// </summary>
public static class Elementwise
{
    /// <summary>y = op(x) (p0, p1 parametrize Affine, Clamp and Pow). Writes into <paramref name="output"/> when given (may alias x).</summary>
    public static Tensor Unary(UnaryOp op, Tensor x, float p0 = 0, float p1 = 0, Tensor? output = null)
    {
        Guard.DType($"Elementwise.{op}", x, "x", DType.Float32);
        var y = output ?? Tensor.Empty(x.Shape, DType.Float32, x.Device);
        CheckSameLayout($"Elementwise.{op}", x, "x", y, "output");
        if (x.Device.IsIlgpu) ElementwiseGpu.Unary(op, x, y, p0, p1);
        else ElementwiseCpu.Unary(op, x, y, p0, p1);
        return y;
    }

    /// <summary>dx = dy · op′(x): the backward of <see cref="Unary"/>.</summary>
    public static Tensor UnaryBackward(UnaryOp op, Tensor x, Tensor dy, float p0 = 0, float p1 = 0)
    {
        CheckSameLayout($"Elementwise.{op}Backward", x, "x", dy, "dy");
        var dx = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        if (x.Device.IsIlgpu) ElementwiseGpu.UnaryBackward(op, x, dy, dx, p0, p1);
        else ElementwiseCpu.UnaryBackward(op, x, dy, dx, p0, p1);
        return dx;
    }

    /// <summary>c = a op b with broadcasting. Writes into <paramref name="output"/> when given (it must have the broadcast shape; may alias a).</summary>
    public static Tensor Binary(BinaryOp op, Tensor a, Tensor b, Tensor? output = null)
    {
        string name = $"Elementwise.{op}";
        Guard.DType(name, a, "a", DType.Float32);
        Guard.DType(name, b, "b", DType.Float32);
        Guard.SameDevice(name, a, "a", b, "b");
        var shape = Shapes.Broadcast(a.Shape, b.Shape, name);
        var c = output ?? Tensor.Empty(shape, DType.Float32, a.Device);
        Guard.Shape(name, c, "output", shape, "(the broadcast shape)");
        if (c.Length == 0) return c;
        if (a.Device.IsIlgpu) ElementwiseGpu.Binary(op, a, b, c);
        else ElementwiseCpu.Binary(op, a, b, c);
        return c;
    }

    /// <summary>a + b (broadcasting).</summary>
    public static Tensor Add(Tensor a, Tensor b) => Binary(BinaryOp.Add, a, b);
    /// <summary>a − b (broadcasting).</summary>
    public static Tensor Sub(Tensor a, Tensor b) => Binary(BinaryOp.Sub, a, b);
    /// <summary>a · b (broadcasting).</summary>
    public static Tensor Mul(Tensor a, Tensor b) => Binary(BinaryOp.Mul, a, b);
    /// <summary>a / b (broadcasting).</summary>
    public static Tensor Div(Tensor a, Tensor b) => Binary(BinaryOp.Div, a, b);
    /// <summary>alpha·x + beta.</summary>
    public static Tensor Affine(Tensor x, float alpha, float beta) => Unary(UnaryOp.Affine, x, alpha, beta);
    /// <summary>alpha·x.</summary>
    public static Tensor Scale(Tensor x, float alpha) => Unary(UnaryOp.Affine, x, alpha, 0f);

    /// <summary>
    /// Sums <paramref name="x"/> down to <paramref name="shape"/>, which must broadcast to x's shape: the adjoint of
    /// broadcasting (used for the gradients of broadcast operands, e.g. a bias).
    /// </summary>
    public static Tensor SumTo(Tensor x, ReadOnlySpan<int> shape)
    {
        const string name = "Elementwise.SumTo";
        Guard.DType(name, x, "x", DType.Float32);
        var b = Shapes.Broadcast(x.Shape, shape, name);
        if (!Shapes.Equal(b, x.Shape))
            throw new ArgumentException($"{name}: shape {Shapes.Format(shape)} does not broadcast to x's shape {Shapes.Format(x.Shape)}.", nameof(shape));
        var y = Tensor.Zeros(shape, DType.Float32, x.Device);
        if (x.Length == 0) return y;
        if (Shapes.Equal(shape, x.Shape)) { y.CopyFrom(x); return y; }
        var layout = BroadcastLayout.Create(x.Shape, x.Shape, shape, name);
        if (x.Device.IsIlgpu) ElementwiseGpu.SumTo(x, y, layout);
        else ElementwiseCpu.SumTo(x, y, layout);
        return y;
    }

    /// <summary>y += alpha·x (same number of elements), in place.</summary>
    public static void Axpy(float alpha, Tensor x, Tensor y)
    {
        CheckSameLayout("Elementwise.Axpy", x, "x", y, "y");
        if (x.Device.IsIlgpu) ElementwiseGpu.Axpy(alpha, x, y);
        else ElementwiseCpu.Axpy(alpha, x, y);
    }

    /// <summary>Sets every element of a float32 tensor to <paramref name="value"/>.</summary>
    public static void Fill(Tensor t, float value)
    {
        Guard.DType("Elementwise.Fill", t, "t", DType.Float32);
        if (t.Length == 0) return;
        if (t.Device.IsIlgpu) ElementwiseGpu.Fill(t, value);
        else t.Span.Fill(value);
    }

    private static void CheckSameLayout(string op, Tensor a, string an, Tensor b, string bn)
    {
        Guard.DType(op, a, an, DType.Float32);
        Guard.DType(op, b, bn, DType.Float32);
        Guard.SameDevice(op, a, an, b, bn);
        if (a.Length != b.Length)
            throw new ArgumentException($"{op}: {bn} has shape {Shapes.Format(b.Shape)}, expected {a.Length} elements like {an} {Shapes.Format(a.Shape)}.", bn);
    }
}
