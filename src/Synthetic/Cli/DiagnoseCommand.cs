using System.CommandLine;
using Spectre.Console;
using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Mamba;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Reports;
using Ssm.Synthetic.Tasks;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Cli;

/// <summary>
/// <c>ssm diagnose</c>: state-collapse diagnostics of a Mamba-2 or S4D model on task data — per layer and head (S4D:
/// channel) the state's mean, variance and RMS per bucket of tokens and the first token's retention α_{1:t}; JSON and
/// plots.
/// </summary>
internal static class DiagnoseCommand
{
    /// <summary>The <c>--mitigation</c> option shared by eval, diagnose and the experiment.</summary>
    public static Option<string> MitigationOption() => new("--mitigation")
    {
        Description = "State-collapse mitigation (Mamba-2): none, rri (α·0.9999, B·0.75), rri:F_ALPHA,F_B, window:R (the output reads the state of the last R tokens, by state difference) or normalize:BOUND (each head's state norm capped at BOUND).",
        DefaultValueFactory = _ => "none",
    };

    public static Command Build()
    {
        var modelDir = new Option<string?>("--model") { Description = "Mamba-2 model folder with config.json and model.safetensors (mamba_ssm layout); S4D models have no folder format, use --checkpoint." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Run folder written by ssm train (run.json and checkpoint/) of a mamba2 or s4d (token task) model." };
        var task = new Option<string?>("--task") { Description = "Task whose sequences are fed (default: the run's task, else passkey-tokens)." };
        var len = new Option<int>("--len") { Description = "Sequence length to run over.", Required = true };
        var bucket = new Option<int?>("--bucket") { Description = "Tokens per bucket (default: len/64, at least 1)." };
        var batch = new Option<int>("--batch") { Description = "Sequences averaged over.", DefaultValueFactory = _ => 4 };
        var trainLen = new Option<int?>("--train-len") { Description = "Training length marked on the plots (default: the run's)." };
        var mitigation = MitigationOption();
        var outDir = new Option<string?>("--out") { Description = "Output folder (default: RUNDIR/diagnose with --checkpoint, else ./diagnose)." };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var taskOptions = new TaskOptions();
        var cmd = new Command("diagnose", "Runs a Mamba-2 or S4D model over task sequences and writes state statistics per layer, head (S4D: channel) and bucket of tokens (diagnostics.json) and plots of the state variance and the first token's retention against the position.")
        {
            modelDir, checkpoint, task, len, bucket, batch, trainLen, mitigation, outDir, seed, device, threads,
        };
        foreach (var o in taskOptions.All) cmd.Add(o);
        cmd.SetAction(r =>
        {
            var dev = CommonOptions.Apply(r, device, threads);
            var m = StateMitigation.Parse(r.GetValue(mitigation)!);
            string? modelPath = r.GetValue(modelDir), runPath = r.GetValue(checkpoint);
            if ((modelPath is null) == (runPath is null)) throw new ArgumentException("ssm diagnose: give exactly one of --model DIR or --checkpoint RUNDIR.");
            int length = r.GetValue(len), sequences = r.GetValue(batch);
            if (length < 1) throw new ArgumentException($"--len: must be positive, got {length}.");
            if (sequences < 1) throw new ArgumentException($"--batch: must be positive, got {sequences}.");
            int bucketSize = r.GetValue(bucket) ?? Math.Max(1, length / 64);
            if (bucketSize < 1) throw new ArgumentException($"--bucket: must be positive, got {bucketSize}.");

            IStateTracedLanguageModel lm;
            ISequenceTask t;
            int? training = r.GetValue(trainLen);
            string name;
            if (runPath is not null)
            {
                var config = RunConfig.Load(runPath);
                var model = ModelFactory.Create(config.Model, new Rng(config.Training.Seed), dev);
                lm = ModelFactory.StateTracedOf(model);
                if (!m.IsNone && lm is not MambaLMHeadModel)
                    throw new ArgumentException($"--mitigation {m}: the state-collapse mitigations apply to Mamba-2 models only, and this run's model is '{config.Model.Name}'; use --mitigation none.");
                Trainer.LoadModel(model, Trainer.CheckpointDir(runPath), dev);
                var taskName = r.GetValue(task) ?? config.Task;
                var options = taskName == config.Task ? new Dictionary<string, string>(config.TaskOptions) : new Dictionary<string, string>();
                foreach (var (k, v) in taskOptions.Given(r)) options[k] = v;
                t = TaskOptions.Create(taskName, options);
                training ??= config.Training.Length;
                name = Path.GetFileName(Path.GetFullPath(runPath).TrimEnd(Path.DirectorySeparatorChar));
            }
            else
            {
                var mamba = MambaLMHeadModel.Load(modelPath!, dev);
                t = TaskOptions.Create(r.GetValue(task) ?? "passkey-tokens", taskOptions.Given(r));
                if (t.VocabSize > mamba.Config.VocabSize)
                    throw new ArgumentException($"--task {t.Name}: its vocabulary ({t.VocabSize}) is larger than the model's ({mamba.Config.VocabSize}).");
                lm = mamba;
                name = Path.GetFileName(Path.GetFullPath(modelPath!).TrimEnd(Path.DirectorySeparatorChar));
            }
            if (lm is MambaLMHeadModel mambaLm) mambaLm.Mitigation = m;
            var batchData = t.Sample(new Rng(r.GetValue(seed)), sequences, length, DataSplit.Test);
            StateTrace trace;
            using (var scope = TensorScope.Begin())
                trace = StateDiagnostics.Run(lm, Tensor.From(batchData.Inputs, new[] { batchData.Batch, batchData.Length }, dev), bucketSize);
            var dir = r.GetValue(outDir) ?? (runPath is not null ? Path.Combine(runPath, "diagnose") : "diagnose");
            var files = StateReport.Write(dir, "diagnostics", trace, training, $"{name} · {t.Name} · {m}");
            AnsiConsole.Write(Summary(trace, training, $"state diagnostics · {name} · {t.Name} · mitigation {m}"));
            AnsiConsole.MarkupLine($"wrote {string.Join(", ", files.Select(Markup.Escape))}");
            return 0;
        });
        return cmd;
    }

    /// <summary>Per layer: state variance (mean over heads) at the training length and at the end, and the slowest α_{1:t}.</summary>
    internal static Table Summary(StateTrace trace, int? trainingLength, string title)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(title)}[/]");
        int atTrain = trainingLength is int tl ? Array.FindLastIndex(trace.Positions, p => p <= tl) : -1;
        int last = trace.Positions.Length - 1;
        table.AddColumn("layer");
        if (atTrain >= 0) table.AddColumn($"variance at {trace.Positions[atTrain]}");
        table.AddColumn($"variance at {trace.Positions[last]}");
        if (atTrain >= 0) table.AddColumn("growth");
        table.AddColumn($"max α(1:{trace.Positions[last]})");
        for (int l = 0; l < trace.Layers; l++)
        {
            var v = StateTrace.HeadMean(trace.Variance, l);
            var row = new List<string> { l.ToString() };
            if (atTrain >= 0) row.Add(v[atTrain].ToString("G4"));
            row.Add(v[last].ToString("G4"));
            if (atTrain >= 0) row.Add((v[last] / v[atTrain]).ToString("F2") + "×");
            row.Add(Math.Exp(trace.LogRetention[l][last].Max()).ToString("G4"));
            table.AddRow(row.ToArray());
        }
        return table;
    }
}
