using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// A dense, contiguous, row-major n-d array of float32 (or int32/int64 indices) owned by one <see cref="Device"/>.
/// Views (<see cref="Reshape"/>, <see cref="Slice"/>) share storage; everything else copies explicitly. Host transfer is
/// explicit (<see cref="From(float[], int[])"/>, <see cref="ToArray"/>). A tensor created inside a
/// <see cref="TensorScope"/> is disposed when the scope ends unless it was moved out; storage returns to the device's
/// caching allocator when the last tensor viewing it is disposed.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly int[] _shape;
    private bool _disposed;
    internal TensorScope? Scope;

    internal Tensor(Storage storage, int offset, int[] shape)
    {
        Storage = storage;
        Offset = offset;
        _shape = shape;
        Length = Shapes.Numel(shape);
        TensorScope.Track(this);
    }

    internal Storage Storage { get; }
    internal int Offset { get; }

    /// <summary>The shape (outermost dimension first).</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>A copy of the shape as an array.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <summary>Number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>Element type.</summary>
    public DType DType => Storage.DType;

    /// <summary>The device holding the data.</summary>
    public Device Device => Storage.Device;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public int Size(int dim) => _shape[Shapes.Dim(dim, Rank, nameof(dim))];

    // ---- creation -------------------------------------------------------------------------------------------------

    /// <summary>An uninitialized tensor.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
        => Alloc(shape, dtype, device, zero: false);

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(ReadOnlySpan<int> shape, DType dtype = DType.Float32, Device? device = null)
        => Alloc(shape, dtype, device, zero: true);

    /// <summary>A float32 tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(ReadOnlySpan<int> shape, float value, Device? device = null)
    {
        var t = Empty(shape, DType.Float32, device);
        Elementwise.Fill(t, value);
        return t;
    }

    /// <summary>A float32 tensor of ones.</summary>
    public static Tensor Ones(ReadOnlySpan<int> shape, Device? device = null) => Full(shape, 1f, device);

    /// <summary>A float32 scalar (shape []).</summary>
    public static Tensor Scalar(float value, Device? device = null) => From(new[] { value }, Array.Empty<int>(), device);

    /// <summary>Copies host data into a new float32 tensor of the given shape on the default device.</summary>
    public static Tensor From(float[] data, params int[] shape) => From<float>(data, shape, DType.Float32, null);

    /// <summary>Copies host data into a new float32 tensor of the given shape.</summary>
    public static Tensor From(ReadOnlySpan<float> data, ReadOnlySpan<int> shape, Device? device) => From(data, shape, DType.Float32, device);

    /// <summary>Copies host data into a new int32 tensor of the given shape.</summary>
    public static Tensor From(ReadOnlySpan<int> data, ReadOnlySpan<int> shape, Device? device = null) => From(data, shape, DType.Int32, device);

    /// <summary>Copies host data into a new int64 tensor of the given shape.</summary>
    public static Tensor From(ReadOnlySpan<long> data, ReadOnlySpan<int> shape, Device? device = null) => From(data, shape, DType.Int64, device);

    private static Tensor From<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape, DType dtype, Device? device) where T : unmanaged
    {
        int n = Shapes.Numel(shape);
        if (data.Length != n)
            throw new ArgumentException(
                $"Tensor.From: data has {data.Length} elements, expected {n} for shape {Shapes.Format(shape)}.", nameof(data));
        var t = Empty(shape, dtype, device);
        t.CopyFromHost(data);
        return t;
    }

    private static Tensor Alloc(ReadOnlySpan<int> shape, DType dtype, Device? device, bool zero)
    {
        var s = shape.ToArray();
        Shapes.Validate(s, "Tensor");
        device ??= Device.Default;
        return new Tensor(device.Allocator.Rent(dtype, Shapes.Numel(s), zero), 0, s);
    }

    // ---- host transfer --------------------------------------------------------------------------------------------

    /// <summary>Copies the data to a new float32 host array (waits for queued device work).</summary>
    public float[] ToArray() => ToHost<float>(DType.Float32);

    /// <summary>Copies int32 data to a host array.</summary>
    public int[] ToInt32Array() => ToHost<int>(DType.Int32);

    /// <summary>Copies int64 data to a host array.</summary>
    public long[] ToInt64Array() => ToHost<long>(DType.Int64);

    /// <summary>The single value of a one-element float32 tensor.</summary>
    public float Item()
    {
        if (Length != 1) throw new InvalidOperationException($"Tensor.Item: tensor has shape {Shapes.Format(_shape)}, expected one element.");
        return ToArray()[0];
    }

    private T[] ToHost<T>(DType expected) where T : unmanaged
    {
        Guard.DType("Tensor.ToArray", this, "tensor", expected);
        ThrowIfDisposed();
        var result = new T[Length];
        if (Storage is CpuStorage) CpuSpan<T>().CopyTo(result);
        else
        {
            var acc = ((IlgpuDevice)Device).Accelerator;
            GpuView<T>().CopyToCPU(acc.DefaultStream, result);
            acc.DefaultStream.Synchronize();
        }
        return result;
    }

    /// <summary>Overwrites this tensor's data from host memory of the same length and element type.</summary>
    public void CopyFromHost<T>(ReadOnlySpan<T> data) where T : unmanaged
    {
        ThrowIfDisposed();
        if (data.Length != Length)
            throw new ArgumentException($"Tensor.CopyFromHost: data has {data.Length} elements, expected {Length}.", nameof(data));
        if (Storage is CpuStorage) data.CopyTo(CpuSpan<T>());
        else GpuView<T>().CopyFromCPU(((IlgpuDevice)Device).Accelerator.DefaultStream, data);
    }

    /// <summary>A copy of this tensor on <paramref name="device"/> (a plain clone when it is already there).</summary>
    public Tensor To(Device device)
    {
        if (device == Device) return Clone();
        var t = Empty(_shape, DType, device);
        switch (DType)
        {
            case DType.Float32: t.CopyFromHost<float>(ToArray()); break;
            case DType.Int32: t.CopyFromHost<int>(ToInt32Array()); break;
            default: t.CopyFromHost<long>(ToInt64Array()); break;
        }
        return t;
    }

    // ---- views and copies -----------------------------------------------------------------------------------------

    /// <summary>A view with another shape of the same number of elements (one dimension may be -1).</summary>
    public Tensor Reshape(params int[] shape)
    {
        ThrowIfDisposed();
        var s = Shapes.InferReshape(shape, Length, _shape);
        Storage.AddRef();
        return new Tensor(Storage, Offset, s);
    }

    /// <summary>A view of rows [<paramref name="start"/>, start+<paramref name="length"/>) of the outermost dimension.</summary>
    public Tensor Slice(int start, int length)
    {
        ThrowIfDisposed();
        if (Rank == 0) throw new InvalidOperationException("Tensor.Slice: cannot slice a scalar.");
        if (start < 0 || length < 0 || start + length > _shape[0])
            throw new ArgumentOutOfRangeException(nameof(start),
                $"Tensor.Slice: rows [{start}, {start + length}) are outside dimension 0 of size {_shape[0]}.");
        var s = ShapeArray();
        s[0] = length;
        int row = _shape[0] == 0 ? 0 : Length / _shape[0];
        Storage.AddRef();
        return new Tensor(Storage, Offset + start * row, s);
    }

    /// <summary>A new tensor with a copy of the data.</summary>
    public Tensor Clone()
    {
        var t = Empty(_shape, DType, Device);
        t.CopyFrom(this);
        return t;
    }

    /// <summary>Copies <paramref name="source"/> (same device, dtype and number of elements) into this tensor.</summary>
    public void CopyFrom(Tensor source)
    {
        ThrowIfDisposed();
        source.ThrowIfDisposed();
        Guard.SameDevice("Tensor.CopyFrom", this, "this", source, "source");
        Guard.DType("Tensor.CopyFrom", source, "source", DType);
        if (source.Length != Length)
            throw new ArgumentException($"Tensor.CopyFrom: source has {source.Length} elements, expected {Length}.", nameof(source));
        if (Storage is CpuStorage)
            Array.Copy(((CpuStorage)source.Storage).Array, source.Offset, ((CpuStorage)Storage).Array, Offset, Length);
        else
        {
            var stream = ((IlgpuDevice)Device).Accelerator.DefaultStream;
            switch (DType)
            {
                case DType.Float32: source.GpuView<float>().CopyTo(stream, GpuView<float>()); break;
                case DType.Int32: source.GpuView<int>().CopyTo(stream, GpuView<int>()); break;
                default: source.GpuView<long>().CopyTo(stream, GpuView<long>()); break;
            }
        }
    }

    /// <summary>Sets every element to zero.</summary>
    public void Zero()
    {
        ThrowIfDisposed();
        Storage.Zero(Offset, Length);
    }

    // ---- scopes and lifetime --------------------------------------------------------------------------------------

    /// <summary>Removes this tensor from its <see cref="TensorScope"/>: the caller now owns it and must dispose it.</summary>
    public Tensor DetachFromScope()
    {
        Scope = null;
        return this;
    }

    /// <summary>Moves this tensor to the scope enclosing its current one (or detaches it when there is none).</summary>
    public Tensor MoveToOuterScope()
    {
        var outer = Scope?.Parent;
        Scope = null;
        outer?.Adopt(this);
        return this;
    }

    /// <summary>Releases this tensor's reference to its storage. Safe to call more than once.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Scope = null;
        Storage.Release();
    }

    internal void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(Tensor), $"Tensor {Shapes.Format(_shape)} was disposed.");
    }

    // ---- backend access (for op implementations) ------------------------------------------------------------------

    /// <summary>The CPU array behind this tensor and the offset of element 0 (CPU device only).</summary>
    internal T[] CpuArray<T>() where T : unmanaged => (T[])((CpuStorage)Storage).Array;

    /// <summary>The elements of this tensor as a span (CPU device only).</summary>
    internal Span<T> CpuSpan<T>() where T : unmanaged => new(CpuArray<T>(), Offset, Length);

    /// <summary>The float32 elements as a span (CPU device only).</summary>
    internal Span<float> Span => CpuSpan<float>();

    /// <summary>The float32 CPU array; element 0 is at <see cref="Offset"/>.</summary>
    internal float[] Data => CpuArray<float>();

    /// <summary>The elements of this tensor as an ILGPU view (ILGPU devices only).</summary>
    internal ArrayView1D<T, Stride1D.Dense> GpuView<T>() where T : unmanaged
        => ((GpuStorage)Storage).View<T>().SubView(Offset, Length);

    /// <summary>The float32 elements as an ILGPU view.</summary>
    internal ArrayView<float> View => GpuView<float>();

    /// <inheritdoc />
    public override string ToString()
    {
        if (_disposed) return $"Tensor({Shapes.Format(_shape)}, disposed)";
        string head = "";
        if (DType == DType.Float32 && Length > 0)
        {
            var values = ToArray();
            head = ", [" + string.Join(", ", values.Take(6).Select(v => v.ToString("G5"))) + (Length > 6 ? ", …" : "") + "]";
        }
        return $"Tensor({Shapes.Format(_shape)}, {DType}, {Device.Name}{head})";
    }
}
