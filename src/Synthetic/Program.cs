using System.CommandLine;
using Ssm.Checkpoints;
using Ssm.Synthetic.Cli;

namespace Ssm.Synthetic;

/// <summary>The <c>ssm</c> command-line runner.</summary>
public static class Program
{
    /// <summary>
    /// Entry point: parses the command line and runs the chosen command. Bad input (arguments, files, checkpoints)
    /// is reported as one <c>ssm: error: …</c> line with exit code 2; anything else is a bug and keeps its stack trace.
    /// </summary>
    public static int Main(string[] args) => Run(args, Console.Error);

    /// <summary>Runs the command line, writing user errors to <paramref name="error"/>.</summary>
    public static int Run(string[] args, TextWriter error)
    {
        var parse = SsmCommand.Build().Parse(args);
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or SafeTensorsFormatException
                                       or InvalidDataException or NotSupportedException || e is InvalidOperationException && e.Message.Contains("cuda", StringComparison.OrdinalIgnoreCase))
        {
            error.WriteLine($"ssm: error: {e.Message}");
            return 2;
        }
    }
}
