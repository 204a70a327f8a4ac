using System.Collections.Concurrent;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace Ssm.Kernels;

/// <summary>
/// A device backed by an ILGPU accelerator: CUDA on NVIDIA GPUs, or ILGPU's CPU accelerator, which runs the same kernel
/// code on simulated warps and groups (for tests at small sizes only: about a microsecond per simulated thread).
/// Kernels are compiled once per accelerator and cached.
/// </summary>
public sealed class IlgpuDevice : Device, IDisposable
{
    private static readonly Lazy<IlgpuDevice> Cuda0 = new(CreateCuda);
    private static readonly Lazy<IlgpuDevice> CpuSim = new(() => CreateCpuSimulator(4, 4, 2));

    private readonly ConcurrentDictionary<MethodInfo, Delegate> _kernels = new();
    private readonly CachingAllocator _allocator;
    private readonly string _name;

    private IlgpuDevice(Context context, Accelerator accelerator, string name)
    {
        Context = context;
        Accelerator = accelerator;
        _name = name;
        _allocator = new CachingAllocator(this, (dtype, capacity) => GpuStorage.Create(this, dtype, capacity),
            maxCachedBytes: accelerator.AcceleratorType == AcceleratorType.Cuda ? accelerator.MemorySize / 2 : 1L << 30);
    }

    internal static IlgpuDevice CudaDevice => Cuda0.Value;
    internal static IlgpuDevice SharedCpuSimulator => CpuSim.Value;

    /// <summary>The ILGPU context that owns <see cref="Accelerator"/>.</summary>
    public Context Context { get; }

    /// <summary>The ILGPU accelerator kernels run on.</summary>
    public Accelerator Accelerator { get; }

    /// <inheritdoc />
    public override string Name => _name;

    /// <inheritdoc />
    public override bool IsIlgpu => true;

    /// <summary>True for a CUDA accelerator (a real GPU).</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>Most threads one group may have on this accelerator (1024 on CUDA; warp × warps on the CPU simulator).</summary>
    public int MaxGroupSize => Accelerator.MaxNumThreadsPerGroup;

    /// <summary>Threads per warp (32 on CUDA).</summary>
    public int WarpSize => Accelerator.WarpSize;

    internal override CachingAllocator Allocator => _allocator;

    /// <summary>
    /// Creates an ILGPU CPU-accelerator device with the given simulated shape (threads per warp, warps per group,
    /// multiprocessors), in parallel mode. Tests use more than one shape to catch warp-size assumptions.
    /// </summary>
    public static IlgpuDevice CreateCpuSimulator(int threadsPerWarp, int warpsPerGroup, int multiprocessors)
    {
        var cpu = new CPUDevice(threadsPerWarp, warpsPerGroup, multiprocessors);
        var context = Context.Create(b => b.CPU(cpu).EnableAlgorithms());
        var accelerator = context.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel);
        return new IlgpuDevice(context, accelerator, "ilgpu-cpu");
    }

    private static IlgpuDevice CreateCuda()
    {
        CudaLibraryResolver.Install();
        Context context;
        try
        {
            context = Context.Create(b => b.Cuda().EnableAlgorithms());
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            throw new InvalidOperationException(
                "Device 'cuda' was requested but the CUDA driver (libcuda.so / libcuda.so.1) could not be loaded. " +
                "Use SSM_DEVICE=cpu, or run on a machine with an NVIDIA driver.", e);
        }
        var devices = context.GetCudaDevices();
        if (devices.Count == 0)
        {
            context.Dispose();
            throw new InvalidOperationException(
                "Device 'cuda' was requested but ILGPU found no CUDA device. Use SSM_DEVICE=cpu, or run on a machine with an NVIDIA GPU.");
        }
        var accelerator = devices[0].CreateCudaAccelerator(context);
        return new IlgpuDevice(context, accelerator, "cuda");
    }

    /// <summary>
    /// Returns the kernel compiled from <paramref name="method"/> on this accelerator, loading it once with
    /// <paramref name="load"/> (e.g. <c>a =&gt; a.LoadAutoGroupedStreamKernel&lt;...&gt;(Kernel)</c>).
    /// </summary>
    internal TDelegate Kernel<TDelegate>(Delegate method, Func<Accelerator, TDelegate> load) where TDelegate : Delegate
        => (TDelegate)_kernels.GetOrAdd(method.Method, _ => load(Accelerator));

    /// <summary>Launch configuration with <paramref name="groupSize"/> threads per group covering <paramref name="work"/> items.</summary>
    internal static KernelConfig Groups(int work, int groupSize) => new((work + groupSize - 1) / groupSize, groupSize);

    /// <inheritdoc />
    public override void Synchronize() => Accelerator.Synchronize();

    /// <summary>Releases the accelerator and its context.</summary>
    public void Dispose()
    {
        _allocator.Clear();
        Accelerator.Dispose();
        Context.Dispose();
    }
}
