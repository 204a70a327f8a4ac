namespace Ssm.Kernels;

/// <summary>
/// Marks a static method as an ILGPU kernel entry point. The offline PTX test finds every marked method by reflection
/// and compiles it for sm_90, so each GPU kernel is checked without a GPU.
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class GpuKernelAttribute : Attribute
{
    /// <summary>True for an explicitly grouped kernel (first parameter is not an index; uses Grid/Group/shared memory).</summary>
    public bool Grouped { get; init; }
}
