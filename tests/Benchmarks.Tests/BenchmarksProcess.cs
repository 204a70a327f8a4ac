using System.Diagnostics;

namespace Ssm.Benchmarks.Tests;

/// <summary>Runs the benchmarks executable (copied next to the tests) as a separate process.</summary>
internal static class BenchmarksProcess
{
    /// <summary>Runs <c>dotnet Ssm.Benchmarks.dll ARGS</c> with SSM_DEVICE = device (default cpu) and returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Run(string? device, params string[] args) => RunIn(Path.GetTempPath(), device, args);

    /// <summary>The repository root (the folder holding Ssm.sln above the test binaries).</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Ssm.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Ssm.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>As <see cref="Run"/>, with the working directory <paramref name="workingDirectory"/>.</summary>
    public static (int ExitCode, string Output) RunIn(string workingDirectory, string? device, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Ssm.Benchmarks.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing (the test project references benchmarks/Ssm.Benchmarks.csproj)");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory,
        };
        start.Environment["SSM_DEVICE"] = device ?? "cpu";
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>The last 4000 characters of a process output, for assertion messages.</summary>
    public static string Tail(string s) => s.Length <= 4000 ? s : s[^4000..];
}
