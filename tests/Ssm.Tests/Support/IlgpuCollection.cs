namespace Ssm.Tests;

/// <summary>Tests that launch ILGPU kernels run one at a time (the shared simulated accelerator).</summary>
[CollectionDefinition("ilgpu", DisableParallelization = true)]
public sealed class IlgpuCollection { }
