namespace Ssm.Kernels;

/// <summary>
/// The gated linear unit with an optional bias on its input (torch.nn.GLU after a linear layer, as in the S4/S4D output
/// projection; Dauphin et al., "Language Modeling with Gated Convolutional Networks"): x is split along
/// <c>dim</c> into halves [a, b] of size h each, and <c>y = (a + bias[:h])·σ(b + bias[h:])</c>, bias indexed by the
/// position along <c>dim</c>. Fusing the bias and both halves saves the intermediate tensors of add → narrow → sigmoid →
/// multiply. Backward: da = dy·σ(b′), db = dy·a′·σ(b′)(1 − σ(b′)) (a′, b′ with bias), dbias = both summed over every other dimension.
/// </summary>
public static class Glu
{
    /// <summary>y [.., h, ..] = (a + bias_a)·σ(b + bias_b) for x [.., 2h, ..] split along <paramref name="dim"/>; bias [2h] or null.</summary>
    public static Tensor Forward(Tensor x, Tensor? bias, int dim)
    {
        var (outer, half, inner, d) = Check("Glu.Forward", x, bias, dim);
        var shape = x.ShapeArray();
        shape[d] = half;
        var y = Tensor.Empty(shape, DType.Float32, x.Device);
        if (y.Length == 0) return y;
        if (x.Device.IsIlgpu) GluGpu.Forward(x, bias, y, outer, half, inner);
        else GluCpu.Forward(x, bias, y, outer, half, inner);
        return y;
    }

    /// <summary>The backward of <see cref="Forward"/>: dx (x's shape) and, when <paramref name="needBias"/> and a bias was given, dbias [2h].</summary>
    public static (Tensor Dx, Tensor? DBias) Backward(Tensor x, Tensor? bias, int dim, Tensor dy, bool needBias = true)
    {
        const string op = "Glu.Backward";
        var (outer, half, inner, d) = Check(op, x, bias, dim);
        var shape = x.ShapeArray();
        shape[d] = half;
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.SameDevice(op, x, "x", dy, "dy");
        Guard.Shape(op, dy, "dy", shape, "(the shape of the output: x with dimension dim halved)");
        var dx = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        if (dx.Length > 0)
        {
            if (x.Device.IsIlgpu) GluGpu.Backward(x, bias, dy, dx, outer, half, inner);
            else GluCpu.Backward(x, bias, dy, dx, outer, half, inner);
        }
        Tensor? dBias = null;
        if (bias is not null && needBias)
        {
            using var sums = Elementwise.SumTo(dx.Reshape(outer, 2 * half, inner), new[] { 1, 2 * half, 1 });
            dBias = sums.Reshape(2 * half).Clone();
        }
        return (dx, dBias);
    }

    private static (int Outer, int Half, int Inner, int Dim) Check(string op, Tensor x, Tensor? bias, int dim)
    {
        Guard.DType(op, x, "x", DType.Float32);
        if (x.Rank < 1) throw new ArgumentException($"{op}: x has shape {Shapes.Format(x.Shape)}, expected rank ≥ 1.", nameof(x));
        int d = Shapes.Dim(dim, x.Rank, nameof(dim));
        int size = x.Shape[d];
        if (size % 2 != 0)
            throw new ArgumentException($"{op}: x has shape {Shapes.Format(x.Shape)}: dimension {d} has odd size {size}, expected an even size (two halves).", nameof(x));
        if (bias is not null)
        {
            Guard.DType(op, bias, "bias", DType.Float32);
            Guard.SameDevice(op, x, "x", bias, "bias");
            Guard.Shape(op, bias, "bias", new[] { size }, $"[{size}] (the size of dimension {d} of x)");
        }
        int outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= x.Shape[i];
        for (int i = d + 1; i < x.Rank; i++) inner *= x.Shape[i];
        return (outer, size / 2, inner, d);
    }
}
