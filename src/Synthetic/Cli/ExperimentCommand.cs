using System.CommandLine;
using Spectre.Console;
using Ssm.Synthetic.Experiments;

namespace Ssm.Synthetic.Cli;

/// <summary><c>ssm experiment …</c>: packaged experiments (state collapse, in-context regression).</summary>
internal static class ExperimentCommand
{
    public static Command Build() => new("experiment", "Runs a packaged experiment end to end and writes its tables, heat maps and JSON.") { StateCollapse(), IclRegressionCommand.Build() };

    private static Command StateCollapse()
    {
        var d = new StateCollapseOptions();
        var len = new Option<int>("--len") { Description = "Training length T.", DefaultValueFactory = _ => d.Length };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps per model.", DefaultValueFactory = _ => d.Steps };
        var tbptt = new Option<int>("--tbptt-segments") { Description = "Concatenated examples per step of the truncated-BPTT model.", DefaultValueFactory = _ => d.TbpttSegments };
        var batch = new Option<int>("--batch") { Description = "Sequences per batch.", DefaultValueFactory = _ => d.Batch };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => d.Lr };
        var dModel = new Option<int>("--d-model") { Description = "Model width.", DefaultValueFactory = _ => d.DModel };
        var layers = new Option<int>("--layers") { Description = "Blocks.", DefaultValueFactory = _ => d.Layers };
        var dState = new Option<int>("--d-state") { Description = "Mamba-2 d_state.", DefaultValueFactory = _ => d.DState };
        var headDim = new Option<int>("--headdim") { Description = "Mamba-2 head dimension.", DefaultValueFactory = _ => d.HeadDim };
        var vocab = new Option<int>("--vocab") { Description = "Passkey vocabulary (10 digits, 2 markers, filler).", DefaultValueFactory = _ => d.Vocab };
        var keyDigits = new Option<int>("--key-digits") { Description = "Digits of the passkey.", DefaultValueFactory = _ => d.KeyDigits };
        var multiples = new Option<string>("--multiples") { Description = "Evaluation lengths as multiples of T.", DefaultValueFactory = _ => string.Join(",", d.Multiples) };
        var depths = new Option<int>("--depths") { Description = "Needle depths of the sweep.", DefaultValueFactory = _ => d.Depths };
        var samples = new Option<int>("--samples") { Description = "Examples per (length, depth) cell.", DefaultValueFactory = _ => d.SamplesPerCell };
        var window = new Option<int?>("--window") { Description = "Window of the sliding-window mitigation (default: T)." };
        var bound = new Option<double?>("--norm-bound") { Description = "Bound of the state normalization (default: per model, the largest head state norm seen up to T)." };
        var seeds = new Option<int>("--seeds") { Description = "Models trained per configuration (seeds --seed, --seed + 1, …); accuracies are averaged.", DefaultValueFactory = _ => d.Seeds };
        var outDir = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "runs/state-collapse" };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var cmd = new Command("state-collapse",
            "Trains a small Mamba-2 on token passkey at length T (plainly and with truncated BPTT over concatenated examples), evaluates both at multiples of T with and without each mitigation (none, rri, window:T, normalize), and writes a table, results.json, a heat map (length × depth) per configuration and state traces.")
        {
            len, steps, tbptt, batch, lr, dModel, layers, dState, headDim, vocab, keyDigits, multiples, depths, samples, window, bound, seeds, outDir, seed, device, threads,
        };
        cmd.SetAction(r =>
        {
            var dev = CommonOptions.Apply(r, device, threads);
            var o = new StateCollapseOptions
            {
                Length = r.GetValue(len), Steps = r.GetValue(steps), TbpttSegments = r.GetValue(tbptt), Batch = r.GetValue(batch), Lr = r.GetValue(lr),
                DModel = r.GetValue(dModel), Layers = r.GetValue(layers), DState = r.GetValue(dState), HeadDim = r.GetValue(headDim),
                Vocab = r.GetValue(vocab), KeyDigits = r.GetValue(keyDigits), Multiples = TrainCommand.ParseLengths(r.GetValue(multiples), "--multiples"),
                Depths = r.GetValue(depths), SamplesPerCell = r.GetValue(samples), Window = r.GetValue(window), NormBound = r.GetValue(bound), Seeds = r.GetValue(seeds), Seed = r.GetValue(seed),
            };
            var outPath = r.GetValue(outDir)!;
            AnsiConsole.MarkupLine($"[bold]ssm experiment state-collapse[/] · T = {o.Length} · device {dev.Name} · out {Markup.Escape(outPath)}");
            var result = StateCollapseExperiment.Run(o, outPath, dev, line => AnsiConsole.WriteLine(line));
            AnsiConsole.Write(Table(result));
            AnsiConsole.MarkupLine($"state var ×: state variance at {result.Rows[0].Lengths[^1]} tokens over that at T (largest over layers, mean over heads); max α: retention of the first token α(1:{result.Rows[0].Lengths[^1]}) of the slowest-forgetting head.");
            AnsiConsole.MarkupLine($"{result.Seconds:F0} s · results: {Markup.Escape(result.ResultsPath)} · heat maps: {Markup.Escape(Path.Combine(outPath, "heatmaps"))} · state traces: {Markup.Escape(outPath)}/<model>-s<seed>/diagnostics_*");
            return 0;
        });
        return cmd;
    }

    /// <summary>Passkey accuracy per configuration and length, with the state's variance growth and first-token retention.</summary>
    internal static Table Table(StateCollapseResult r)
    {
        var t = new Table().Border(TableBorder.Rounded)
            .Title($"[bold]passkey accuracy (mean over {r.Depths.Length} depths, {r.Options.Seeds} seed{(r.Options.Seeds > 1 ? "s" : "")}) · T = {r.Options.Length} · d_state {r.Options.DState}[/]");
        t.AddColumn("training");
        t.AddColumn("mitigation");
        var lengths = r.Rows[0].Lengths;
        foreach (var l in lengths) t.AddColumn(new TableColumn($"{l} ({l / r.Options.Length}×)").RightAligned());
        t.AddColumn(new TableColumn($"state var ×").RightAligned());
        t.AddColumn(new TableColumn($"max α").RightAligned());
        foreach (var row in r.Rows)
        {
            var cells = new List<string> { row.Training, Markup.Escape(row.Mitigation) };
            cells.AddRange(row.Accuracy.Select(a => a.ToString("F2")));
            cells.Add(row.VarianceGrowth.Max().ToString("G3"));
            cells.Add(row.Retention.Max().ToString("G3"));
            t.AddRow(cells.ToArray());
        }
        return t;
    }
}
