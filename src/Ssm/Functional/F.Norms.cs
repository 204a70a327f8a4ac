using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: normalizations over the last dimension (fused forward and backward kernels from <see cref="Norms"/>).</summary>
public static partial class F
{
    /// <summary>
    /// LayerNorm over the last dimension: (x − mean)/√(var + eps)·weight + bias; <paramref name="weight"/> and
    /// <paramref name="bias"/> ([D]) are optional (like <c>torch.nn.functional.layer_norm</c>).
    /// </summary>
    public static Variable LayerNorm(Variable x, Variable? weight = null, Variable? bias = null, float eps = 1e-5f)
    {
        var r = Norms.LayerNorm(x.Data, weight?.Data, bias?.Data, eps);
        var inputs = OptionalInputs(x, weight, bias);
        return Autograd.Record(r.Output, "LayerNorm", inputs, g =>
        {
            var grads = Norms.LayerNormBackward(g, x.Data, weight?.Data, r.Mean!, r.Rstd, x.RequiresGrad,
                weight?.RequiresGrad ?? false, bias?.RequiresGrad ?? false);
            return OptionalGrads((x, grads.Dx), (weight, grads.Dweight), (bias, grads.Dbias));
        });
    }

    /// <summary>RMSNorm over the last dimension (mamba_ssm / Llama): x/√(mean(x²) + eps)·weight, weight [D].</summary>
    public static Variable RmsNorm(Variable x, Variable weight, float eps = 1e-5f)
    {
        var r = Norms.RmsNorm(x.Data, weight.Data, eps);
        return Autograd.Record(r.Output, "RmsNorm", new[] { x, weight }, g =>
        {
            var grads = Norms.RmsNormBackward(g, x.Data, weight.Data, r.Rstd, x.RequiresGrad, weight.RequiresGrad);
            return new Tensor?[] { grads.Dx, grads.Dweight };
        });
    }

    /// <summary>
    /// Gated RMSNorm (mamba_ssm RMSNormGated, norm_before_gate=False, as in Mamba2): g = x ⊙ SiLU(z), normalized by the RMS
    /// of each group of <paramref name="groupSize"/> consecutive channels, times <paramref name="weight"/> [D].
    /// groupSize = D is the ungrouped case; Mamba2 uses d_inner/ngroups.
    /// </summary>
    public static Variable GatedRmsNorm(Variable x, Variable z, Variable weight, int groupSize, float eps = 1e-5f)
    {
        var r = Norms.GatedRmsNorm(x.Data, z.Data, weight.Data, groupSize, eps);
        return Autograd.Record(r.Output, "GatedRmsNorm", new[] { x, z, weight }, g =>
        {
            var grads = Norms.GatedRmsNormBackward(g, x.Data, z.Data, weight.Data, r.Rstd, groupSize,
                x.RequiresGrad || z.RequiresGrad, weight.RequiresGrad);
            return new Tensor?[] { grads.Dx, grads.Dz, grads.Dweight };
        });
    }

    /// <summary>The non-null variables, in order (the recorded inputs of an op with optional inputs).</summary>
    private static Variable[] OptionalInputs(params Variable?[] inputs) => inputs.OfType<Variable>().ToArray();

    /// <summary>The gradients of the inputs that are present, in order (matches <see cref="OptionalInputs"/>).</summary>
    private static Tensor?[] OptionalGrads(params (Variable? input, Tensor? grad)[] grads)
        => grads.Where(p => p.input is not null).Select(p => p.grad).ToArray();
}
