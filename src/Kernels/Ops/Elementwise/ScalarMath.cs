namespace Ssm.Kernels;

// Scalar functions shared by the CPU path and the ILGPU kernels (ILGPU compiles these static methods into kernels).
// GELU is the exact erf form (PyTorch nn.GELU default); erf uses Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
// Softplus follows PyTorch: x for x > 20, else log(1 + exp(x)).
internal static class ScalarMath
{
    public const float InvSqrt2 = 0.70710678118654752f;
    public const float InvSqrt2Pi = 0.39894228040143268f;

    public static float Sigmoid(float x) => x >= 0 ? 1f / (1f + MathF.Exp(-x)) : MathF.Exp(x) / (1f + MathF.Exp(x));

    public static float Silu(float x) => x * Sigmoid(x);

    public static float SiluGrad(float x)
    {
        float s = Sigmoid(x);
        return s * (1f + x * (1f - s));
    }

    public static float Erf(float x)
    {
        float ax = MathF.Abs(x);
        float t = 1f / (1f + 0.3275911f * ax);
        float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
        float r = 1f - poly * MathF.Exp(-ax * ax);
        return x < 0 ? -r : r;
    }

    public static float Gelu(float x) => 0.5f * x * (1f + Erf(x * InvSqrt2));

    public static float GeluGrad(float x) => 0.5f * (1f + Erf(x * InvSqrt2)) + x * InvSqrt2Pi * MathF.Exp(-0.5f * x * x);

    public static float Softplus(float x) => x > 20f ? x : (x < -20f ? MathF.Exp(x) : MathF.Log(1f + MathF.Exp(x)));

    /// <summary>Unary op <paramref name="op"/> (a <see cref="UnaryOp"/> value) with parameters p0, p1.</summary>
    public static float Apply(int op, float x, float p0, float p1)
    {
        switch (op)
        {
            case (int)UnaryOp.Neg: return -x;
            case (int)UnaryOp.Exp: return MathF.Exp(x);
            case (int)UnaryOp.Log: return MathF.Log(x);
            case (int)UnaryOp.Sigmoid: return Sigmoid(x);
            case (int)UnaryOp.Silu: return Silu(x);
            case (int)UnaryOp.Gelu: return Gelu(x);
            case (int)UnaryOp.Softplus: return Softplus(x);
            case (int)UnaryOp.Tanh: return MathF.Tanh(x);
            case (int)UnaryOp.Relu: return x > 0 ? x : 0f;
            case (int)UnaryOp.Sqrt: return MathF.Sqrt(x);
            case (int)UnaryOp.Rsqrt: return 1f / MathF.Sqrt(x);
            case (int)UnaryOp.Square: return x * x;
            case (int)UnaryOp.Abs: return MathF.Abs(x);
            case (int)UnaryOp.Reciprocal: return 1f / x;
            case (int)UnaryOp.Affine: return p0 * x + p1;
            case (int)UnaryOp.Clamp: return x < p0 ? p0 : (x > p1 ? p1 : x);
            case (int)UnaryOp.Pow: return MathF.Pow(x, p0);
            default: return float.NaN;
        }
    }

    /// <summary>d op(x)/dx · dy.</summary>
    public static float Grad(int op, float x, float dy, float p0, float p1)
    {
        switch (op)
        {
            case (int)UnaryOp.Neg: return -dy;
            case (int)UnaryOp.Exp: return dy * MathF.Exp(x);
            case (int)UnaryOp.Log: return dy / x;
            case (int)UnaryOp.Sigmoid: { float s = Sigmoid(x); return dy * s * (1f - s); }
            case (int)UnaryOp.Silu: return dy * SiluGrad(x);
            case (int)UnaryOp.Gelu: return dy * GeluGrad(x);
            case (int)UnaryOp.Softplus: return x > 20f ? dy : dy * Sigmoid(x);
            case (int)UnaryOp.Tanh: { float t = MathF.Tanh(x); return dy * (1f - t * t); }
            case (int)UnaryOp.Relu: return x > 0 ? dy : 0f;
            case (int)UnaryOp.Sqrt: return dy * 0.5f / MathF.Sqrt(x);
            case (int)UnaryOp.Rsqrt: return dy * -0.5f / (x * MathF.Sqrt(x));
            case (int)UnaryOp.Square: return dy * 2f * x;
            case (int)UnaryOp.Abs: return x > 0 ? dy : (x < 0 ? -dy : 0f);
            case (int)UnaryOp.Reciprocal: return -dy / (x * x);
            case (int)UnaryOp.Affine: return dy * p0;
            case (int)UnaryOp.Clamp: return x < p0 || x > p1 ? 0f : dy;
            case (int)UnaryOp.Pow: return dy * p0 * MathF.Pow(x, p0 - 1f);
            default: return float.NaN;
        }
    }

    /// <summary>Binary op <paramref name="op"/> (a <see cref="BinaryOp"/> value).</summary>
    public static float Apply(int op, float a, float b)
    {
        switch (op)
        {
            case (int)BinaryOp.Add: return a + b;
            case (int)BinaryOp.Sub: return a - b;
            case (int)BinaryOp.Mul: return a * b;
            case (int)BinaryOp.Div: return a / b;
            case (int)BinaryOp.Max: return a > b ? a : b;
            case (int)BinaryOp.Min: return a < b ? a : b;
            default: return float.NaN;
        }
    }
}
