using ILGPU;

namespace Ssm.Kernels;

/// <summary>
/// Range checks for ops that take int32/int64 indices (<see cref="Embedding"/> ids, <see cref="CrossEntropy"/> targets).
/// On the CPU every call checks its indices on the host and throws a clear error. On ILGPU devices the indices live on
/// the device, so checking means copying them to the host and waiting for the queue: this happens only when
/// <see cref="CheckOnIlgpu"/> is set (default: the <c>SSM_CHECK_INDICES</c> environment variable is <c>1</c>/<c>true</c>).
/// Without the check, kernels never read out of bounds: an out-of-range index makes its output row NaN (embedding rows,
/// per-row losses and their gradients), so the error shows up in the loss instead of corrupting memory.
/// </summary>
public static class IndexValidation
{
    /// <summary>When true, ops on ILGPU devices copy their indices to the host and check them before launching (a device sync).</summary>
    public static bool CheckOnIlgpu { get; set; } = Environment.GetEnvironmentVariable("SSM_CHECK_INDICES")?.Trim().ToLowerInvariant() is "1" or "true";

    /// <summary>Throws unless <paramref name="indices"/> is int32 or int64.</summary>
    internal static void RequireIndexType(string op, Tensor indices, string name)
    {
        if (indices.DType is not (DType.Int32 or DType.Int64))
            throw new ArgumentException($"{op}: {name} has dtype {indices.DType}, expected Int32 or Int64 (indices).", name);
    }

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the first index outside [0, <paramref name="count"/>) that
    /// is not <paramref name="ignore"/> (CPU tensors always; ILGPU tensors when <see cref="CheckOnIlgpu"/>).
    /// <paramref name="range"/> says where the bound comes from, e.g. <c>vocabulary size of weight [100, 16]</c>.
    /// </summary>
    internal static void CheckRange(string op, Tensor indices, string name, int count, int? ignore, string range)
    {
        if (indices.Length == 0 || (indices.Device.IsIlgpu && !CheckOnIlgpu)) return;
        long[] values = indices.DType == DType.Int64 ? indices.ToInt64Array() : Array.ConvertAll(indices.ToInt32Array(), v => (long)v);
        for (int i = 0; i < values.Length; i++)
        {
            long v = values[i];
            if ((v < 0 || v >= count) && v != ignore)
                throw new ArgumentOutOfRangeException(name, v,
                    $"{op}: {name}[{i}] (flat index) = {v} is out of range [0, {count}) ({range})" +
                    (ignore is int ig ? $" and is not the ignore index {ig}." : "."));
        }
    }

    /// <summary>The indices as int32 on the host (CPU tensors only, after <see cref="CheckRange"/>): the tensor's own array for int32, a converted copy for int64.</summary>
    internal static (int[] Array, int Offset) HostInt32(Tensor indices)
        => indices.DType == DType.Int32
            ? (indices.CpuArray<int>(), indices.Offset)
            : (Array.ConvertAll(indices.CpuSpan<long>().ToArray(), v => (int)v), 0);

    /// <summary>The indices as a pair of ILGPU views, exactly one of them non-empty (for <see cref="Read"/>).</summary>
    internal static (ArrayView<int> Int32, ArrayView<long> Int64) GpuViews(Tensor indices)
        => indices.DType == DType.Int32
            ? (indices.GpuView<int>(), ArrayView<long>.Empty)
            : (ArrayView<int>.Empty, indices.GpuView<long>());

    /// <summary>Index <paramref name="i"/> from whichever view of <see cref="GpuViews"/> holds the indices (kernel helper).</summary>
    internal static long Read(ArrayView<int> int32, ArrayView<long> int64, int i) => int64.Length > 0 ? int64[i] : int32[i];
}
