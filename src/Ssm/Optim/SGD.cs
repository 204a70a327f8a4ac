using Ssm.Kernels;

namespace Ssm.Optim;

/// <summary>
/// Stochastic gradient descent exactly as <c>torch.optim.SGD</c>: d = g + wd·p; with momentum μ the buffer b is d on
/// the first step, then μ·b + (1 − dampening)·d; d = nesterov ? d + μ·b : b; p ← p − lr·d. State
/// <c>momentum_buffer</c> (only when μ ≠ 0). One fused kernel per parameter and step (<see cref="OptimizerOps.Sgd"/>).
/// </summary>
public sealed class SGD : Optimizer
{
    private static readonly string[] Buffer = { "momentum_buffer" };
    private static readonly Hyperparameter[] Hyper =
    {
        new("lr", g => g.Lr, (g, v) => g.Lr = v),
        new("momentum", g => g.Momentum, (g, v) => g.Momentum = v),
        new("dampening", g => g.Dampening, (g, v) => g.Dampening = v),
        new("weight_decay", g => g.WeightDecay, (g, v) => g.WeightDecay = v),
        new("nesterov", g => g.Nesterov ? 1 : 0, (g, v) => g.Nesterov = v != 0),
    };

    /// <summary>SGD over <paramref name="parameters"/> (one group).</summary>
    public SGD(IEnumerable<Parameter> parameters, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false)
        : this(new[] { new ParamGroup(parameters) }, lr, momentum, dampening, weightDecay, nesterov) { }

    /// <summary>SGD over parameter groups; settings a group leaves unset take these defaults.</summary>
    public SGD(IEnumerable<ParamGroup> groups, double lr = 1e-3, double momentum = 0, double dampening = 0,
        double weightDecay = 0, bool nesterov = false) : base(groups)
    {
        for (int g = 0; g < Groups.Count; g++)
        {
            var group = Groups[g];
            if (group.SetsAdamSettings)
                throw new ArgumentException($"SGD: group {g} ('{group.Name}') sets betas or eps, which SGD does not use.", nameof(groups));
            group.ApplySgdDefaults(lr, weightDecay, momentum, dampening, nesterov);
            CheckRange(g, "lr", group.Lr, 0, double.PositiveInfinity);
            CheckRange(g, "momentum", group.Momentum, 0, double.PositiveInfinity);
            CheckRange(g, "dampening", group.Dampening, 0, 1);
            CheckRange(g, "weight_decay", group.WeightDecay, 0, double.PositiveInfinity);
            if (group.Nesterov && (group.Momentum <= 0 || group.Dampening != 0))
                throw new ArgumentException($"SGD: group {g} ('{group.Name}'): Nesterov momentum requires momentum > 0 and dampening 0.", nameof(groups));
        }
    }

    /// <inheritdoc />
    protected override IReadOnlyList<string> StateNames(ParamGroup group) => group.Momentum != 0 ? Buffer : Array.Empty<string>();

    /// <inheritdoc />
    protected override IReadOnlyList<Hyperparameter> Hyperparameters => Hyper;

    /// <inheritdoc />
    protected override void Update(ParamGroup group, Tensor param, Tensor grad, Tensor[] state, long step)
        => OptimizerOps.Sgd(param, grad, state.Length > 0 ? state[0] : null, group.Lr, group.Momentum, group.Dampening,
            group.WeightDecay, group.Nesterov, firstStep: step == 1);
}
