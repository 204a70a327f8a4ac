using System.Collections.Concurrent;

namespace Ssm.Kernels;

/// <summary>
/// Per-device caching allocator: released storage is kept in size-class buckets and handed out again, so a training
/// step does not allocate fresh memory every iteration (like PyTorch's CUDA caching allocator). Size classes are the
/// next of {1, 1.25, 1.5, 1.75} × 2^k at or above the request, bounding waste to 25%. The cache is capped; past the cap
/// released blocks are freed.
/// </summary>
internal sealed class CachingAllocator
{
    private readonly Device _device;
    private readonly Func<DType, int, Storage> _create;
    private readonly long _maxCachedBytes;
    private readonly ConcurrentDictionary<(DType, int), ConcurrentBag<Storage>> _free = new();
    private long _cachedBytes;
    private long _inUseBytes;

    public CachingAllocator(Device device, Func<DType, int, Storage> create, long maxCachedBytes)
    {
        _device = device;
        _create = create;
        _maxCachedBytes = maxCachedBytes;
    }

    public long CachedBytes => Interlocked.Read(ref _cachedBytes);
    public long InUseBytes => Interlocked.Read(ref _inUseBytes);

    public static int SizeClass(int n)
    {
        if (n <= 64) return 64;
        int pow = 1 << (31 - System.Numerics.BitOperations.LeadingZeroCount((uint)n)); // largest power of two <= n
        if (pow == n) return n;
        int quarter = pow >> 2;
        long rounded = ((long)n + quarter - 1) / quarter * quarter;
        return rounded > int.MaxValue ? n : (int)rounded;
    }

    public Storage Rent(DType dtype, int length, bool zero)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "negative tensor length");
        int capacity = SizeClass(Math.Max(length, 1));
        Storage? storage = null;
        if (_free.TryGetValue((dtype, capacity), out var bag) && bag.TryTake(out storage))
        {
            Interlocked.Add(ref _cachedBytes, -storage.Bytes);
            storage.Revive();
        }
        else
        {
            try { storage = _create(dtype, capacity); }
            catch (Exception e) when (e is OutOfMemoryException or ILGPU.Runtime.AcceleratorException)
            {
                Clear();
                storage = _create(dtype, capacity);
            }
        }
        Interlocked.Add(ref _inUseBytes, storage.Bytes);
        if (zero) storage.Zero(0, length);
        return storage;
    }

    public void Return(Storage storage)
    {
        Interlocked.Add(ref _inUseBytes, -storage.Bytes);
        if (CachedBytes + storage.Bytes > _maxCachedBytes)
        {
            storage.Free();
            return;
        }
        _free.GetOrAdd((storage.DType, storage.Capacity), _ => new ConcurrentBag<Storage>()).Add(storage);
        Interlocked.Add(ref _cachedBytes, storage.Bytes);
    }

    public void Clear()
    {
        foreach (var bag in _free.Values)
            while (bag.TryTake(out var s))
            {
                Interlocked.Add(ref _cachedBytes, -s.Bytes);
                s.Free();
            }
    }

    public override string ToString() => $"CachingAllocator({_device.Name}, in use {InUseBytes} B, cached {CachedBytes} B)";
}
