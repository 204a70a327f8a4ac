using Ssm.Kernels;
namespace Ssm.Testing;

/// <summary>ILGPU CPU-accelerator devices of two simulated shapes, to catch warp- and group-size assumptions.</summary>
public static class TestDevices
{
    private static readonly Lazy<IlgpuDevice> Wide = new(() => (IlgpuDevice)Device.IlgpuCpu);          // warp 4 × 4 warps
    private static readonly Lazy<IlgpuDevice> Narrow = new(() => IlgpuDevice.CreateCpuSimulator(2, 8, 2)); // warp 2 × 8 warps

    /// <summary>Device by shape name: "w4x4" or "w2x8".</summary>
    public static IlgpuDevice Get(string shape) => shape switch
    {
        "w4x4" => Wide.Value,
        "w2x8" => Narrow.Value,
        _ => throw new ArgumentException(shape),
    };

    /// <summary>Theory data: both simulated shapes.</summary>
    public static TheoryData<string> Shapes => new() { "w4x4", "w2x8" };
}
