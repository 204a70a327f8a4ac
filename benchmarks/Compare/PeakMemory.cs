using System.Globalization;

namespace Ssm.Benchmarks.Compare;

/// <summary>
/// Peak resident memory of this process per measurement (Linux): writing 5 to /proc/self/clear_refs resets the
/// high-water mark VmHWM of /proc/self/status to the current resident size (Linux ≥ 4.0), so VmHWM read after a case is
/// its peak, runtime and inputs included. peer/common.py does the same for the PyTorch side.
/// </summary>
internal static class PeakMemory
{
    private static bool _available = File.Exists("/proc/self/clear_refs");

    /// <summary>Resets the high-water mark (no-op where unsupported).</summary>
    public static void Reset()
    {
        if (!_available) return;
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { _available = false; }
    }

    /// <summary>The peak resident memory since the last <see cref="Reset"/> in MiB, or null where unsupported.</summary>
    public static double? ResidentMiB() => Status("VmHWM:");

    /// <summary>The current resident memory in MiB (VmRSS), or null where unsupported.</summary>
    public static double? CurrentMiB() => Status("VmRSS:");

    private static double? Status(string field)
    {
        if (!_available) return null;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                // "VmHWM:\t 123456 kB": the number is padded to 8 characters, so from 10⁷ kB on a tab is its only separator.
                return long.Parse(line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        return null;
    }
}
