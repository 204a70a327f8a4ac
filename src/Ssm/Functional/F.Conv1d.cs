using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: causal depthwise conv1d (fused forward and backward kernels from <see cref="Conv1d"/>).</summary>
public static partial class F
{
    /// <summary>
    /// Causal depthwise conv1d as in Mamba-2, on channel-last x [B, L, C]:
    /// y[b, t, c] = act(bias[c] + Σ_k weight[c, k]·x[b, t − (W−1) + k, c]) with act = SiLU when <paramref name="silu"/>.
    /// weight [C, W] is PyTorch's conv1d.weight (C, 1, W) reshaped; bias [C] is optional. <paramref name="initialState"/>
    /// [B, C, W] (optional, a constant: it gets no gradient) supplies the inputs before t = 0, else they are zero.
    /// </summary>
    public static Variable CausalConv1d(Variable x, Variable weight, Variable? bias = null, bool silu = false, Tensor? initialState = null)
    {
        var y = Conv1d.Forward(x.Data, weight.Data, bias?.Data, silu, initialState);
        return Autograd.Record(y, "CausalConv1d", OptionalInputs(x, weight, bias), g =>
        {
            var grads = Conv1d.Backward(g, x.Data, weight.Data, bias?.Data, silu, initialState,
                x.RequiresGrad, weight.RequiresGrad, bias?.RequiresGrad ?? false);
            return OptionalGrads((x, grads.Dx), (weight, grads.Dweight), (bias, grads.Dbias));
        });
    }
}
