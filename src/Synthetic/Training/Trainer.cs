using System.Diagnostics;
using Ssm.Checkpoints;
using Ssm.Kernels;
using Ssm.Optim;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Reports;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Training;

/// <summary>One logged training step.</summary>
public sealed record StepRecord(int Step, double Loss, double Lr, double TokensPerSecond);

/// <summary>One evaluation: mean loss and the task's metric over the evaluation batches at one length.</summary>
public sealed record EvalRecord(int Step, int Length, double Loss, double Metric, string MetricName);

/// <summary>Everything a run produced.</summary>
public sealed record TrainResult(IReadOnlyList<StepRecord> Steps, IReadOnlyList<EvalRecord> Evals, IReadOnlyList<EvalRecord> Final,
    double Seconds, string StopReason, long Parameters);

/// <summary>Receives progress (the CLI draws a progress bar from it).</summary>
public interface ITrainingObserver
{
    /// <summary>Called after each optimizer step.</summary>
    void OnStep(StepRecord step, int totalSteps);
    /// <summary>Called after each evaluation.</summary>
    void OnEval(EvalRecord eval);
}

/// <summary>
/// Trains a <see cref="TrainableModel"/> on an <see cref="ISequenceTask"/>: AdamW with parameter groups (no weight
/// decay on norms, biases and SSM parameters; SSM parameters at their own learning rate), a warm-up schedule, gradient
/// clipping, evaluation every k steps on held-out data, early stopping, metrics as JSON lines, plots, and checkpoints
/// that resume exactly (model, optimizer, schedule and data-generator state: the same seed gives the same losses
/// whether or not the run was interrupted).
/// </summary>
public sealed class Trainer
{
    private readonly ISequenceTask _task;
    private readonly TrainableModel _model;
    private readonly TrainOptions _o;
    private readonly Device _device;
    private readonly string _out;

    /// <summary>Prepares a run writing into <paramref name="outDir"/>.</summary>
    public Trainer(ISequenceTask task, TrainableModel model, TrainOptions options, Device device, string outDir)
    {
        options.Validate();
        _task = task;
        _model = model;
        _o = options;
        _device = device;
        _out = outDir;
    }

    /// <summary>The checkpoint folder of a run.</summary>
    public static string CheckpointDir(string outDir) => Path.Combine(outDir, "checkpoint");

