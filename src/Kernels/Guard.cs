namespace Ssm.Kernels;

/// <summary>
/// Argument checks for public op and layer entry points. Messages name the op, the argument, the actual and the
/// expected shape/value, e.g. <c>Mamba2.Forward: x has shape [2, 64, 48], expected [batch, length, 64] (d_model)</c>.
/// </summary>
public static class Guard
{
    /// <summary>Throws unless both tensors are on the same device.</summary>
    public static void SameDevice(string op, Tensor a, string aName, Tensor b, string bName)
    {
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: {aName} is on {a.Device.Name} but {bName} is on {b.Device.Name}; move one with Tensor.To(device).", bName);
    }

    /// <summary>Throws unless the tensor has the expected element type.</summary>
    public static void DType(string op, Tensor t, string name, DType expected)
    {
        if (t.DType != expected) throw new ArgumentException($"{op}: {name} has dtype {t.DType}, expected {expected}.", name);
    }

    /// <summary>Throws unless the tensor has the expected rank; <paramref name="layout"/> names the dimensions.</summary>
    public static void Rank(string op, Tensor t, string name, int rank, string layout)
    {
        if (t.Rank != rank)
            throw new ArgumentException($"{op}: {name} has shape {Shapes.Format(t.Shape)}, expected rank {rank} {layout}.", name);
    }

    /// <summary>
    /// Throws unless the tensor's shape equals <paramref name="expected"/> (a -1 entry matches any size);
    /// <paramref name="layout"/> names the dimensions, e.g. <c>[batch, length, d_model]</c>.
    /// </summary>
    public static void Shape(string op, Tensor t, string name, ReadOnlySpan<int> expected, string layout)
    {
        bool ok = t.Rank == expected.Length;
        for (int i = 0; ok && i < expected.Length; i++) ok = expected[i] < 0 || expected[i] == t.Shape[i];
        if (!ok)
        {
            var shown = string.Join(", ", expected.ToArray().Select(e => e < 0 ? "*" : e.ToString()));
            throw new ArgumentException($"{op}: {name} has shape {Shapes.Format(t.Shape)}, expected [{shown}] {layout}.", name);
        }
    }

    /// <summary>Throws unless <paramref name="condition"/> holds, with the given message prefixed by the op.</summary>
    public static void That(bool condition, string op, string name, string message)
    {
        if (!condition) throw new ArgumentException($"{op}: {message}", name);
    }

    /// <summary>Throws unless <paramref name="value"/> is positive.</summary>
    public static void Positive(string op, string name, double value)
    {
        if (!(value > 0)) throw new ArgumentOutOfRangeException(name, value, $"{op}: {name} must be positive, got {value}.");
    }
}
