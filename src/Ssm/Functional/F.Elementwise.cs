using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// Differentiable ops on <see cref="Variable"/>s (like <c>torch.nn.functional</c>). Each calls a kernel op from
/// Ssm.Kernels and records a hand-written backward. This file: elementwise ops, broadcasting arithmetic, reshape.
/// </summary>
public static partial class F
{
    private static Variable Unary(UnaryOp op, Variable x, float p0 = 0, float p1 = 0)
    {
        var xd = x.Data;
        return Autograd.Record(Elementwise.Unary(op, xd, p0, p1), op.ToString(), new[] { x },
            g => new Tensor?[] { Elementwise.UnaryBackward(op, xd, g, p0, p1) });
    }

    /// <summary>−x.</summary>
    public static Variable Neg(Variable x) => Unary(UnaryOp.Neg, x);
    /// <summary>eˣ.</summary>
    public static Variable Exp(Variable x) => Unary(UnaryOp.Exp, x);
    /// <summary>ln x.</summary>
    public static Variable Log(Variable x) => Unary(UnaryOp.Log, x);
    /// <summary>Logistic sigmoid.</summary>
    public static Variable Sigmoid(Variable x) => Unary(UnaryOp.Sigmoid, x);
    /// <summary>SiLU (swish): x·σ(x).</summary>
    public static Variable Silu(Variable x) => Unary(UnaryOp.Silu, x);
    /// <summary>GELU, exact erf form.</summary>
    public static Variable Gelu(Variable x) => Unary(UnaryOp.Gelu, x);
    /// <summary>Softplus ln(1+eˣ).</summary>
    public static Variable Softplus(Variable x) => Unary(UnaryOp.Softplus, x);
    /// <summary>tanh.</summary>
    public static Variable Tanh(Variable x) => Unary(UnaryOp.Tanh, x);
    /// <summary>ReLU.</summary>
    public static Variable Relu(Variable x) => Unary(UnaryOp.Relu, x);
    /// <summary>√x.</summary>
    public static Variable Sqrt(Variable x) => Unary(UnaryOp.Sqrt, x);
    /// <summary>x².</summary>
    public static Variable Square(Variable x) => Unary(UnaryOp.Square, x);
    /// <summary>|x|.</summary>
    public static Variable Abs(Variable x) => Unary(UnaryOp.Abs, x);
    /// <summary>x^p.</summary>
    public static Variable Pow(Variable x, float p) => Unary(UnaryOp.Pow, x, p);
    /// <summary>alpha·x + beta.</summary>
    public static Variable Affine(Variable x, float alpha, float beta) => Unary(UnaryOp.Affine, x, alpha, beta);
    /// <summary>alpha·x.</summary>
    public static Variable Scale(Variable x, float alpha) => Unary(UnaryOp.Affine, x, alpha, 0f);
    /// <summary>min(max(x, lo), hi) (gradient zero outside).</summary>
    public static Variable Clamp(Variable x, float lo, float hi) => Unary(UnaryOp.Clamp, x, lo, hi);

    /// <summary>a + b (broadcasting).</summary>
    public static Variable Add(Variable a, Variable b)
    {
        int[] sa = a.Data.ShapeArray(), sb = b.Data.ShapeArray();
        return Autograd.Record(Elementwise.Add(a.Data, b.Data), "Add", new[] { a, b },
            g => new Tensor?[] { a.RequiresGrad ? Elementwise.SumTo(g, sa) : null, b.RequiresGrad ? Elementwise.SumTo(g, sb) : null });
    }

    /// <summary>a − b (broadcasting).</summary>
    public static Variable Sub(Variable a, Variable b)
    {
        int[] sa = a.Data.ShapeArray(), sb = b.Data.ShapeArray();
        return Autograd.Record(Elementwise.Sub(a.Data, b.Data), "Sub", new[] { a, b },
            g => new Tensor?[] { a.RequiresGrad ? Elementwise.SumTo(g, sa) : null,
                                 b.RequiresGrad ? Elementwise.SumTo(Elementwise.Scale(g, -1f), sb) : null });
    }

    /// <summary>a · b (broadcasting).</summary>
    public static Variable Mul(Variable a, Variable b)
    {
        Tensor ad = a.Data, bd = b.Data;
        return Autograd.Record(Elementwise.Mul(ad, bd), "Mul", new[] { a, b },
            g => new Tensor?[] { a.RequiresGrad ? Elementwise.SumTo(Elementwise.Mul(g, bd), ad.Shape) : null,
                                 b.RequiresGrad ? Elementwise.SumTo(Elementwise.Mul(g, ad), bd.Shape) : null });
    }

    /// <summary>a / b (broadcasting).</summary>
    public static Variable Div(Variable a, Variable b)
    {
        Tensor ad = a.Data, bd = b.Data;
        var c = Elementwise.Div(ad, bd);
        return Autograd.Record(c, "Div", new[] { a, b }, g =>
        {
            var gOverB = Elementwise.Div(g, bd);
            return new Tensor?[] { a.RequiresGrad ? Elementwise.SumTo(gOverB, ad.Shape) : null,
                                   b.RequiresGrad ? Elementwise.SumTo(Elementwise.Scale(Elementwise.Mul(gOverB, c), -1f), bd.Shape) : null };
        });
    }

    /// <summary>A view of x with another shape (one dimension may be −1).</summary>
    public static Variable Reshape(Variable x, params int[] shape)
    {
        var original = x.Data.ShapeArray();
        return Autograd.Record(x.Data.Reshape(shape), "Reshape", new[] { x }, g => new Tensor?[] { g.Reshape(original) });
    }
}
