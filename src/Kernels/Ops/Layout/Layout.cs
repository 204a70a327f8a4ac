namespace Ssm.Kernels;

/// <summary>
/// Data-movement ops: permute/transpose, narrow (a slice along any dimension), write into a slice, concatenation and
/// reversal along a dimension.
/// All are strided copies (<see cref="StridedLayout"/>) run by one CPU routine and one ILGPU kernel; works for float32
/// and int32 tensors.
/// </summary>
public static class Layout
{
    /// <summary>A contiguous copy of x with dimensions reordered: output dim i is input dim <paramref name="dims"/>[i].</summary>
    public static Tensor Permute(Tensor x, params int[] dims)
    {
        const string op = "Layout.Permute";
        if (dims.Length != x.Rank)
            throw new ArgumentException($"{op}: {dims.Length} dims given for x of shape {Shapes.Format(x.Shape)}, expected {x.Rank}.", nameof(dims));
        var seen = new bool[x.Rank];
        var outShape = new int[x.Rank];
        var inStrides = StridedLayout.ContiguousStrides(x.Shape);
        var src = new int[x.Rank];
        for (int i = 0; i < dims.Length; i++)
        {
            int d = Shapes.Dim(dims[i], x.Rank, nameof(dims));
            if (seen[d]) throw new ArgumentException($"{op}: dims [{string.Join(", ", dims)}] repeat dimension {d}.", nameof(dims));
            seen[d] = true;
            outShape[i] = x.Shape[d];
            src[i] = inStrides[d];
        }
        var y = Tensor.Empty(outShape, x.DType, x.Device);
        Copy(x, y, StridedLayout.Create(outShape, src, StridedLayout.ContiguousStrides(outShape), 0, 0, op));
        return y;
    }

    /// <summary>Swaps two dimensions (a contiguous copy).</summary>
    public static Tensor Transpose(Tensor x, int dim0, int dim1)
    {
        var dims = Enumerable.Range(0, x.Rank).ToArray();
        int a = Shapes.Dim(dim0, x.Rank, nameof(dim0)), b = Shapes.Dim(dim1, x.Rank, nameof(dim1));
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(x, dims);
    }

    /// <summary>A contiguous copy of x[..., start:start+length, ...] along <paramref name="dim"/>.</summary>
    public static Tensor Narrow(Tensor x, int dim, int start, int length)
    {
        int d = CheckRange("Layout.Narrow", x.Shape, dim, start, length);
        var outShape = x.ShapeArray();
        outShape[d] = length;
        var y = Tensor.Empty(outShape, x.DType, x.Device);
        var inStrides = StridedLayout.ContiguousStrides(x.Shape);
        Copy(x, y, StridedLayout.Create(outShape, inStrides, StridedLayout.ContiguousStrides(outShape), start * inStrides[d], 0, "Layout.Narrow"));
        return y;
    }

    /// <summary>A contiguous copy of x reversed along <paramref name="dim"/> (like <c>torch.flip(x, [dim])</c>).</summary>
    public static Tensor Flip(Tensor x, int dim)
    {
        int d = Shapes.Dim(dim, x.Rank, nameof(dim));
        var y = Tensor.Empty(x.Shape, x.DType, x.Device);
        var strides = StridedLayout.ContiguousStrides(x.Shape);
        var src = (int[])strides.Clone();
        src[d] = -strides[d];
        Copy(x, y, StridedLayout.Create(x.Shape, src, strides, Math.Max(x.Shape[d] - 1, 0) * strides[d], 0, "Layout.Flip"));
        return y;
    }

    /// <summary>Writes <paramref name="src"/> into the slice [start, start + src.Size(dim)) of <paramref name="dst"/> along <paramref name="dim"/>, in place.</summary>
    public static void WriteSlice(Tensor dst, int dim, int start, Tensor src)
    {
        const string op = "Layout.WriteSlice";
        Guard.SameDevice(op, dst, "dst", src, "src");
        if (src.DType != dst.DType) throw new ArgumentException($"{op}: src has dtype {src.DType}, expected {dst.DType}.", nameof(src));
        if (src.Rank != dst.Rank) throw new ArgumentException($"{op}: src has shape {Shapes.Format(src.Shape)}, expected rank {dst.Rank} like dst {Shapes.Format(dst.Shape)}.", nameof(src));
        int d = CheckRange(op, dst.Shape, dim, start, src.Shape[Shapes.Dim(dim, dst.Rank, nameof(dim))]);
        for (int k = 0; k < dst.Rank; k++)
            if (k != d && src.Shape[k] != dst.Shape[k])
                throw new ArgumentException($"{op}: src has shape {Shapes.Format(src.Shape)}, which differs from dst {Shapes.Format(dst.Shape)} outside dimension {d}.", nameof(src));
        var dstStrides = StridedLayout.ContiguousStrides(dst.Shape);
        Copy(src, dst, StridedLayout.Create(src.Shape, StridedLayout.ContiguousStrides(src.Shape), dstStrides, 0, start * dstStrides[d], op));
    }

    /// <summary>Concatenates tensors of equal shape outside <paramref name="dim"/>.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> xs, int dim)
    {
        const string op = "Layout.Concat";
        if (xs.Count == 0) throw new ArgumentException($"{op}: no tensors given.", nameof(xs));
        var first = xs[0];
        int d = Shapes.Dim(dim, first.Rank, nameof(dim));
        var outShape = first.ShapeArray();
        outShape[d] = 0;
        foreach (var x in xs)
        {
            Guard.SameDevice(op, first, "xs[0]", x, "xs[i]");
            bool ok = x.Rank == first.Rank && x.DType == first.DType;
            for (int k = 0; ok && k < x.Rank; k++) ok = k == d || x.Shape[k] == first.Shape[k];
            if (!ok) throw new ArgumentException($"{op}: tensor of shape {Shapes.Format(x.Shape)} ({x.DType}) does not match {Shapes.Format(first.Shape)} ({first.DType}) outside dimension {d}.", nameof(xs));
            outShape[d] += x.Shape[d];
        }
        var y = Tensor.Empty(outShape, first.DType, first.Device);
        int at = 0;
        foreach (var x in xs)
        {
            WriteSlice(y, d, at, x);
            at += x.Shape[d];
        }
        return y;
    }

    private static int CheckRange(string op, ReadOnlySpan<int> shape, int dim, int start, int length)
    {
        int d = Shapes.Dim(dim, shape.Length, nameof(dim));
        if (start < 0 || length < 0 || start + length > shape[d])
            throw new ArgumentOutOfRangeException(nameof(start), $"{op}: range [{start}, {start + length}) is outside dimension {d} of size {shape[d]} (shape {Shapes.Format(shape)}).");
        return d;
    }

    private static void Copy(Tensor src, Tensor dst, StridedLayout l)
    {
        if (l.Count == 0) return;
        if (src.Device.IsIlgpu) LayoutGpu.Copy(src, dst, l);
        else LayoutCpu.Copy(src, dst, l);
    }
}
