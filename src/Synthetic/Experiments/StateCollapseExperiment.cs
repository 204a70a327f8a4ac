using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Mamba;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Reports;
using Ssm.Synthetic.Tasks;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Experiments;

// The state-collapse experiment (Stuffed Mamba, Sections 4–5, at CPU scale): train a small Mamba-2 on token-level
// passkey retrieval at a short length T, once plainly and once with truncated BPTT over K concatenated examples (the
// state carried from one example into the next, so the model meets states fuller than one example leaves them; with
// batch/K streams, so both models see the same number of training tokens), then
// evaluate both at 1×…16× T over a grid of needle depths with and without each training-free mitigation (RRI, sliding
// window of T tokens by state difference, state normalization with a bound calibrated on the states seen up to T),
// and trace the state statistics of every configuration along long sequences whose needle comes first.

/// <summary>Settings of <see cref="StateCollapseExperiment"/> (the CLI's <c>ssm experiment state-collapse</c> options).</summary>
public sealed record StateCollapseOptions
{
    /// <summary>Training length T.</summary>
    public int Length { get; init; } = 32;
    /// <summary>Optimizer steps per model.</summary>
    public int Steps { get; init; } = 600;
    /// <summary>Segments per step of the truncated-BPTT model.</summary>
    public int TbpttSegments { get; init; } = 4;
    /// <summary>Sequences per batch of the baseline; the truncated-BPTT model uses Batch/K streams of K examples (same tokens per step).</summary>
    public int Batch { get; init; } = 32;
    /// <summary>Peak learning rate.</summary>
    public double Lr { get; init; } = 3e-3;
    /// <summary>Model width.</summary>
    public int DModel { get; init; } = 64;
    /// <summary>Blocks.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Mamba-2 d_state.</summary>
    public int DState { get; init; } = 16;
    /// <summary>Mamba-2 head dimension.</summary>
    public int HeadDim { get; init; } = 16;
    /// <summary>Passkey vocabulary (digits, two markers, filler).</summary>
    public int Vocab { get; init; } = 32;
    /// <summary>Digits of the key.</summary>
    public int KeyDigits { get; init; } = 2;
    /// <summary>Evaluation lengths as multiples of T.</summary>
    public int[] Multiples { get; init; } = { 1, 2, 4, 8, 16 };
    /// <summary>Needle depths of the sweep.</summary>
    public int Depths { get; init; } = 5;
    /// <summary>Examples per (length, depth) cell.</summary>
    public int SamplesPerCell { get; init; } = 16;
    /// <summary>Window r of the sliding-window mitigation (null: T).</summary>
    public int? Window { get; init; }
    /// <summary>Bound of the normalization (null: calibrated per model as the largest head state norm of 32 held-out sequences up to T).</summary>
    public double? NormBound { get; init; }
    /// <summary>Models trained per configuration, with seeds Seed, Seed + 1, …; results are averaged over them.</summary>
    public int Seeds { get; init; } = 3;
    /// <summary>First seed of initialization and training data; also the seed of the evaluation data.</summary>
    public long Seed { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        void Need(bool ok, string option, object value, string what)
        {
            if (!ok) throw new ArgumentException($"{option}: {what}, got {value}.");
        }
        Need(Length >= 2 * KeyDigits + 1, "--len", Length, $"must leave room for the needle and the query (at least {2 * KeyDigits + 1})");
        Need(Steps > 0, "--steps", Steps, "must be positive");
        Need(TbpttSegments >= 2, "--tbptt-segments", TbpttSegments, "must be at least 2 (the comparison model)");
        Need(Batch >= TbpttSegments && Batch % TbpttSegments == 0, "--batch", Batch, $"must be a multiple of --tbptt-segments ({TbpttSegments}) so both models see the same tokens per step");
        Need(Multiples.Length > 0 && Multiples.All(m => m >= 1), "--multiples", string.Join(",", Multiples), "must be positive integers");
        Need(Depths >= 1, "--depths", Depths, "must be positive");
        Need(Seeds >= 1, "--seeds", Seeds, "must be positive");
        Need(SamplesPerCell >= 1, "--samples", SamplesPerCell, "must be positive");
        Need(Window is null or >= 1, "--window", Window!, "must be positive");
        Need(NormBound is null or > 0, "--norm-bound", NormBound!, "must be positive");
    }
}

