using Ssm.Optim;

namespace Ssm.S4;

/// <summary>
/// Optimizer parameter groups for models containing S4D/S4 kernels, as the s4 reference configuration sets them
/// (s4d.py <c>register(name, tensor, lr)</c>, example.py <c>setup_optimizer</c>, configs/model/layer/s4.yaml
/// <c>lr: {dt, A, B: 0.001}</c>, <c>wd: 0.0</c>): the SSM parameters Δ, A (and S4's B and P) get their own learning rate
/// and no weight decay; everything else (C, D, projections, norms, embeddings) takes the optimizer's defaults.
/// </summary>
public static class S4ParamGroups
{
    /// <summary>
    /// Two groups for <see cref="AdamW"/>: first "default" (every parameter of <paramref name="model"/> that is not an SSM
    /// parameter; optimizer defaults), then "ssm" (the <c>SsmParameters</c> of every <see cref="S4DKernel"/> and
    /// <see cref="S4Kernel"/> in the model) with <paramref name="ssmLr"/> and weight decay 0.
    /// </summary>
    public static IReadOnlyList<ParamGroup> Create(Module model, double ssmLr = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(model);
        var ssm = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var m in model.Modules())
        {
            if (m is S4DKernel d) ssm.UnionWith(d.SsmParameters);
            else if (m is S4Kernel s) ssm.UnionWith(s.SsmParameters);
        }
        var all = model.Parameters().ToList();
        return new[]
        {
            new ParamGroup(all.Where(p => !ssm.Contains(p)), "default"),
            new ParamGroup(all.Where(ssm.Contains), "ssm") { Lr = ssmLr, WeightDecay = 0 },
        };
    }
}
