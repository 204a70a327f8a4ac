using System.CommandLine;

namespace Ssm.Synthetic.Cli;

/// <summary>Builds the <c>ssm</c> root command and its subcommands.</summary>
public static class SsmCommand
{
    /// <summary>The root command with every subcommand attached.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("ssm — train, evaluate and run state-space and hybrid sequence models (Ssm library).")
        {
            TrainCommand.Build(),
            EvalCommand.Build(),
            TasksCommand.Build(),
            ExperimentCommand.Build(),
            InferenceCommands.Forward(),
            InferenceCommands.Generate(),
        };
        return root;
    }
}
