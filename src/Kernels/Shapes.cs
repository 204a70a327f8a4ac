namespace Ssm.Kernels;

/// <summary>Shape arithmetic and formatting shared by every op.</summary>
public static class Shapes
{
    /// <summary>Product of the dimensions (1 for a scalar).</summary>
    public static int Numel(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n > int.MaxValue) throw new ArgumentException($"Shape {Format(shape)} has {n} elements, more than {int.MaxValue}.");
        return (int)n;
    }

    /// <summary>Formats a shape as <c>[2, 64, 48]</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>Normalizes a possibly negative dimension index.</summary>
    public static int Dim(int dim, int rank, string name)
    {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= rank) throw new ArgumentOutOfRangeException(name, dim, $"dimension {dim} is out of range for rank {rank}");
        return d;
    }

    internal static void Validate(int[] shape, string op)
    {
        foreach (var d in shape)
            if (d < 0) throw new ArgumentException($"{op}: shape {Format(shape)} has a negative dimension.", nameof(shape));
    }

    internal static int[] InferReshape(int[] shape, int length, int[] from)
    {
        var s = (int[])shape.Clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"Tensor.Reshape: shape {Format(shape)} has more than one -1.", nameof(shape));
                infer = i;
            }
            else if (s[i] < 0) throw new ArgumentException($"Tensor.Reshape: shape {Format(shape)} has a negative dimension.", nameof(shape));
            else known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || length % known != 0)
                throw new ArgumentException($"Tensor.Reshape: cannot reshape {Format(from)} ({length} elements) to {Format(shape)}.", nameof(shape));
            s[infer] = (int)(length / known);
        }
        else if (known != length)
            throw new ArgumentException($"Tensor.Reshape: cannot reshape {Format(from)} ({length} elements) to {Format(shape)}.", nameof(shape));
        return s;
    }

    /// <summary>The broadcast of two shapes (NumPy rules), or an exception naming the op and both shapes.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast together (dimension {i}: {da} vs {db}).");
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary>True when both shapes are equal.</summary>
    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);
}