    /// <summary>
    /// Runs (or, with <paramref name="resume"/>, continues) training; returns the records and final evaluations.
    /// <paramref name="stopAtStep"/> ends the run early at that step with a checkpoint, as an interruption would (the
    /// schedule still spans <see cref="TrainOptions.Steps"/>, so resuming continues exactly).
    /// </summary>
    public TrainResult Run(ITrainingObserver? observer = null, bool resume = false, int? stopAtStep = null)
    {
        Directory.CreateDirectory(_out);
        var module = _model.Module;
        module.Train();
        using var optimization = new Optimization(module, _o, _model.NoWeightDecay, _model.IsSsmParameter);
        var optimizer = optimization.Optimizer;
        var scheduler = optimization.Scheduler;
        var data = new Rng(_o.Seed ^ 0x5EED_DA7A);
        int start = 0;
        double priorSeconds = 0;
        double? best = null;
        int noImprovement = 0;
        if (resume)
        {
            var state = LoadCheckpoint(optimizer, scheduler);
            data.SetState(state.DataRng);
            start = state.Step;
            best = state.BestMetric;
            noImprovement = state.EvalsWithoutImprovement;
            priorSeconds = state.Seconds;
        }

        using var metrics = new MetricsLog(Path.Combine(_out, "metrics.jsonl"), append: resume);
        var steps = new List<StepRecord>();
        var evals = new List<EvalRecord>();
        var clock = Stopwatch.StartNew();
        string stop = "completed all steps";
        for (int step = start + 1; step <= _o.Steps; step++)
        {
            var t0 = clock.Elapsed.TotalSeconds;
            double loss;
            using (var scope = TensorScope.Begin())
            {
                optimization.ZeroGrad();
                loss = _o.TbpttSegments > 1 ? SegmentedBackward(data) : Backward(data);
                optimization.Apply();
            }
            if (!double.IsFinite(loss)) throw new InvalidOperationException($"Training diverged: loss is {loss} at step {step}. Lower --lr or enable --clip.");
            var rec = new StepRecord(step, loss, optimization.Lr, (double)_o.Batch * _o.Length * _o.TbpttSegments / Math.Max(clock.Elapsed.TotalSeconds - t0, 1e-9));
            steps.Add(rec);
            metrics.Write(new Dictionary<string, object?> { ["step"] = step, ["split"] = "train", ["loss"] = loss, ["lr"] = rec.Lr, ["tokens_per_s"] = rec.TokensPerSecond });
            observer?.OnStep(rec, _o.Steps);

            bool last = step == _o.Steps;
            if (step % _o.EvalEvery == 0 || last)
            {
                var e = Evaluate(_model, _task, _o.Length, _o.EvalBatches, EvalSeed(_o.Seed, _o.Length), _device, step);
                evals.Add(e);
                metrics.Write(new Dictionary<string, object?> { ["step"] = step, ["split"] = "eval", ["length"] = e.Length, ["loss"] = e.Loss, [e.MetricName] = e.Metric });
                observer?.OnEval(e);
                if (best is null || e.Metric > best.Value + 1e-9) { best = e.Metric; noImprovement = 0; }
                else noImprovement++;
                if (_o.TargetMetric is double target && e.Metric >= target) { stop = $"reached {e.MetricName} {e.Metric:F4} ≥ {target} at step {step}"; SaveAt(step); break; }
                if (_o.Patience > 0 && noImprovement >= _o.Patience) { stop = $"early stop: {noImprovement} evaluations without improvement at step {step}"; SaveAt(step); break; }
            }
            if ((_o.CheckpointEvery > 0 && step % _o.CheckpointEvery == 0) || last || step == stopAtStep) SaveAt(step);
            if (step == stopAtStep) { stop = $"stopped at step {step} (resumable)"; break; }

            void SaveAt(int s) => SaveCheckpoint(optimizer, scheduler, new TrainerState
            {
                Step = s, DataRng = data.GetState(), Scheduler = scheduler.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value),
                BestMetric = best, EvalsWithoutImprovement = noImprovement, Seconds = priorSeconds + clock.Elapsed.TotalSeconds,
            });
        }