/// <summary>One (training, mitigation) configuration's passkey accuracy over lengths and depths, averaged over seeds.</summary>
/// <param name="Training">baseline or tbptt.</param>
/// <param name="Mitigation">The mitigation (command-line spelling; <c>normalize:calibrated</c> when each model's bound was calibrated).</param>
/// <param name="Lengths">Evaluation lengths.</param>
/// <param name="Accuracy">Accuracy per length, averaged over depths and seeds.</param>
/// <param name="AccuracyPerSeed">Accuracy [seed][length], averaged over depths.</param>
/// <param name="Grid">Accuracy [length][depth], averaged over seeds.</param>
/// <param name="HeatMap">Path of the heat map of <paramref name="Grid"/>.</param>
/// <param name="VarianceGrowth">Per layer: state variance (mean over heads) at the longest length over that at T (mean over seeds).</param>
/// <param name="Retention">Per layer: α_{1:t} of the slowest-forgetting head at the longest length (mean over seeds).</param>
/// <param name="NormGrowth">Per layer: the largest head state norm at the longest length over that at T (mean over seeds).</param>
public sealed record StateCollapseRow(string Training, string Mitigation, int[] Lengths, double[] Accuracy, double[][] AccuracyPerSeed, double[][] Grid,
    string HeatMap, double[] VarianceGrowth, double[] Retention, double[] NormGrowth);

/// <summary>One trained model of the experiment.</summary>
/// <param name="Name">baseline or tbptt.</param>
/// <param name="Seed">Its seed (initialization and training data).</param>
/// <param name="RunDirectory">Its run folder (usable with ssm eval / ssm diagnose).</param>
/// <param name="TbpttSegments">Segments per step (1 = plain).</param>
/// <param name="TrainingTokens">Tokens it was trained on.</param>
/// <param name="FinalLoss">Mean training loss of the last 20 steps.</param>
/// <param name="AccuracyAtT">Held-out passkey accuracy at T at the end of training.</param>
/// <param name="Seconds">Training time.</param>
/// <param name="NormBound">The normalization bound used for it.</param>
public sealed record StateCollapseModel(string Name, long Seed, string RunDirectory, int TbpttSegments, long TrainingTokens, double FinalLoss,
    double AccuracyAtT, double Seconds, double NormBound);

/// <summary>Everything the experiment produced.</summary>
public sealed record StateCollapseResult(StateCollapseOptions Options, double[] Depths, IReadOnlyList<StateCollapseModel> Models,
    IReadOnlyList<StateCollapseRow> Rows, double Seconds, string ResultsPath);

