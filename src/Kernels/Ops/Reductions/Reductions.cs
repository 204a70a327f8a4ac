namespace Ssm.Kernels;

/// <summary>
/// Reductions: Sum, Mean and Max (values and int32 argmax) over one dimension (negative dims count from the end,
/// optionally keeping it with size 1), whole-tensor Sum and Mean (shape []), and the backward kernels the autograd
/// wrappers need (<see cref="SumBackward"/> and <see cref="SumAllBackward"/> broadcast the upstream gradient back
/// over the reduced dimension, <see cref="MaxBackward"/> scatters it to the argmax).
/// A reduction over dim d views x as [outer, n, inner] (outer = Π sizes before d, n = size of d, inner = Π sizes after d).
/// CPU: TensorPrimitives over rows, parallel over outer rows (or over inner column chunks); ILGPU: one group per output
/// row with a shared-memory tree for the last dimension, a strided loop per output element otherwise.
/// </summary>
public static class Reductions
{
    /// <summary>Σ of all elements, as a tensor of shape [].</summary>
    public static Tensor Sum(Tensor x) => ReduceAll("Reductions.Sum", x, 1f);

    /// <summary>Mean of all elements, as a tensor of shape [] (NaN for an empty tensor).</summary>
    public static Tensor Mean(Tensor x) => ReduceAll("Reductions.Mean", x, 1f / x.Length);

    /// <summary>Σ over dimension <paramref name="dim"/>; <paramref name="keepDim"/> keeps it with size 1.</summary>
    public static Tensor Sum(Tensor x, int dim, bool keepDim = false) => ReduceDim("Reductions.Sum", x, dim, keepDim, mean: false);

    /// <summary>Mean over dimension <paramref name="dim"/> (NaN when it is empty); <paramref name="keepDim"/> keeps it with size 1.</summary>
    public static Tensor Mean(Tensor x, int dim, bool keepDim = false) => ReduceDim("Reductions.Mean", x, dim, keepDim, mean: true);

    /// <summary>
    /// Maximum over dimension <paramref name="dim"/> and its int32 index (the first occurrence on ties; NaN propagates,
    /// with the index of the first NaN). The dimension must not be empty.
    /// </summary>
    public static (Tensor Values, Tensor Indices) Max(Tensor x, int dim, bool keepDim = false)
    {
        const string op = "Reductions.Max";
        Guard.DType(op, x, "x", DType.Float32);
        int d = Dim(op, x, dim);
        var (outer, n, inner) = Split(x.Shape, d);
        Guard.That(n > 0, op, nameof(dim), $"x has shape {Shapes.Format(x.Shape)}; cannot take the max over empty dimension {dim}.");
        var shape = ReducedShape(x.Shape, d, keepDim);
        var values = Tensor.Empty(shape, DType.Float32, x.Device);
        var indices = Tensor.Empty(shape, DType.Int32, x.Device);
        if (values.Length == 0) return (values, indices);
        if (x.Device.IsIlgpu) ReductionsGpu.Max(x, values, indices, outer, n, inner);
        else ReductionsCpu.Max(x, values, indices, outer, n, inner);
        return (values, indices);
    }

    /// <summary>
    /// Backward of <see cref="Sum(Tensor, int, bool)"/> (scale 1) and <see cref="Mean(Tensor, int, bool)"/> (scale 1/n):
    /// dx[…, k, …] = scale·dy[…] for every k along <paramref name="dim"/> of <paramref name="inputShape"/>. dy has the
    /// reduced shape, with or without the kept dimension.
    /// </summary>
    public static Tensor SumBackward(Tensor dy, ReadOnlySpan<int> inputShape, int dim, float scale = 1f)
    {
        const string op = "Reductions.SumBackward";
        Guard.DType(op, dy, "dy", DType.Float32);
        int d = Shapes.Dim(dim, inputShape.Length, nameof(dim));
        CheckReduced(op, dy, "dy", inputShape, d);
        var (outer, n, inner) = Split(inputShape, d);
        var dx = Tensor.Empty(inputShape, DType.Float32, dy.Device);
        if (dx.Length == 0) return dx;
        if (dy.Device.IsIlgpu) ReductionsGpu.SumBackward(dy, dx, n, inner, scale);
        else ReductionsCpu.SumBackward(dy, dx, outer, n, inner, scale);
        return dx;
    }