        var final = new List<EvalRecord>();
        foreach (var len in _o.EvalLengths.Where(l => l != _o.Length).Prepend(_o.Length).Distinct())
        {
            var e = Evaluate(_model, _task, len, _o.EvalBatches, EvalSeed(_o.Seed, len), _device, steps.LastOrDefault()?.Step ?? start);
            final.Add(e);
            metrics.Write(new Dictionary<string, object?> { ["step"] = e.Step, ["split"] = "final", ["length"] = len, ["loss"] = e.Loss, [e.MetricName] = e.Metric });
        }
        var result = new TrainResult(steps, evals, final, priorSeconds + clock.Elapsed.TotalSeconds, stop, module.ParameterCount());
        WritePlots(result);
        return result;
    }

    /// <summary>Seed of the held-out evaluation batches at a length (fixed, so evaluations compare like with like).</summary>
    public static long EvalSeed(long seed, int length) => seed * 1_000_003 + 7919L * length + 17;

    /// <summary>Mean loss and the task's metric over <paramref name="batches"/> held-out batches.</summary>
    public static EvalRecord Evaluate(TrainableModel model, ISequenceTask task, int length, int batches, long seed, Device device, int step, int batchSize = 16)
    {
        var rng = new Rng(seed);
        var metric = new TaskMetric(0, 0);
        double lossSum = 0;
        long lossCount = 0;
        bool training = model.Module.IsTraining;
        model.Module.Eval();
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < batches; i++)
            {
                using var scope = TensorScope.Begin();
                var batch = task.Sample(rng, batchSize, length, DataSplit.Test);
                var logits = model.Logits(batch, device);
                var targets = Tensor.From(batch.Targets, new[] { batch.Targets.Length }, device);
                var count = batch.Targets.Count(t => t != TokenBatch.Ignore);
                if (count > 0)
                {
                    lossSum += F.CrossEntropy(logits, targets).Item() * count;
                    lossCount += count;
                }
                var predictions = Reductions.Max(logits.Data, -1).Indices.ToInt32Array();
                metric += task.Score(batch, predictions);
            }
        }
        model.Module.Train(training);
        return new EvalRecord(step, length, lossCount == 0 ? double.NaN : lossSum / lossCount, metric.Value, task.MetricName);
    }

    // One batch: mean cross-entropy, backpropagated; returns the loss.
    private double Backward(Rng data)
    {
        var batch = _task.Sample(data, _o.Batch, _o.Length, DataSplit.Train);
        var l = F.CrossEntropy(_model.Logits(batch, _device), Tensor.From(batch.Targets, new[] { batch.Targets.Length }, _device));
        (_model.AuxiliaryLoss is { } aux ? F.Add(l, aux) : l).Backward();   // e.g. the VQ commitment loss
        return l.Item();
    }

    // Truncated BPTT: TbpttSegments consecutive batches form one long sequence per row; each segment continues the
    // model's state from the previous one (carried without gradient) and backpropagates its share of the mean
    // cross-entropy over all segments' targets, so the accumulated gradient is that of the mean, truncated at the
    // segment boundaries. Returns the mean loss.
    private double SegmentedBackward(Rng data)
    {
        var segments = new TokenBatch[_o.TbpttSegments];
        for (int i = 0; i < segments.Length; i++)
        {
            segments[i] = _task.Sample(data, _o.Batch, _o.Length, DataSplit.Train);
            if (segments[i].Lengths is not null)
                throw new ArgumentException($"--tbptt-segments: task {_task.Name} pads its sequences; truncated BPTT carries the state across segments and needs unpadded ones.");
        }
        long total = segments.Sum(s => (long)s.Targets.Count(t => t != TokenBatch.Ignore));
        using var cache = _model.AllocateCache(_o.Batch)
            ?? throw new ArgumentException($"--tbptt-segments: model '{_model.Spec.Name}' has no recurrent state to carry across segments.");
        double sum = 0;
        foreach (var segment in segments)
        {
            using var scope = TensorScope.Begin();
            int count = segment.Targets.Count(t => t != TokenBatch.Ignore);
            if (count == 0)
            {
                using (Autograd.NoGrad()) _model.Logits(segment, _device, cache);
                continue;
            }
            var logits = _model.Logits(segment, _device, cache);
            if (!logits.RequiresGrad)
                throw new ArgumentException($"--tbptt-segments: model '{_model.Spec.Name}' continues a cached state only at inference (no gradients through its state-carrying forward); truncated BPTT needs one that trains through it (e.g. mamba2, s4d, transformer).");
            var l = F.CrossEntropy(logits, Tensor.From(segment.Targets, new[] { segment.Targets.Length }, _device), reduction: "sum");
            var share = F.Scale(l, (float)(1.0 / total));
            // An auxiliary loss (e.g. a VQ commitment loss) counts once per step, as in Backward: its mean over the segments.
            (_model.AuxiliaryLoss is { } aux ? F.Add(share, F.Scale(aux, 1f / segments.Length)) : share).Backward();
            sum += l.Item();
        }
        return total == 0 ? 0 : sum / total;
    }

    // ---- checkpoints ----------------------------------------------------------------------------------------------

    private void SaveCheckpoint(Optimizer optimizer, LrScheduler scheduler, TrainerState state)
    {
        var final = CheckpointDir(_out);
        var staging = final + ".new";
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        using (var scope = TensorScope.Begin())
        {
            SafeTensors.Save(Path.Combine(staging, "model.safetensors"), _model.Module.StateDict());
            var opt = optimizer.StateDict();
            SafeTensors.Save(Path.Combine(staging, "optimizer.safetensors"), opt.Tensors, opt.Metadata);
        }
        AtomicFile.WriteText(Path.Combine(staging, "trainer.json"), System.Text.Json.JsonSerializer.Serialize(state, RunConfig.Json));
        var old = final + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, true);
        if (Directory.Exists(final)) Directory.Move(final, old);
        Directory.Move(staging, final);
        if (Directory.Exists(old)) Directory.Delete(old, true);
    }

    private TrainerState LoadCheckpoint(Optimizer optimizer, LrScheduler scheduler)
    {
        var dir = CheckpointDir(_out);
        if (!Directory.Exists(dir) && Directory.Exists(dir + ".new") && File.Exists(Path.Combine(dir + ".new", "trainer.json"))) dir += ".new";
        if (!File.Exists(Path.Combine(dir, "trainer.json")))
            throw new FileNotFoundException($"--resume: {_out} has no complete checkpoint (expected {dir}/trainer.json).");
        LoadModel(_model, dir, _device);
        using (var f = SafeTensorsFile.Open(Path.Combine(dir, "optimizer.safetensors")))
        using (var scope = TensorScope.Begin())
            optimizer.LoadStateDict(new OptimizerState(f.ReadAll(_device), f.Metadata));
        var state = System.Text.Json.JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(dir, "trainer.json")), RunConfig.Json)
            ?? throw new InvalidDataException($"{dir}/trainer.json is empty.");
        scheduler.LoadStateDict(state.Scheduler);
        return state;
    }

    /// <summary>Loads a checkpoint folder's model.safetensors into <paramref name="model"/> (precise errors on mismatch).</summary>
    public static void LoadModel(TrainableModel model, string checkpointDir, Device device)
    {
        using var f = SafeTensorsFile.Open(Path.Combine(checkpointDir, "model.safetensors"));
        using var scope = TensorScope.Begin();
        model.Module.LoadStateDict(f.ReadAll(device));
    }

    private void WritePlots(TrainResult r)
    {
        if (r.Steps.Count > 0)
        {
            var series = new List<(string, double[], double[])> { ("train loss", r.Steps.Select(s => (double)s.Step).ToArray(), Smooth(r.Steps.Select(s => s.Loss).ToArray())) };
            if (r.Evals.Count > 0) series.Add(("eval loss", r.Evals.Select(e => (double)e.Step).ToArray(), r.Evals.Select(e => e.Loss).ToArray()));
            Plots.Lines(Path.Combine(_out, "loss.png"), $"{_task.Name}: loss ({_model.Spec.Name})", "step", "cross-entropy", series);
        }
        if (r.Evals.Count > 0)
            Plots.Lines(Path.Combine(_out, "metric.png"), $"{_task.Name}: {_task.MetricName} ({_model.Spec.Name})", "step", _task.MetricName,
                new[] { ("eval", r.Evals.Select(e => (double)e.Step).ToArray(), r.Evals.Select(e => e.Metric).ToArray()) });
        if (r.Final.Count > 1)
        {
            var byLen = r.Final.OrderBy(e => e.Length).ToList();
            Plots.Lines(Path.Combine(_out, "length.png"), $"{_task.Name}: {_task.MetricName} vs length ({_model.Spec.Name})", "sequence length", _task.MetricName,
                new[] { ("eval", byLen.Select(e => (double)e.Length).ToArray(), byLen.Select(e => e.Metric).ToArray()) }, logX: true, markX: _o.Length, markLabel: "training length");
        }
    }

    private static double[] Smooth(double[] v)
    {
        int w = Math.Max(1, v.Length / 50);
        var o = new double[v.Length];
        double sum = 0;
        for (int i = 0; i < v.Length; i++)
        {
            sum += v[i];
            if (i >= w) sum -= v[i - w];
            o[i] = sum / Math.Min(i + 1, w);
        }
        return o;
    }
}
