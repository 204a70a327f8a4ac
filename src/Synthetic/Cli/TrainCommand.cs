using System.CommandLine;
using Spectre.Console;
using Ssm.Kernels;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Tasks;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Cli;

/// <summary><c>ssm train &lt;task&gt;</c>: trains a model on a synthetic task and writes metrics, plots and checkpoints.</summary>
internal static class TrainCommand
{
    public static Command Build()
    {
        var task = new Argument<string?>("task") { Description = $"Task: {string.Join(", ", TaskRegistry.Names)} (omit with --resume).", Arity = ArgumentArity.ZeroOrOne };
        var model = new Option<string>("--model") { Description = "Model: " + string.Join("; ", ModelFactory.Names.Select(kv => $"{kv.Key} ({kv.Value})")) + ".", DefaultValueFactory = _ => "mamba2" };
        var dModel = new Option<int>("--d-model") { Description = "Model width.", DefaultValueFactory = _ => 64 };
        var layers = new Option<int>("--layers") { Description = "Number of blocks.", DefaultValueFactory = _ => 2 };
        var dState = new Option<int>("--d-state") { Description = "SSM state size per head (Mamba-2 d_state).", DefaultValueFactory = _ => 16 };
        var headDim = new Option<int>("--headdim") { Description = "Head dimension.", DefaultValueFactory = _ => 16 };
        var chunk = new Option<int>("--chunk") { Description = "SSD chunk length.", DefaultValueFactory = _ => 64 };
        var len = new Option<int>("--len") { Description = "Training sequence length.", DefaultValueFactory = _ => 64 };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch") { Description = "Sequences per batch.", DefaultValueFactory = _ => 32 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW).", DefaultValueFactory = _ => 3e-3 };
        var ssmLr = new Option<double?>("--ssm-lr") { Description = "Learning rate of SSM parameters (A_log, dt_bias, D; default: --lr), no weight decay." };
        var wd = new Option<double>("--weight-decay") { Description = "AdamW weight decay (not on norms, biases, SSM parameters).", DefaultValueFactory = _ => 0.1 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps.", DefaultValueFactory = _ => 50 };
        var schedule = new Option<string>("--schedule") { Description = "Learning-rate schedule.", DefaultValueFactory = _ => "cosine" };
        schedule.AcceptOnlyFromAmong("cosine", "wsd", "constant");
        var minLr = new Option<double>("--min-lr-ratio") { Description = "Final learning rate as a fraction of the peak.", DefaultValueFactory = _ => 0.1 };
        var clip = new Option<double>("--clip") { Description = "Global gradient-norm clip (0 = off).", DefaultValueFactory = _ => 1.0 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Evaluate every N steps.", DefaultValueFactory = _ => 100 };
        var evalBatches = new Option<int>("--eval-batches") { Description = "Held-out batches (16 sequences each) per evaluation.", DefaultValueFactory = _ => 4 };
        var evalLengths = new Option<string?>("--eval-lengths") { Description = "Comma-separated extra lengths evaluated at the end (length generalization), e.g. 128,256,512." };
        var patience = new Option<int>("--patience") { Description = "Early stopping: evaluations without improvement (0 = off).", DefaultValueFactory = _ => 0 };
        var target = new Option<double?>("--target") { Description = "Stop once the eval metric reaches this value." };
        var tbptt = new Option<int>("--tbptt-segments")
        {
            Description = "Truncated BPTT: each step trains on K consecutive batches concatenated in time, the recurrent state carried across them without gradient (1 = off).",
            DefaultValueFactory = _ => 1,
        };
        var ckptEvery = new Option<int>("--checkpoint-every") { Description = "Checkpoint every N steps (always at the end).", DefaultValueFactory = _ => 0 };
        var outDir = new Option<string>("--out") { Description = "Run folder for run.json, metrics.jsonl, plots and the checkpoint.", DefaultValueFactory = _ => "runs/latest" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint (exactly: same losses as an uninterrupted run)." };
        var seed = CommonOptions.Seed();
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var taskOptions = new TaskOptions();

        var cmd = new Command("train", "Trains a model on a synthetic task; writes run.json, metrics.jsonl, loss/metric plots and a resumable checkpoint to --out, and prints a result table.")
        {
            task, model, dModel, layers, dState, headDim, chunk, len, steps, batch, lr, ssmLr, wd, warmup, schedule, minLr, clip,
            evalEvery, evalBatches, evalLengths, patience, target, tbptt, ckptEvery, outDir, resume, seed, device, threads,
        };
        foreach (var o in taskOptions.All) cmd.Add(o);
        cmd.SetAction(r =>
        {
            var dev = CommonOptions.Apply(r, device, threads);
            string outPath = r.GetValue(outDir)!;
            RunConfig config;
            if (r.GetValue(resume))
            {
                config = RunConfig.Load(outPath);
                if (r.GetResult(steps) is { Implicit: false })  // an explicit --steps extends (or shortens) the run
                {
                    config = config with { Training = config.Training with { Steps = r.GetValue(steps) } };
                    config.Save(outPath);
                }
            }
            else
            {
                var taskName = r.GetValue(task) ?? throw new ArgumentException("ssm train: name a task (or pass --resume to continue the run in --out).");
                var given = taskOptions.Given(r);
                var t = TaskOptions.Create(taskName, given);
                config = new RunConfig
                {
                    Task = taskName,
                    TaskOptions = given,
                    Device = dev.Name,
                    Model = new ModelSpec
                    {
                        Name = r.GetValue(model)!, DModel = r.GetValue(dModel), Layers = r.GetValue(layers), DState = r.GetValue(dState),
                        HeadDim = r.GetValue(headDim), Chunk = r.GetValue(chunk), Vocab = t.VocabSize, Outputs = t.OutputSize,
                        PerSequence = t.TargetKind == TargetKind.PerSequence,
                    },
                    Training = new TrainOptions
                    {
                        Length = r.GetValue(len), Steps = r.GetValue(steps), Batch = r.GetValue(batch), Lr = r.GetValue(lr), SsmLr = r.GetValue(ssmLr),
                        WeightDecay = r.GetValue(wd), Warmup = r.GetValue(warmup), Schedule = r.GetValue(schedule)!, MinLrRatio = r.GetValue(minLr),
                        ClipNorm = r.GetValue(clip), EvalEvery = r.GetValue(evalEvery), EvalBatches = r.GetValue(evalBatches),
                        EvalLengths = ParseLengths(r.GetValue(evalLengths), "--eval-lengths"), Patience = r.GetValue(patience), TargetMetric = r.GetValue(target),
                        TbpttSegments = r.GetValue(tbptt), CheckpointEvery = r.GetValue(ckptEvery), Seed = r.GetValue(seed),
                    },
                };
                config.Training.Validate();
                Directory.CreateDirectory(outPath);
                config.Save(outPath);
            }
            var result = RunTraining(config, dev, outPath, r.GetValue(resume));
            Report.Print(config, result, outPath);
            return 0;
        });
        return cmd;
    }

    internal static int[] ParseLengths(string? text, string option) => string.IsNullOrWhiteSpace(text) ? Array.Empty<int>()
        : text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, out var v) && v > 0 ? v : throw new ArgumentException($"{option}: '{s}' is not a positive integer.")).ToArray();