    /// <summary>Backward of the whole-tensor <see cref="Sum(Tensor)"/> (scale 1) and <see cref="Mean(Tensor)"/> (scale 1/numel): dx = scale·dy everywhere.</summary>
    public static Tensor SumAllBackward(Tensor dy, ReadOnlySpan<int> inputShape, float scale = 1f)
    {
        const string op = "Reductions.SumAllBackward";
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.That(dy.Length == 1, op, nameof(dy), $"dy has shape {Shapes.Format(dy.Shape)}, expected one element (the gradient of a whole-tensor sum).");
        using var flatDy = dy.Reshape(1);
        using var flatDx = SumBackward(flatDy, new[] { Shapes.Numel(inputShape) }, 0, scale);
        return flatDx.Reshape(inputShape.ToArray());
    }

    /// <summary>
    /// Backward of <see cref="Max"/>: dx is zero except dx[…, indices[…], …] = dy[…] along <paramref name="dim"/>.
    /// dy and indices have the reduced shape, with or without the kept dimension.
    /// </summary>
    public static Tensor MaxBackward(Tensor dy, Tensor indices, ReadOnlySpan<int> inputShape, int dim)
    {
        const string op = "Reductions.MaxBackward";
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.DType(op, indices, "indices", DType.Int32);
        Guard.SameDevice(op, dy, "dy", indices, "indices");
        int d = Shapes.Dim(dim, inputShape.Length, nameof(dim));
        CheckReduced(op, dy, "dy", inputShape, d);
        CheckReduced(op, indices, "indices", inputShape, d);
        var (_, n, inner) = Split(inputShape, d);
        var dx = Tensor.Zeros(inputShape, DType.Float32, dy.Device);
        if (dy.Length == 0) return dx;
        if (dy.Device.IsIlgpu) ReductionsGpu.MaxBackward(dy, indices, dx, n, inner);
        else ReductionsCpu.MaxBackward(dy, indices, dx, n, inner);
        return dx;
    }

    /// <summary>The shape of a reduction of <paramref name="shape"/> over <paramref name="dim"/> (size 1 there, or removed).</summary>
    public static int[] ReducedShape(ReadOnlySpan<int> shape, int dim, bool keepDim)
    {
        int d = Shapes.Dim(dim, shape.Length, nameof(dim));
        var list = shape.ToArray().ToList();
        if (keepDim) list[d] = 1;
        else list.RemoveAt(d);
        return list.ToArray();
    }

    /// <summary>(outer, n, inner): the products of the sizes before <paramref name="dim"/>, its size, and the product after.</summary>
    internal static (int Outer, int N, int Inner) Split(ReadOnlySpan<int> shape, int dim)
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.Length; i++) inner *= shape[i];
        return (outer, shape[dim], inner);
    }

    private static Tensor ReduceAll(string op, Tensor x, float scale)
    {
        Guard.DType(op, x, "x", DType.Float32);
        var y = Tensor.Empty(ReadOnlySpan<int>.Empty, DType.Float32, x.Device);
        if (x.Length == 0) Elementwise.Fill(y, 0f * scale);
        else if (x.Device.IsIlgpu) ReductionsGpu.SumAll(x, y, scale);
        else ReductionsCpu.SumAll(x, y, scale);
        return y;
    }

    private static Tensor ReduceDim(string op, Tensor x, int dim, bool keepDim, bool mean)
    {
        Guard.DType(op, x, "x", DType.Float32);
        int d = Dim(op, x, dim);
        var (outer, n, inner) = Split(x.Shape, d);
        var y = Tensor.Empty(ReducedShape(x.Shape, d, keepDim), DType.Float32, x.Device);
        float scale = mean ? 1f / n : 1f;
        if (y.Length == 0) return y;
        if (n == 0) Elementwise.Fill(y, 0f * scale);
        else if (x.Device.IsIlgpu) ReductionsGpu.Sum(x, y, outer, n, inner, scale);
        else ReductionsCpu.Sum(x, y, outer, n, inner, scale);
        return y;
    }

    private static int Dim(string op, Tensor x, int dim)
    {
        int d = dim < 0 ? dim + x.Rank : dim;
        if (d < 0 || d >= x.Rank)
            throw new ArgumentOutOfRangeException(nameof(dim), dim, $"{op}: dim {dim} is out of range for x of shape {Shapes.Format(x.Shape)} (rank {x.Rank}).");
        return d;
    }

    private static void CheckReduced(string op, Tensor t, string name, ReadOnlySpan<int> inputShape, int d)
    {
        var kept = ReducedShape(inputShape, d, keepDim: true);
        var dropped = ReducedShape(inputShape, d, keepDim: false);
        if (!Shapes.Equal(t.Shape, kept) && !Shapes.Equal(t.Shape, dropped))
            throw new ArgumentException(
                $"{op}: {name} has shape {Shapes.Format(t.Shape)}, expected {Shapes.Format(dropped)} or {Shapes.Format(kept)} (input {Shapes.Format(inputShape)} reduced over dim {d}).", name);
    }
}
