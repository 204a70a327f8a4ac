namespace Ssm.Kernels;

/// <summary>The managed CPU device: tensors are .NET arrays, ops are SIMD loops over <see cref="Parallel"/> workers.</summary>
public sealed class CpuDevice : Device
{
    internal static readonly CpuDevice Instance = new();

    private readonly CachingAllocator _allocator;

    private CpuDevice() => _allocator = new CachingAllocator(this, CpuStorage.Create,
        maxCachedBytes: 4L << 30);

    /// <inheritdoc />
    public override string Name => "cpu";

    /// <inheritdoc />
    public override bool IsIlgpu => false;

    internal override CachingAllocator Allocator => _allocator;

    /// <summary>
    /// Number of worker threads used by CPU ops (default: <see cref="Environment.ProcessorCount"/>;
    /// the <c>SSM_THREADS</c> environment variable overrides it).
    /// </summary>
    public static int Threads { get; set; } = ReadThreads();

    /// <summary>Options for <see cref="Parallel.For(int,int,ParallelOptions,Action{int})"/> honouring <see cref="Threads"/>.</summary>
    internal static ParallelOptions ParallelOptions => new() { MaxDegreeOfParallelism = Threads };

    /// <inheritdoc />
    public override void Synchronize() { }

    private static int ReadThreads()
    {
        var env = Environment.GetEnvironmentVariable("SSM_THREADS");
        return int.TryParse(env, out var n) && n > 0 ? n : Environment.ProcessorCount;
    }
}
