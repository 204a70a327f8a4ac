using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Models;

/// <summary>A sequence classifier ((batch, token ids [B, T]) → logits [B, classes]) as a trainable model for per-sequence tasks.</summary>
public sealed class ClassifierAdapter : TrainableModel
{
    private readonly Func<Module, TokenBatch, Tensor, Variable> _forward;
    private readonly Func<string, bool> _ssm;

    /// <summary>Wraps <paramref name="classifier"/>, called through <paramref name="forward"/>.</summary>
    public ClassifierAdapter(ModelSpec spec, Module classifier, Func<Module, TokenBatch, Tensor, Variable> forward, Func<string, bool> isSsmParameter)
    {
        if (!spec.PerSequence) throw new ArgumentException("ClassifierAdapter: the task has per-token targets; use a language model.", nameof(spec));
        Spec = spec;
        Module = classifier;
        _forward = forward;
        _ssm = isSsmParameter;
    }

    /// <inheritdoc />
    public override Module Module { get; }

    /// <inheritdoc />
    public override ModelSpec Spec { get; }

    /// <inheritdoc />
    public override Variable Logits(TokenBatch batch, Device device) => _forward(Module, batch, Ids(batch, device));

    /// <inheritdoc />
    public override bool IsSsmParameter(string name) => _ssm(name);
}
