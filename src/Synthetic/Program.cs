using Ssm.Synthetic.Cli;

namespace Ssm.Synthetic;

/// <summary>The <c>ssm</c> command-line runner.</summary>
public static class Program
{
    /// <summary>Entry point: parses the command line and runs the chosen command.</summary>
    public static int Main(string[] args) => SsmCommand.Build().Parse(args).Invoke();
}
