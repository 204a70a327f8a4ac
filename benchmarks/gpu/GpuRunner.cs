using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ssm.Kernels;

namespace Ssm.Benchmarks.Gpu;

/// <summary>
/// The <c>gpu</c> mode: <c>gpu [--out results.json] [--tiny] [--reps R (10; 2 with --tiny)] [--skip-timings]</c> on the device named by
/// <c>SSM_DEVICE</c> (<c>cuda</c> on the GPU machine; <c>ilgpu-cpu</c> with <c>--tiny</c> to check the runner itself).
/// First the parity checks (<see cref="ParityChecks"/>: every op family on the device against the managed CPU backend,
/// max abs/rel error per output), then the timings of the main kernels (<see cref="GpuTimings"/>: median of R
/// synchronized calls after a warm-up, achieved GB/s or GFLOP/s against the card's nominal limits and a measured
/// device-to-device copy). Writes one JSON document; exit code 1 when a parity check fails.
/// </summary>
internal static class GpuRunner
{
    public static int Run(string[] args)
    {
        string output = "gpu-results.json";
        bool tiny = false, timings = true;
        int? reps = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out": output = args[++i]; break;
                case "--tiny": tiny = true; break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--skip-timings": timings = false; break;
                default:
                    Console.Error.WriteLine($"gpu: unknown argument '{args[i]}'. Usage: gpu [--out FILE] [--tiny] [--reps R] [--skip-timings] " +
                        "(device from SSM_DEVICE: cuda, or ilgpu-cpu with --tiny)");
                    return 2;
            }
        }
        int repeats = reps ?? (tiny ? 2 : 10);
        var device = Device.Default;
        if (device is not IlgpuDevice gpu)
        {
            Console.Error.WriteLine("gpu: SSM_DEVICE names the CPU backend; set SSM_DEVICE=cuda (or ilgpu-cpu with --tiny).");
            return 2;
        }
        var acc = gpu.Accelerator;
        var limits = NominalLimits(acc.Name);
        var root = new JsonObject
        {
            ["date"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["device"] = new JsonObject
            {
                ["ssm_device"] = gpu.Name, ["name"] = acc.Name, ["memory_bytes"] = acc.MemorySize,
                ["multiprocessors"] = acc.NumMultiprocessors, ["max_group_size"] = gpu.MaxGroupSize, ["warp_size"] = gpu.WarpSize,
            },
            ["tiny"] = tiny,
            ["nominal_limits"] = limits is null ? null : new JsonObject { ["hbm_gb_s"] = limits.Value.Bandwidth, ["fp32_gflop_s"] = limits.Value.Flops },
        };
        Console.Error.WriteLine($"gpu: {acc.Name} ({gpu.Name}), {(tiny ? "tiny" : "realistic")} sizes");

        var parity = new JsonArray();
        int failed = 0;
        foreach (var check in ParityChecks.All(tiny))
        {
            var entry = Parity(check, gpu);
            if (!(bool)entry["pass"]!) failed++;
            parity.Add(entry);
            Console.Error.WriteLine($"parity {check.Family,-14} {((bool)entry["pass"]! ? "ok  " : "FAIL")} max rel {(double)entry["max_rel"]!:E2}  {check.Op}");
        }
        root["parity"] = parity;
        root["parity_failed"] = failed;

        if (timings)
        {
            double copy = MeasureCopy(gpu, tiny, repeats);
            root["measured_copy_gb_s"] = Math.Round(copy, 1);
            var list = new JsonArray();
            foreach (var t in GpuTimings.All(gpu, tiny))
            {
                try
                {
                    double median = Median(t.Run, gpu, repeats);
                    double rate = t.Work / median / 1e9;
                    var e = new JsonObject
                    {
                        ["kernel"] = t.Kernel, ["params"] = JsonSerializer.SerializeToNode(t.Parameters), ["median_ms"] = Math.Round(median * 1e3, 4),
                        ["throughput"] = Math.Round(rate, 3), ["unit"] = t.Unit,
                    };
                    if (t.Unit == "GB/s")
                    {
                        e["fraction_of_copy"] = Math.Round(rate / copy, 4);
                        if (limits is not null) e["fraction_of_hbm"] = Math.Round(rate / limits.Value.Bandwidth, 4);
                    }
                    if (t.Unit == "GFLOP/s" && limits is not null) e["fraction_of_fp32_peak"] = Math.Round(rate / limits.Value.Flops, 4);
                    if (t.Flops is double flops)
                    {
                        e["gflop_s"] = Math.Round(flops / median / 1e9, 3);
                        if (limits is not null) e["fraction_of_fp32_peak"] = Math.Round(flops / median / 1e9 / limits.Value.Flops, 4);
                    }
                    list.Add(e);
                    Console.Error.WriteLine($"timing {t.Kernel,-26} {median * 1e3,10:F3} ms  {rate,12:F1} {t.Unit}");
                }
                finally
                {
                    foreach (var r in t.Resources) r.Dispose();
                }
            }
            root["timings"] = list;
        }
        File.WriteAllText(output, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.Error.WriteLine($"gpu: wrote {output}; {failed} parity check(s) failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Runs a check on the CPU and on the device and compares every output.</summary>
    private static JsonObject Parity(ParityCheck check, IlgpuDevice gpu)
    {
        var entry = new JsonObject { ["family"] = check.Family, ["op"] = check.Op, ["shape"] = check.Shape, ["rtol"] = check.Rtol };
        try
        {
            using var scope = TensorScope.Begin();
            var cpu = check.Run(Device.Cpu);
            var sw = Stopwatch.StartNew();
            var dev = check.Run(gpu);
            gpu.Synchronize();
            entry["device_ms"] = Math.Round(sw.Elapsed.TotalMilliseconds, 2);
            var outputs = new JsonArray();
            double worstRel = 0, worstAbs = 0;
            for (int i = 0; i < cpu.Length; i++)
            {
                var (name, expected) = cpu[i];
                var e = expected.ToArray();
                var a = dev[i].Value.ToArray();
                double maxAbs = 0, scale = 0;
                bool finite = true;
                for (int k = 0; k < e.Length; k++)
                {
                    if (!float.IsFinite(a[k]) && float.IsFinite(e[k])) finite = false;
                    if (float.IsFinite(e[k]))
                    {
                        scale = Math.Max(scale, Math.Abs(e[k]));
                        if (float.IsFinite(a[k])) maxAbs = Math.Max(maxAbs, Math.Abs(a[k] - e[k]));
                    }
                    else if (!e[k].Equals(a[k])) finite = false; // −∞ (e.g. lse of an empty row) must match exactly
                }
                double rel = finite ? (scale > 0 ? maxAbs / scale : maxAbs) : double.PositiveInfinity;
                worstRel = Math.Max(worstRel, rel);
                worstAbs = Math.Max(worstAbs, maxAbs);
                outputs.Add(new JsonObject { ["name"] = name, ["max_abs"] = maxAbs, ["max_rel"] = double.IsFinite(rel) ? rel : null, ["scale"] = scale });
            }
            entry["outputs"] = outputs;
            entry["max_abs"] = worstAbs;
            entry["max_rel"] = double.IsFinite(worstRel) ? worstRel : 1e30;
            entry["pass"] = worstRel <= Math.Max(check.Rtol, 1e-7);
        }
        catch (Exception e)
        {
            entry["error"] = e.GetType().Name + ": " + e.Message;
            entry["max_rel"] = 1e30;
            entry["pass"] = false;
        }
        return entry;
    }

    /// <summary>Median wall time (seconds) of synchronized calls after a warm-up.</summary>
    private static double Median(Action run, Device d, int reps)
    {
        run();
        d.Synchronize();
        var times = new double[Math.Max(1, reps)];
        for (int r = 0; r < times.Length; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            d.Synchronize();
            times[r] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        Array.Sort(times);
        return times.Length % 2 == 1 ? times[times.Length / 2] : 0.5 * (times[times.Length / 2 - 1] + times[times.Length / 2]);
    }

    /// <summary>Device-to-device copy bandwidth (read + write bytes) of a large buffer, the practical memory limit.</summary>
    private static double MeasureCopy(IlgpuDevice d, bool tiny, int reps)
    {
        int n = tiny ? 1 << 16 : 1 << 28;
        using var a = Tensor.Zeros(new[] { n }, DType.Float32, d);
        using var b = Tensor.Empty(new[] { n }, DType.Float32, d);
        return 2.0 * 4 * n / Median(() => b.CopyFrom(a), d, reps) / 1e9;
    }

    /// <summary>Nominal HBM bandwidth (GB/s) and FP32 non-tensor peak (GFLOP/s) by card name; null when unknown.</summary>
    private static (double Bandwidth, double Flops)? NominalLimits(string name)
    {
        if (name.Contains("H200", StringComparison.OrdinalIgnoreCase)) return (4800, 67000);
        if (name.Contains("H100", StringComparison.OrdinalIgnoreCase))
            return name.Contains("PCIe", StringComparison.OrdinalIgnoreCase) ? (2000, 51000) : (3350, 67000);
        return null;
    }
}
