using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: reductions (Sum, Mean, Max) over the whole tensor or one dimension.</summary>
public static partial class F
{
    /// <summary>Σ of all elements (shape []).</summary>
    public static Variable Sum(Variable x)
    {
        var shape = x.Data.ShapeArray();
        return Autograd.Record(Reductions.Sum(x.Data), "Sum", new[] { x },
            g => new Tensor?[] { Reductions.SumAllBackward(g, shape) });
    }

    /// <summary>Σ over dimension <paramref name="dim"/> (negative counts from the end); <paramref name="keepDim"/> keeps it with size 1.</summary>
    public static Variable Sum(Variable x, int dim, bool keepDim = false)
    {
        var shape = x.Data.ShapeArray();
        return Autograd.Record(Reductions.Sum(x.Data, dim, keepDim), "Sum", new[] { x },
            g => new Tensor?[] { Reductions.SumBackward(g, shape, dim) });
    }

    /// <summary>Mean of all elements (shape []).</summary>
    public static Variable Mean(Variable x)
    {
        var shape = x.Data.ShapeArray();
        return Autograd.Record(Reductions.Mean(x.Data), "Mean", new[] { x },
            g => new Tensor?[] { Reductions.SumAllBackward(g, shape, 1f / Shapes.Numel(shape)) });
    }

    /// <summary>Mean over dimension <paramref name="dim"/> (negative counts from the end); <paramref name="keepDim"/> keeps it with size 1.</summary>
    public static Variable Mean(Variable x, int dim, bool keepDim = false)
    {
        var shape = x.Data.ShapeArray();
        var y = Reductions.Mean(x.Data, dim, keepDim);
        float scale = 1f / x.Data.Size(dim);
        return Autograd.Record(y, "Mean", new[] { x }, g => new Tensor?[] { Reductions.SumBackward(g, shape, dim, scale) });
    }

    /// <summary>
    /// Maximum over dimension <paramref name="dim"/> (negative counts from the end); the gradient flows to the argmax
    /// (the first maximum on ties). Use <see cref="Reductions.Max"/> on the data for the indices.
    /// </summary>
    public static Variable Max(Variable x, int dim, bool keepDim = false)
    {
        var shape = x.Data.ShapeArray();
        var (values, indices) = Reductions.Max(x.Data, dim, keepDim);
        var y = Autograd.Record(values, "Max", new[] { x },
            g => new Tensor?[] { Reductions.MaxBackward(g, indices, shape, dim) });
        if (!y.RequiresGrad) indices.Dispose();
        return y;
    }
}