/// <summary>Runs the state-collapse experiment (see the file header) and writes results.json, heat maps and state traces.</summary>
public static class StateCollapseExperiment
{
    /// <summary>Runs it, writing into <paramref name="outDir"/>; <paramref name="log"/> receives progress lines.</summary>
    public static StateCollapseResult Run(StateCollapseOptions o, string outDir, Device device, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        o.Validate();
        log ??= _ => { };
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(outDir);
        var task = new PasskeyTokenTask(new PasskeyTokenOptions(VocabSize: o.Vocab, KeyDigits: o.KeyDigits));
        var lengths = o.Multiples.Distinct().OrderBy(m => m).Select(m => m * o.Length).ToArray();
        int longest = lengths[^1], window = o.Window ?? o.Length, bucket = Math.Max(1, o.Length / 4);
        var depths = PasskeySweep.Depths(o.Depths);
        var models = new List<StateCollapseModel>();
        var rows = new List<StateCollapseRow>();
        using var diagIds = DiagnosticIds(task, o, longest, device);

        foreach (var (name, segments) in new[] { ("baseline", 1), ("tbptt", o.TbpttSegments) })
        {
            // Per mitigation (none, rri, window, normalize) and seed: the grid [length, depth] and the state trace.
            var grids = new List<double[,]>[4];
            var traces = new List<StateTrace>[4];
            var labels = new string[4];
            for (int k = 0; k < 4; k++) (grids[k], traces[k]) = (new List<double[,]>(), new List<StateTrace>());
            for (int i = 0; i < o.Seeds; i++)
            {
                long seed = o.Seed + i;
                var runDir = Path.Combine(outDir, $"{name}-s{seed}");
                log($"training {name}, seed {seed} (T = {o.Length}{(segments > 1 ? $", truncated BPTT over {segments} concatenated examples, {o.Batch / segments} streams" : $", batch {o.Batch}")}, {o.Steps} steps)");
                var (model, train) = Train(o, task, segments, seed, runDir, device, log);
                var lm = ModelFactory.Mamba2Of(model);
                double bound = o.NormBound ?? CalibrateBound(lm, task, o, device);
                models.Add(new StateCollapseModel(name, seed, runDir, segments, (long)train.Steps.Count * o.Batch * o.Length,
                    train.Steps.TakeLast(20).Average(s => s.Loss), train.Final.First(e => e.Length == o.Length).Metric, train.Seconds, bound));
                var mitigations = new[] { StateMitigation.None, StateMitigation.Rri(), StateMitigation.SlidingWindow(window), StateMitigation.Normalize(bound) };
                for (int k = 0; k < mitigations.Length; k++)
                {
                    var m = mitigations[k];
                    labels[k] = m.Kind == StateMitigationKind.Normalize && o.NormBound is null ? "normalize:calibrated" : m.ToString();
                    lm.Mitigation = m;
                    log($"  evaluating {name}, seed {seed} · {m} at lengths {string.Join(", ", lengths)}");
                    grids[k].Add(PasskeySweep.Run(task, lengths, o.Depths, o.SamplesPerCell, o.Seed ^ 0x0E7A1, batch => Predict(model, batch, device)).Accuracy);
                    StateTrace trace;
                    using (var scope = TensorScope.Begin()) trace = StateDiagnostics.Run(lm, diagIds, bucket);
                    StateReport.Write(runDir, $"diagnostics_{Slug(m)}", trace, o.Length, $"{name} (seed {seed}) · {m}");
                    traces[k].Add(trace);
                }
            }
            for (int k = 0; k < 4; k++)
                rows.Add(Summarize(name, labels[k], grids[k], traces[k], lengths, depths, o, Path.Combine(outDir, "heatmaps", $"{name}_{labels[k].Split(':')[0]}.png")));
        }

        var resultsPath = Path.Combine(outDir, "results.json");
        var result = new StateCollapseResult(o, depths, models, rows, clock.Elapsed.TotalSeconds, resultsPath);
        AtomicFile.WriteText(resultsPath, JsonSerializer.Serialize(result, new JsonSerializerOptions
        {
            WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
        return result;
    }

    // Means over seeds; the heat map of the mean grid.
    private static StateCollapseRow Summarize(string name, string mitigation, List<double[,]> grids, List<StateTrace> traces, int[] lengths, double[] depths,
        StateCollapseOptions o, string heatMap)
    {
        int nl = lengths.Length, nd = depths.Length, layers = traces[0].Layers;
        var mean = new double[nl, nd];
        foreach (var g in grids)
            for (int i = 0; i < nl; i++)
            for (int j = 0; j < nd; j++)
                mean[i, j] += g[i, j] / grids.Count;
        Plots.HeatMap(heatMap, $"passkey accuracy · {name} · {mitigation}{(grids.Count > 1 ? $" (mean of {grids.Count} seeds)" : "")}", mean,
            lengths.Select(l => $"{l} ({l / o.Length}×)").ToArray(), depths.Select(d => d.ToString("0.00", CultureInfo.InvariantCulture)).ToArray(),
            "context length", "needle depth");
        double[] PerLayer(Func<StateTrace, int, int, double> f) =>
            Enumerable.Range(0, layers).Select(l => traces.Average(t => f(t, l, Array.FindLastIndex(t.Positions, p => p <= o.Length)))).ToArray();
        return new StateCollapseRow(name, mitigation, lengths,
            Enumerable.Range(0, nl).Select(i => Enumerable.Range(0, nd).Average(j => mean[i, j])).ToArray(),
            grids.Select(g => Enumerable.Range(0, nl).Select(i => Enumerable.Range(0, nd).Average(j => g[i, j])).ToArray()).ToArray(),
            Enumerable.Range(0, nl).Select(i => Enumerable.Range(0, nd).Select(j => mean[i, j]).ToArray()).ToArray(),
            heatMap,
            PerLayer((t, l, atT) => StateTrace.HeadMean(t.Variance, l) is var v ? v[^1] / v[atT] : 0),
            PerLayer((t, l, _) => Math.Exp(t.LogRetention[l][^1].Max())),
            PerLayer((t, l, atT) => t.MaxNorm[l][^1].Max() / t.MaxNorm[l][atT].Max()));
    }

    private static (TrainableModel Model, TrainResult Result) Train(StateCollapseOptions o, PasskeyTokenTask task, int segments, long seed, string runDir,
        Device device, Action<string> log)
    {
        var spec = new ModelSpec
        {
            Name = "mamba2", DModel = o.DModel, Layers = o.Layers, DState = o.DState, HeadDim = o.HeadDim, Chunk = 64,
            Vocab = task.VocabSize, Outputs = task.OutputSize,
        };
        var training = new TrainOptions
        {
            Length = o.Length, Steps = o.Steps, Batch = o.Batch / segments, Lr = o.Lr, Warmup = Math.Min(50, o.Steps / 10),
            EvalEvery = Math.Max(1, o.Steps / 4), EvalBatches = 2, TbpttSegments = segments, Seed = seed,
        };
        var config = new RunConfig
        {
            Task = task.Name,
            TaskOptions = new Dictionary<string, string>
            {
                ["vocab"] = o.Vocab.ToString(CultureInfo.InvariantCulture), ["key-digits"] = o.KeyDigits.ToString(CultureInfo.InvariantCulture),
            },
            Model = spec, Training = training, Device = device.Name,
        };
        Directory.CreateDirectory(runDir);
        config.Save(runDir);
        var model = ModelFactory.Create(spec, new Rng(seed), device);
        var result = new Trainer(task, model, training, device, runDir).Run(new LogObserver(log));
        return (model, result);
    }

    // Sequences for the state traces: 4 held-out examples at the longest length with the needle first (depth 0), so the
    // traces from T on show the filler piling into the state and α_{1:t} is the needle's own retention.
    private static Tensor DiagnosticIds(PasskeyTokenTask task, StateCollapseOptions o, int length, Device device)
    {
        var b = task.SampleAtDepth(new Rng(o.Seed ^ 0xD1A6), 4, length, 0);
        return Tensor.From(b.Inputs, new[] { b.Batch, b.Length }, device).DetachFromScope();
    }

    // The largest head state norm ‖h‖_F of 32 held-out sequences at positions up to T, to 4 digits.
    private static double CalibrateBound(MambaLMHeadModel lm, PasskeyTokenTask task, StateCollapseOptions o, Device device)
    {
        var b = task.Sample(new Rng(o.Seed ^ 0xCA11B), 32, o.Length, DataSplit.Test);
        StateTrace trace;
        using (var scope = TensorScope.Begin())
            trace = StateDiagnostics.Run(lm, Tensor.From(b.Inputs, new[] { b.Batch, b.Length }, device), Math.Max(1, o.Length / 4));
        double largest = trace.MaxNorm.SelectMany(l => l.SelectMany(h => h)).Max();
        return double.Parse(largest.ToString("G4", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    private static int[] Predict(TrainableModel model, TokenBatch batch, Device device)
    {
        using var noGrad = Autograd.NoGrad();
        using var scope = TensorScope.Begin();
        return Reductions.Max(model.Logits(batch, device).Data, -1).Indices.ToInt32Array();
    }

    private static string Slug(StateMitigation m) => m.Kind.ToString().ToLowerInvariant();

    private sealed class LogObserver(Action<string> log) : ITrainingObserver
    {
        public void OnStep(StepRecord step, int totalSteps) { }
        public void OnEval(EvalRecord e) => log($"  step {e.Step}: eval loss {e.Loss:F4}, {e.MetricName} {e.Metric:F3}");
    }
}
