using Ssm.Kernels;

namespace Ssm;

public static partial class F
{
    /// <summary>Reorders dimensions: output dim i is input dim <paramref name="dims"/>[i] (a contiguous copy).</summary>
    public static Variable Permute(Variable x, params int[] dims)
    {
        var inverse = new int[dims.Length];
        for (int i = 0; i < dims.Length; i++) inverse[Shapes.Dim(dims[i], x.Rank, nameof(dims))] = i;
        return Autograd.Record(Layout.Permute(x.Data, dims), "Permute", new[] { x }, g => new Tensor?[] { Layout.Permute(g, inverse) });
    }

    /// <summary>Swaps two dimensions.</summary>
    public static Variable Transpose(Variable x, int dim0, int dim1)
    {
        var dims = Enumerable.Range(0, x.Rank).ToArray();
        int a = Shapes.Dim(dim0, x.Rank, nameof(dim0)), b = Shapes.Dim(dim1, x.Rank, nameof(dim1));
        (dims[a], dims[b]) = (dims[b], dims[a]);
        return Permute(x, dims);
    }

    /// <summary>x[..., start:start+length, ...] along <paramref name="dim"/> (a copy).</summary>
    public static Variable Narrow(Variable x, int dim, int start, int length)
    {
        var shape = x.Data.ShapeArray();
        return Autograd.Record(Layout.Narrow(x.Data, dim, start, length), "Narrow", new[] { x }, g =>
        {
            var dx = Tensor.Zeros(shape, DType.Float32, g.Device);
            Layout.WriteSlice(dx, dim, start, g);
            return new Tensor?[] { dx };
        });
    }

    /// <summary>x reversed along <paramref name="dim"/> (a copy, like <c>torch.flip(x, [dim])</c>).</summary>
    public static Variable Flip(Variable x, int dim)
        => Autograd.Record(Layout.Flip(x.Data, dim), "Flip", new[] { x }, g => new Tensor?[] { Layout.Flip(g, dim) });

    /// <summary>
    /// Splits x along <paramref name="dim"/> into pieces of the given sizes (like <c>torch.split</c>). One node: the
    /// backward writes every piece's gradient into one tensor (zeros for unused pieces), so splitting into many pieces
    /// costs linear time and memory, not one full-size gradient per piece.
    /// </summary>
    public static Variable[] Split(Variable x, int[] sizes, int dim = -1)
    {
        int d = Shapes.Dim(dim, x.Rank, nameof(dim));
        if (sizes.Sum() != x.Shape[d])
            throw new ArgumentException($"F.Split: sizes [{string.Join(", ", sizes)}] sum to {sizes.Sum()}, expected {x.Shape[d]} (dimension {d} of {Shapes.Format(x.Shape)}).", nameof(sizes));
        var pieces = new Tensor[sizes.Length];
        var starts = new int[sizes.Length];
        int at = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            starts[i] = at;
            pieces[i] = Layout.Narrow(x.Data, d, at, sizes[i]);
            at += sizes[i];
        }
        var shape = x.Data.ShapeArray();
        return Autograd.RecordMany(pieces, "Split", new[] { x }, g =>
        {
            var dx = Tensor.Zeros(shape, DType.Float32, x.Device);
            for (int i = 0; i < g.Length; i++)
                if (g[i] is not null) Layout.WriteSlice(dx, d, starts[i], g[i]!);
            return new Tensor?[] { dx };
        });
    }

    /// <summary>Concatenates along <paramref name="dim"/>.</summary>
    public static Variable Concat(IReadOnlyList<Variable> xs, int dim = -1)
    {
        if (xs.Count == 0) throw new ArgumentException("F.Concat: no inputs.", nameof(xs));
        int d = Shapes.Dim(dim, xs[0].Rank, nameof(dim));
        var sizes = xs.Select(v => v.Shape[d]).ToArray();
        return Autograd.Record(Layout.Concat(xs.Select(v => v.Data).ToList(), d), "Concat", xs.ToArray(), g =>
        {
            var grads = new Tensor?[xs.Count];
            int at = 0;
            for (int i = 0; i < xs.Count; i++)
            {
                if (xs[i].RequiresGrad) grads[i] = Layout.Narrow(g, d, at, sizes[i]);
                at += sizes[i];
            }
            return grads;
        });
    }
}
