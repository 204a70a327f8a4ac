using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Models;

/// <summary>
/// A model as the trainer sees it: a <see cref="Module"/> with a logits function over a task batch, a rule for which
/// parameters get no weight decay, and a rule for which are SSM parameters (own learning rate).
/// Per-token tasks give logits [batch·length, outputs]; per-sequence tasks [batch, outputs].
/// </summary>
public abstract class TrainableModel
{
    /// <summary>The network.</summary>
    public abstract Module Module { get; }

    /// <summary>The spec it was built from.</summary>
    public abstract ModelSpec Spec { get; }

    /// <summary>Logits for a batch (see the class summary for the shape).</summary>
    public abstract Variable Logits(TokenBatch batch, Device device);

    /// <summary>True for a parameter excluded from weight decay (norms, biases, SSM parameters).</summary>
    public virtual bool NoWeightDecay(string name) =>
        name.EndsWith(".bias", StringComparison.Ordinal) || name.Contains("norm", StringComparison.Ordinal) || IsSsmParameter(name);

    /// <summary>True for SSM dynamics parameters (Δ, A, …) that may use their own learning rate.</summary>
    public virtual bool IsSsmParameter(string name) => false;

    /// <summary>Auxiliary loss of the last forward pass to add to the task loss (e.g. VQ commitment), or null.</summary>
    public virtual Variable? AuxiliaryLoss => (Module as Ssm.Hybrid.LongVQ.IAuxiliaryLoss)?.AuxiliaryLoss;

    /// <summary>Token ids of a batch as an int32 [batch, length] tensor.</summary>
    protected static Tensor Ids(TokenBatch batch, Device device) => Tensor.From(batch.Inputs, new[] { batch.Batch, batch.Length }, device);

    /// <summary>
    /// Per-token logits [B, T, V] reshaped to [B·T, Outputs] for per-token tasks, or for per-sequence tasks the logits
    /// at each row's last valid position, first <see cref="ModelSpec.Outputs"/> entries: [B, Outputs] (a causal model
    /// reads out its class after seeing the whole sequence).
    /// </summary>
    protected Variable Readout(Variable tokenLogits, TokenBatch batch)
    {
        int v = tokenLogits.Size(-1);
        if (!Spec.PerSequence)
        {
            var flat = F.Reshape(tokenLogits, batch.Batch * batch.Length, v);
            return v == Spec.Outputs ? flat : F.Narrow(flat, 1, 0, Spec.Outputs);
        }
        var rows = new Variable[batch.Batch];
        for (int b = 0; b < batch.Batch; b++)
        {
            var row = F.Narrow(F.Narrow(tokenLogits, 0, b, 1), 1, batch.ValidLength(b) - 1, 1);
            rows[b] = F.Reshape(F.Narrow(row, 2, 0, Spec.Outputs), 1, Spec.Outputs);
        }
        return F.Concat(rows, 0);
    }
}
