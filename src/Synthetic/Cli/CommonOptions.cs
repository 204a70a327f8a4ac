using System.CommandLine;
using Ssm.Kernels;

namespace Ssm.Synthetic.Cli;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    public static Option<string> Device() => new("--device")
    {
        Description = "Device: cpu (managed SIMD, default), cuda (NVIDIA GPU through ILGPU) or ilgpu-cpu (GPU kernels on the CPU, slow). Default: $SSM_DEVICE or cpu.",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("SSM_DEVICE") ?? "cpu",
    };

    public static Option<int?> Threads() => new("--threads")
    {
        Description = "CPU worker threads (default: $SSM_THREADS or all cores).",
    };

    public static Option<long> Seed() => new("--seed")
    {
        Description = "Random seed: same seed, same run.",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>Applies --device and --threads, returning the device.</summary>
    public static Device Apply(ParseResult r, Option<string> device, Option<int?>? threads = null)
    {
        if (threads is not null && r.GetValue(threads) is int n)
        {
            if (n <= 0) throw new ArgumentOutOfRangeException("--threads", n, "--threads must be positive.");
            CpuDevice.Threads = n;
        }
        var d = Kernels.Device.FromName(r.GetValue(device));
        Kernels.Device.SetDefault(d);
        return d;
    }
}
