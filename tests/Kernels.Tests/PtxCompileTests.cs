using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Ssm.Kernels.Tests;

/// <summary>Every method marked [GpuKernel] compiles offline to PTX for sm_90 (no GPU needed).</summary>
public sealed class PtxCompileTests
{
    public static IEnumerable<object[]> Kernels() =>
        typeof(Tensor).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            .Where(m => m.GetCustomAttribute<GpuKernelAttribute>() is not null)
            .Select(m => new object[] { m.DeclaringType!.Name + "." + m.Name });

    [Fact]
    public void KernelsAreDiscovered() => Assert.True(Kernels().Count() >= 6, "expected the [GpuKernel] methods to be found by reflection");

    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToPtxForSm90(string kernel)
    {
        var method = Find(kernel);
        var attr = method.GetCustomAttribute<GpuKernelAttribute>()!;
        using var context = Context.Create(b => b.EnableAlgorithms());
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90),
            CudaArchitecture.SM_90, CudaInstructionSet.ISA_88, null);
        var entry = attr.Grouped
            ? EntryPointDescription.FromExplicitlyGroupedKernel(method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(method);
        var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
        // ILGPU 1.5.3 compiles for the sm_90 backend but writes the lowest .target the kernel needs (sm_80 for
        // plain kernels); PTX for a lower target JIT-compiles on sm_90.
        Assert.Equal(CudaArchitecture.SM_90, backend.Architecture);
        var target = Regex.Match(compiled.PTXAssembly, @"\.target sm_(\d+)");
        Assert.True(target.Success, "PTX has no .target line");
        Assert.InRange(int.Parse(target.Groups[1].Value), 50, 90);
        Assert.Matches(@"\.visible \.entry \w+", compiled.PTXAssembly);
    }

    private static MethodInfo Find(string name)
    {
        var dot = name.IndexOf('.');
        var type = typeof(Tensor).Assembly.GetTypes().Single(t => t.Name == name[..dot]);
        return type.GetMethod(name[(dot + 1)..], BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)!;
    }
}
