using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// This file: the linear scan (<see cref="Kernels.LinearScan"/>) and the fused pieces of the Titans neural-memory update
/// (<see cref="NeuralMemoryOps"/>), each one node with a hand-written backward.
/// </summary>
public static partial class F
{
    /// <summary>
    /// h_t = a_t ⊙ h_{t−1} + x_t over dimension 1 of a, x [batch, T, inner] from h0 [batch, inner] (zero when null);
    /// with <paramref name="reverse"/> the adjoint recurrence h_t = a_{t+1} ⊙ h_{t+1} + x_t from the end (no h0).
    /// </summary>
    public static Variable LinearScan(Variable a, Variable x, Variable? h0 = null, bool reverse = false)
    {
        var h = Kernels.LinearScan.Forward(a.Data, x.Data, h0?.Data, reverse);
        return Autograd.Record(h, "LinearScan", OptionalInputs(a, x, h0), g =>
        {
            var r = Kernels.LinearScan.Backward(a.Data, h, g, h0?.Data, reverse, a.RequiresGrad, x.RequiresGrad, h0?.RequiresGrad ?? false);
            return OptionalGrads((a, r.Da), (x, r.Dx), (h0, r.Dh0));
        });
    }

    /// <summary>
    /// dy ⊙ σ′(z) for the memory MLP's activation σ (<see cref="UnaryOp.Silu"/> or <see cref="UnaryOp.Gelu"/>): the
    /// activation step of an MLP's backward pass, as a differentiable op (its backward uses σ″), so that a gradient step
    /// taken inside the forward pass can itself be differentiated.
    /// </summary>
    public static Variable ActivationGrad(UnaryOp activation, Variable z, Variable dy)
    {
        if (!NeuralMemoryOps.SupportsActivation(activation))
            throw new ArgumentException($"F.ActivationGrad: activation {activation} is not supported; expected Silu or Gelu.", nameof(activation));
        Tensor zd = z.Data, dyd = dy.Data;
        if (!Shapes.Equal(zd.Shape, dyd.Shape))
            throw new ArgumentException($"F.ActivationGrad: dy has shape {Shapes.Format(dyd.Shape)}, expected {Shapes.Format(zd.Shape)} (the shape of z).", nameof(dy));
        var y = Elementwise.UnaryBackward(activation, zd, dyd);
        return Autograd.Record(y, "ActivationGrad", new[] { z, dy }, g => new Tensor?[]
        {
            z.RequiresGrad ? NeuralMemoryOps.ActivationCurvature(activation, zd, dyd, g) : null,
            dy.RequiresGrad ? Elementwise.UnaryBackward(activation, zd, g) : null,
        });
    }

    /// <summary>
    /// The chunk-end update of one memory weight per row (see <see cref="NeuralMemoryOps.ChunkUpdate"/>):
    /// M′ = keep·M + carry·S − delta[:, 0], S′ = momentumKeep·S − delta[:, 1]; m, s [R, ...], delta [R, 2, ...],
    /// keep, carry, momentumKeep [R]. Returns (M′, S′).
    /// </summary>
    /// <param name="m">Weights M [R, ...].</param>
    /// <param name="s">Momentum S [R, ...].</param>
    /// <param name="delta">The two weighted gradient sums [R, 2, ...].</param>
    /// <param name="keep">Weight of M in M′ [R].</param>
    /// <param name="carry">Weight of S in M′ [R].</param>
    /// <param name="momentumKeep">Weight of S in S′ [R].</param>
    /// <param name="maxStateGradNorm">
    /// When set, a clipped backward: the gradient of each row's (M′, S′) is scaled down to at most this Frobenius norm
    /// before it flows on (into M, S, delta and the coefficients); the forward is unchanged.
    /// </param>
    public static (Variable M, Variable S) MemoryChunkUpdate(Variable m, Variable s, Variable delta, Variable keep, Variable carry, Variable momentumKeep,
        float? maxStateGradNorm = null)
    {
        if (maxStateGradNorm is float c && !(c > 0 && float.IsFinite(c)))
            throw new ArgumentOutOfRangeException(nameof(maxStateGradNorm), c, $"F.MemoryChunkUpdate: maxStateGradNorm is {c}, expected a finite value > 0 (or null).");
        var (m2, s2) = NeuralMemoryOps.ChunkUpdate(m.Data, s.Data, delta.Data, keep.Data, carry.Data, momentumKeep.Data);
        var inputs = new[] { m, s, delta, keep, carry, momentumKeep };
        var outputs = Autograd.RecordMany(new[] { m2, s2 }, "MemoryChunkUpdate", inputs, g =>
        {
            var r = NeuralMemoryOps.ChunkUpdateBackward(m.Data, s.Data, delta.Data, keep.Data, carry.Data, momentumKeep.Data, g[0], g[1], maxStateGradNorm);
            return new[] { Keep(m, r.Dm), Keep(s, r.Ds), Keep(delta, r.Ddelta), Keep(keep, r.Dkeep), Keep(carry, r.Dcarry), Keep(momentumKeep, r.DmomentumKeep) };
        });
        return (outputs[0], outputs[1]);
    }
}
