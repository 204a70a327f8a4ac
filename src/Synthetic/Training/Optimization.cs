using Ssm.Optim;

namespace Ssm.Synthetic.Training;

/// <summary>
/// The optimization recipe shared by every training loop here: AdamW with three parameter groups (decayed; no weight
/// decay for norms/biases; SSM parameters without decay at their own learning rate), a warm-up schedule and global
/// gradient-norm clipping. <see cref="Step"/> backpropagates a loss and applies one update.
/// </summary>
public sealed class Optimization : IDisposable
{
    private readonly Module _module;
    private readonly double _clip;

    /// <summary>Sets up the optimizer over <paramref name="module"/>'s parameters.</summary>
    public Optimization(Module module, TrainOptions o, Func<string, bool> noWeightDecay, Func<string, bool> isSsmParameter)
    {
        _module = module;
        _clip = o.ClipNorm;
        var named = module.NamedParameters().ToList();
        var decay = new ParamGroup(named.Where(p => !noWeightDecay(p.Name) && !isSsmParameter(p.Name)).Select(p => p.Parameter), "decay");
        var noDecay = new ParamGroup(named.Where(p => noWeightDecay(p.Name) && !isSsmParameter(p.Name)).Select(p => p.Parameter), "no_decay") { WeightDecay = 0 };
        var ssm = new ParamGroup(named.Where(p => isSsmParameter(p.Name)).Select(p => p.Parameter), "ssm") { WeightDecay = 0, Lr = o.SsmLr ?? o.Lr };
        Optimizer = new AdamW(new[] { decay, noDecay, ssm }.Where(g => g.Parameters.Count > 0).ToList(), lr: o.Lr, weightDecay: o.WeightDecay);
        Scheduler = new LrScheduler(Optimizer, Schedule(o));
    }

    /// <summary>The AdamW optimizer.</summary>
    public AdamW Optimizer { get; }

    /// <summary>The learning-rate scheduler.</summary>
    public LrScheduler Scheduler { get; }

    /// <summary>Current learning rate of the first group.</summary>
    public double Lr => Optimizer.Groups[0].Lr;

    /// <summary>Backpropagates <paramref name="loss"/>, clips, updates and advances the schedule; returns the loss value.</summary>
    public double Step(Variable loss)
    {
        Optimizer.ZeroGrad();
        loss.Backward();
        if (_clip > 0) GradClip.ClipGradNorm(_module.Parameters(), _clip);
        Optimizer.Step();
        Scheduler.Step();
        return loss.Item();
    }

    private static ILrSchedule Schedule(TrainOptions o) => o.Schedule switch
    {
        "wsd" => new Wsd(o.Warmup, Math.Max(0, (int)(0.8 * o.Steps) - o.Warmup), Math.Max(1, o.Steps - Math.Max(o.Warmup, (int)(0.8 * o.Steps))), o.MinLrRatio),
        "constant" => new CosineWithWarmup(o.Warmup, int.MaxValue / 2, 1.0),
        _ => new CosineWithWarmup(o.Warmup, Math.Max(o.Steps, o.Warmup + 1), o.MinLrRatio),
    };

    /// <summary>Releases the optimizer state.</summary>
    public void Dispose() => Optimizer.Dispose();
}
