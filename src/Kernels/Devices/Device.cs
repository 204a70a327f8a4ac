namespace Ssm.Kernels;

/// <summary>
/// Where tensors live and ops run: <see cref="Cpu"/> (managed SIMD, the default) or an ILGPU accelerator
/// (<see cref="Cuda"/> on NVIDIA GPUs, <see cref="IlgpuCpu"/> to run the GPU kernels on the CPU in tests).
/// Selection: an explicit argument, else the <c>SSM_DEVICE</c> environment variable (<c>cpu</c>, <c>cuda</c>,
/// <c>ilgpu-cpu</c>), else <c>cpu</c>. Asking for CUDA without a GPU throws; there is no silent fallback.
/// </summary>
public abstract class Device
{
    private static Device? _default;

    /// <summary>The managed CPU device (System.Numerics.Tensors, Vector256/512, Parallel.For).</summary>
    public static Device Cpu => CpuDevice.Instance;

    /// <summary>The first CUDA GPU through ILGPU. Throws <see cref="InvalidOperationException"/> when none is present.</summary>
    public static Device Cuda => IlgpuDevice.CudaDevice;

    /// <summary>ILGPU's CPU accelerator (runs GPU kernel code on the CPU; slow, for kernel tests).</summary>
    public static Device IlgpuCpu => IlgpuDevice.SharedCpuSimulator;

    /// <summary>
    /// The device used when none is named: the one selected by <c>SSM_DEVICE</c>, else <see cref="Cpu"/>.
    /// Can be overridden for the process with <see cref="SetDefault"/>.
    /// </summary>
    public static Device Default => _default ??= FromName(Environment.GetEnvironmentVariable("SSM_DEVICE"));

    /// <summary>Sets the process-wide default device.</summary>
    public static void SetDefault(Device device) => _default = device ?? throw new ArgumentNullException(nameof(device));

    /// <summary>Resolves a device name (<c>cpu</c>, <c>cuda</c>, <c>ilgpu-cpu</c>; null or empty means cpu).</summary>
    public static Device FromName(string? name) => (name ?? "").Trim().ToLowerInvariant() switch
    {
        "" or "cpu" => Cpu,
        "cuda" or "gpu" => Cuda,
        "ilgpu-cpu" => IlgpuCpu,
        _ => throw new ArgumentException(
            $"Device.FromName: unknown device '{name}', expected one of cpu, cuda, ilgpu-cpu.", nameof(name)),
    };

    /// <summary>Short name: <c>cpu</c>, <c>cuda</c> or <c>ilgpu-cpu</c>.</summary>
    public abstract string Name { get; }

    /// <summary>True when this device runs ILGPU kernels (CUDA or the ILGPU CPU accelerator).</summary>
    public abstract bool IsIlgpu { get; }

    /// <summary>The caching allocator that serves this device's tensor storage.</summary>
    internal abstract CachingAllocator Allocator { get; }

    /// <summary>Waits until all queued work on this device has finished.</summary>
    public abstract void Synchronize();

    /// <summary>Releases memory cached by the allocator (like <c>torch.cuda.empty_cache</c>).</summary>
    public void EmptyCache() => Allocator.Clear();

    /// <summary>Bytes currently held in the allocator's cache (not in use by tensors).</summary>
    public long CachedBytes => Allocator.CachedBytes;

    /// <summary>Bytes currently in use by live tensors on this device.</summary>
    public long AllocatedBytes => Allocator.InUseBytes;

    /// <inheritdoc />
    public override string ToString() => Name;
}
