using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// A block of device memory holding <see cref="Capacity"/> elements of one <see cref="DType"/>, shared by a tensor and
/// its views through a reference count. Its memory goes back to the device's <see cref="CachingAllocator"/> when the
/// last reference is released.
/// </summary>
internal abstract class Storage
{
    private int _refs = 1;

    protected Storage(Device device, DType dtype, int capacity)
    {
        Device = device;
        DType = dtype;
        Capacity = capacity;
    }

    public Device Device { get; }
    public DType DType { get; }
    public int Capacity { get; }
    public long Bytes => (long)Capacity * DType.ElementSize();

    public void AddRef() => Interlocked.Increment(ref _refs);

    public void Release()
    {
        var left = Interlocked.Decrement(ref _refs);
        if (left == 0) Device.Allocator.Return(this);
        else if (left < 0) throw new ObjectDisposedException(nameof(Tensor), "Tensor storage released twice.");
    }

    /// <summary>Re-arms a cached block handed out again by the allocator.</summary>
    public void Revive() => Volatile.Write(ref _refs, 1);

    /// <summary>Frees the memory for good (allocator eviction).</summary>
    public abstract void Free();

    /// <summary>Sets <paramref name="count"/> elements from <paramref name="offset"/> to zero.</summary>
    public abstract void Zero(int offset, int count);
}

/// <summary>CPU storage: a plain .NET array (float[], int[] or long[]).</summary>
internal sealed class CpuStorage : Storage
{
    private CpuStorage(DType dtype, Array array) : base(CpuDevice.Instance, dtype, array.Length) => Array = array;

    public Array Array { get; }

    public static Storage Create(DType dtype, int capacity) => new CpuStorage(dtype, dtype switch
    {
        DType.Float32 => GC.AllocateUninitializedArray<float>(capacity),
        DType.Int32 => GC.AllocateUninitializedArray<int>(capacity),
        DType.Int64 => GC.AllocateUninitializedArray<long>(capacity),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    });

    public override void Free() { }

    public override void Zero(int offset, int count) => System.Array.Clear(Array, offset, count);
}

/// <summary>ILGPU storage: a dense 1-D memory buffer on the accelerator.</summary>
internal sealed class GpuStorage : Storage
{
    private GpuStorage(IlgpuDevice device, DType dtype, MemoryBuffer buffer, int capacity) : base(device, dtype, capacity)
        => Buffer = buffer;

    public MemoryBuffer Buffer { get; }

    public static Storage Create(IlgpuDevice device, DType dtype, int capacity)
    {
        var acc = device.Accelerator;
        MemoryBuffer buffer = dtype switch
        {
            DType.Float32 => acc.Allocate1D<float>(capacity),
            DType.Int32 => acc.Allocate1D<int>(capacity),
            DType.Int64 => acc.Allocate1D<long>(capacity),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        };
        return new GpuStorage(device, dtype, buffer, capacity);
    }

    public ArrayView1D<T, Stride1D.Dense> View<T>() where T : unmanaged
        => ((MemoryBuffer1D<T, Stride1D.Dense>)Buffer).View;

    public override void Free() => Buffer.Dispose();

    public override void Zero(int offset, int count)
    {
        if (count == 0) return; // ILGPU's MemSet rejects an empty view
        var stream = ((IlgpuDevice)Device).Accelerator.DefaultStream;
        switch (DType)
        {
            case DType.Float32: View<float>().SubView(offset, count).MemSetToZero(stream); break;
            case DType.Int32: View<int>().SubView(offset, count).MemSetToZero(stream); break;
            default: View<long>().SubView(offset, count).MemSetToZero(stream); break;
        }
    }
}