    /// <summary>Builds task and model from a run configuration and trains, with a progress bar on interactive terminals.</summary>
    internal static TrainResult RunTraining(RunConfig config, Device device, string outPath, bool resume)
    {
        var task = TaskOptions.Create(config.Task, config.TaskOptions);
        var model = ModelFactory.Create(config.Model, new Rng(config.Training.Seed), device);
        var trainer = new Trainer(task, model, config.Training, device, outPath);
        AnsiConsole.MarkupLine($"[bold]ssm train[/] {Markup.Escape(config.Task)} · model {Markup.Escape(config.Model.Name)} ({model.Module.ParameterCount():N0} parameters) · device {device.Name} · {CpuDevice.Threads} threads · out {Markup.Escape(outPath)}");
        if (!AnsiConsole.Profile.Capabilities.Interactive)
            return trainer.Run(new LineObserver(), resume);
        TrainResult? result = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("training", maxValue: config.Training.Steps);
                result = trainer.Run(new BarObserver(bar), resume);
                bar.Value = bar.MaxValue;
            });
        return result!;
    }

    private sealed class BarObserver(ProgressTask bar) : ITrainingObserver
    {
        private string _eval = "";
        public void OnStep(StepRecord s, int total)
        {
            bar.Value = s.Step;
            bar.Description = $"step {s.Step}/{total} · loss {s.Loss:F4} · {s.TokensPerSecond:N0} tok/s{_eval}";
        }
        public void OnEval(EvalRecord e) => _eval = $" · eval {e.MetricName} {e.Metric:F3}";
    }

    private sealed class LineObserver : ITrainingObserver
    {
        private double _loss, _tps;
        private int _n;
        public void OnStep(StepRecord s, int total) { _loss += s.Loss; _tps += s.TokensPerSecond; _n++; }
        public void OnEval(EvalRecord e)
        {
            Console.WriteLine($"step {e.Step,6}  train loss {_loss / Math.Max(_n, 1):F4}  eval loss {e.Loss:F4}  {e.MetricName} {e.Metric:F4}  {_tps / Math.Max(_n, 1):N0} tok/s");
            _loss = _tps = 0;
            _n = 0;
        }
    }
}
