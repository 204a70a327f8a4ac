using System.Text.Json;
using Ssm.Kernels;
using Ssm.Synthetic.Models;
using Ssm.Synthetic.Reports;
using Ssm.Synthetic.Tasks;
using Ssm.Synthetic.Training;

namespace Ssm.Synthetic.Experiments;

/// <summary>Result of <see cref="IclRegressionExperiment"/>: squared error / d against the number of in-context examples.</summary>
/// <param name="Model">Model name.</param>
/// <param name="Curves">Name → error per number of examples (index k = error predicting y_{k+1} from k examples).</param>
/// <param name="FinalTrainLoss">Mean training loss over the last steps.</param>
/// <param name="Seconds">Training time.</param>
public sealed record IclRegressionResult(string Model, IReadOnlyDictionary<string, double[]> Curves, double FinalTrainLoss, double Seconds);

/// <summary>
/// In-context linear regression (Garg et al. 2022): x ~ N(0, I_d), w ~ N(0, I_d), y = w·x; tokens alternate x and y;
/// the model predicts each y from the preceding pairs. Trains with the Garg curriculum scaled to the run, then reports
/// error/d against the number of in-context examples beside the least-squares, ridge, 3-NN and averaging baselines.
/// </summary>
public static class IclRegressionExperiment
{
    /// <summary>Trains and evaluates; writes <c>icl-regression.json</c> and <c>icl-regression.png</c> into <paramref name="outDir"/>.</summary>
    public static IclRegressionResult Run(ModelSpec spec, RegressionOptions task, TrainOptions o, Device device, string outDir, Action<int, double>? progress = null)
    {
        o.Validate();
        var regression = new LinearRegressionTask(task);
        var model = RegressionModel.Create(spec, task.Dims + 1, new Rng(o.Seed), device);
        using var optimization = new Optimization(model, o, n => n.EndsWith(".bias", StringComparison.Ordinal) || n.Contains("norm", StringComparison.Ordinal), Mamba.Mamba2.IsSsmParameter);
        // Garg's curriculum (dims 5→d, points 11→K), its stages spread over the first half of the run.
        int stages = Math.Max(1, task.Dims - Math.Min(5, task.Dims));
        int interval = Math.Max(1, o.Steps / 2 / stages);
        var curriculum = new RegressionCurriculum(
            new Curriculum(Math.Min(5, task.Dims), task.Dims, 1, interval),
            new Curriculum(Math.Min(11, task.Points), task.Points, Math.Max(1, (task.Points - Math.Min(11, task.Points) + stages - 1) / stages), interval));
        var data = new Rng(o.Seed ^ 0x5EED_DA7A);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var losses = new List<double>();
        for (int step = 1; step <= o.Steps; step++)
        {
            using var scope = TensorScope.Begin();
            var batch = regression.Sample(data, o.Batch, curriculum, step);
            var pred = model.Predict(batch, device);
            var target = new Variable(Tensor.From(batch.Ys, new[] { batch.Batch, batch.Points }, device));
            var loss = F.Scale(F.Mean(F.Square(F.Sub(pred, target))), 1f / batch.ActiveDims);
            losses.Add(optimization.Step(loss));
            progress?.Invoke(step, losses[^1]);
        }
        double seconds = clock.Elapsed.TotalSeconds;

        // Evaluation on fresh tasks at the full dimension and number of points.
        model.Eval();
        var eval = regression.Sample(new Rng(Trainer.EvalSeed(o.Seed, task.Points)), 256, DataSplit.Test);
        float[] predictions;
        using (Autograd.NoGrad())
        using (var scope = TensorScope.Begin())
            predictions = model.Predict(eval, device).Data.ToArray();
        var curves = new Dictionary<string, double[]> { [spec.Name] = LinearRegressionTask.ErrorByPoints(eval, predictions) };
        foreach (var (name, curve) in RegressionBaselines.Curves(eval, RegressionBaselines.Standard(regression))) curves[name] = curve;
        var result = new IclRegressionResult(spec.Name, curves, losses.TakeLast(Math.Min(50, losses.Count)).DefaultIfEmpty(double.NaN).Average(), seconds);

        Directory.CreateDirectory(outDir);
        var ks = Enumerable.Range(0, task.Points).Select(k => (double)k).ToArray();
        Plots.Lines(Path.Combine(outDir, "icl-regression.png"), $"in-context linear regression, d = {task.Dims}", "in-context examples", "squared error / d",
            curves.Select(kv => (kv.Key, ks, kv.Value)));
        AtomicFile.WriteText(Path.Combine(outDir, "icl-regression.json"), JsonSerializer.Serialize(new
        {
            model = spec.Name, dims = task.Dims, points = task.Points, steps = o.Steps, seconds, final_train_loss = result.FinalTrainLoss, curves,
        }, new JsonSerializerOptions { WriteIndented = true }));
        return result;
    }
}
