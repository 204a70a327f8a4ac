using System.Reflection;
using System.Runtime.InteropServices;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU imports the CUDA driver as <c>cuda</c>, which .NET probes as <c>libcuda.so</c>; driver-only installs often ship
/// only <c>libcuda.so.1</c>. This resolver makes the ILGPU assembly find either (see shared/design/GPU.md).
/// </summary>
internal static class CudaLibraryResolver
{
    private static int _installed;

    public static void Install()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1 || !OperatingSystem.IsLinux()) return;
        NativeLibrary.SetDllImportResolver(typeof(ILGPU.Context).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name is not ("cuda" or "libcuda" or "libcuda.so")) return IntPtr.Zero;
        foreach (var candidate in new[] { "libcuda.so", "libcuda.so.1" })
            if (NativeLibrary.TryLoad(candidate, assembly, path, out var handle))
                return handle;
        return IntPtr.Zero;
    }
}
