namespace Ssm.Kernels;

/// <summary>Element type of a <see cref="Tensor"/>: float32 for values, int32/int64 for indices.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float (all values, activations, parameters).</summary>
    Float32,
    /// <summary>32-bit signed integer (token ids, indices).</summary>
    Int32,
    /// <summary>64-bit signed integer (indices as stored by PyTorch checkpoints).</summary>
    Int64,
}

/// <summary>Helpers for <see cref="DType"/>.</summary>
public static class DTypeExtensions
{
    /// <summary>Size in bytes of one element.</summary>
    public static int ElementSize(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Int32 => 4,
        DType.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };
}
