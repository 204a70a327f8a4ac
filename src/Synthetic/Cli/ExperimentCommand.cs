using System.CommandLine;
using Spectre.Console;
using Ssm.Synthetic.Experiments;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Tasks;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Cli;

/// <summary><c>ssm experiment …</c>: self-contained experiments that train and compare against baselines.</summary>
internal static class ExperimentCommand
{
    public static Command Build() => new("experiment", "Runs a complete experiment (training, evaluation against baselines, table, plot).")
    {
        IclRegression(),
    };

    private static Command IclRegression()
    {
        var model = new Option<string>("--model") { Description = "Backbone: mamba2 (or another architecture with a hidden-state form).", DefaultValueFactory = _ => "mamba2" };
        var dModel = new Option<int>("--d-model") { Description = "Model width.", DefaultValueFactory = _ => 64 };
        var layers = new Option<int>("--layers") { Description = "Blocks.", DefaultValueFactory = _ => 4 };
        var dState = new Option<int>("--d-state") { Description = "SSM state size.", DefaultValueFactory = _ => 16 };
        var headDim = new Option<int>("--headdim") { Description = "Head dimension.", DefaultValueFactory = _ => 16 };
        var dims = new Option<int>("--dims") { Description = "Dimension d of x.", DefaultValueFactory = _ => 8 };
        var points = new Option<int>("--points") { Description = "In-context (x, y) pairs per sequence.", DefaultValueFactory = _ => 16 };
        var noise = new Option<double>("--noise") { Description = "Noise σ of y.", DefaultValueFactory = _ => 0 };
        var steps = new Option<int>("--steps") { Description = "Training steps.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch") { Description = "Sequences per batch.", DefaultValueFactory = _ => 64 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => 1e-3 };
        var outDir = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "runs/icl-regression" };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var cmd = new Command("icl-regression", "In-context linear regression (Garg et al.): trains a model with a curriculum and compares error vs number of examples with least squares, ridge, 3-NN and averaging.")
        {
            model, dModel, layers, dState, headDim, dims, points, noise, steps, batch, lr, outDir, seed, device, threads,
        };
        cmd.SetAction(r =>
        {
            var dev = CommonOptions.Apply(r, device, threads);
            var spec = new ModelSpec { Name = r.GetValue(model)!, DModel = r.GetValue(dModel), Layers = r.GetValue(layers), DState = r.GetValue(dState), HeadDim = r.GetValue(headDim), Chunk = 64 };
            var task = new RegressionOptions(Dims: r.GetValue(dims), Points: r.GetValue(points), NoiseStd: r.GetValue(noise));
            var options = new TrainOptions { Steps = r.GetValue(steps), Batch = r.GetValue(batch), Lr = r.GetValue(lr), Warmup = Math.Min(100, r.GetValue(steps) / 10), WeightDecay = 0.0, Seed = r.GetValue(seed) };
            AnsiConsole.MarkupLine($"[bold]ssm experiment icl-regression[/] · model {Markup.Escape(spec.Name)} · d = {task.Dims}, K = {task.Points} · {options.Steps} steps · device {dev.Name}");
            var result = IclRegressionExperiment.Run(spec, task, options, dev, r.GetValue(outDir)!,
                (s, l) => { if (s % Math.Max(1, options.Steps / 10) == 0) Console.WriteLine($"step {s,6}  loss {l:F4}"); });
            var table = new Table().Border(TableBorder.Rounded).Title("[bold]squared error / d vs in-context examples (fresh tasks)[/]");
            table.AddColumn("examples");
            foreach (var name in result.Curves.Keys) table.AddColumn(name);
            foreach (var k in new[] { 0, 1, task.Dims / 2, task.Dims - 1, task.Dims, task.Dims + 2, task.Points - 1 }.Where(k => k >= 0 && k < task.Points).Distinct())
                table.AddRow(new[] { k.ToString() }.Concat(result.Curves.Values.Select(c => c[k].ToString("F3"))).ToArray());
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"train time {result.Seconds:F0} s · final train loss {result.FinalTrainLoss:F4} · plot {Markup.Escape(Path.Combine(r.GetValue(outDir)!, "icl-regression.png"))}");
            return 0;
        });
        return cmd;
    }
}
