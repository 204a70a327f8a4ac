using Ssm.Kernels;
namespace Ssm.Testing;

/// <summary>Tests that launch ILGPU kernels run one at a time (one simulated accelerator per shape, shared).</summary>
[CollectionDefinition("ilgpu", DisableParallelization = true)]
public sealed class IlgpuCollection { }
