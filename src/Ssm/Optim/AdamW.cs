using Ssm.Kernels;

namespace Ssm.Optim;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter, decoupled weight decay) exactly as <c>torch.optim.AdamW</c>: p ← p·(1 − lr·wd), then
/// the Adam step with bias-corrected moments. Defaults as torch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay
/// 0.01. One fused kernel per parameter and step (<see cref="OptimizerOps.AdamW"/>); state <c>exp_avg</c>, <c>exp_avg_sq</c>.
/// </summary>
public sealed class AdamW : Optimizer
{
    private static readonly string[] Names = { "exp_avg", "exp_avg_sq" };
    private static readonly Hyperparameter[] Hyper =
    {
        new("lr", g => g.Lr, (g, v) => g.Lr = v),
        new("beta1", g => g.Betas.Beta1, (g, v) => g.Betas = (v, g.Betas.Beta2)),
        new("beta2", g => g.Betas.Beta2, (g, v) => g.Betas = (g.Betas.Beta1, v)),
        new("eps", g => g.Eps, (g, v) => g.Eps = v),
        new("weight_decay", g => g.WeightDecay, (g, v) => g.WeightDecay = v),
    };

    /// <summary>AdamW over <paramref name="parameters"/> (one group).</summary>
    public AdamW(IEnumerable<Parameter> parameters, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 1e-2)
        : this(new[] { new ParamGroup(parameters) }, lr, betas, eps, weightDecay) { }

    /// <summary>AdamW over parameter groups; settings a group leaves unset take these defaults.</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, (double Beta1, double Beta2)? betas = null,
        double eps = 1e-8, double weightDecay = 1e-2) : base(groups)
    {
        for (int g = 0; g < Groups.Count; g++)
        {
            var group = Groups[g];
            if (group.SetsSgdSettings)
                throw new ArgumentException($"AdamW: group {g} ('{group.Name}') sets momentum, dampening or nesterov, which AdamW does not use.", nameof(groups));
            group.ApplyAdamDefaults(lr, weightDecay, betas ?? (0.9, 0.999), eps);
            CheckRange(g, "lr", group.Lr, 0, double.PositiveInfinity);
            CheckRange(g, "beta1", group.Betas.Beta1, 0, 1, upperOpen: true);
            CheckRange(g, "beta2", group.Betas.Beta2, 0, 1, upperOpen: true);
            CheckRange(g, "eps", group.Eps, 0, double.PositiveInfinity);
            CheckRange(g, "weight_decay", group.WeightDecay, 0, double.PositiveInfinity);
        }
    }

    /// <inheritdoc />
    protected override IReadOnlyList<string> StateNames(ParamGroup group) => Names;

    /// <inheritdoc />
    protected override IReadOnlyList<Hyperparameter> Hyperparameters => Hyper;

    /// <inheritdoc />
    protected override void Update(ParamGroup group, Tensor param, Tensor grad, Tensor[] state, long step)
        => OptimizerOps.AdamW(param, grad, state[0], state[1], group.Lr, group.Betas.Beta1, group.Betas.Beta2,
            group.Eps, group.WeightDecay, step);
}
