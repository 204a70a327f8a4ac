using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Models;

/// <summary>Any causal <see cref="IRecurrentLanguageModel"/> (Mamba-2, Transformer, hybrid, …) as a trainable task model.</summary>
public sealed class LanguageModelAdapter : TrainableModel
{
    private readonly IRecurrentLanguageModel _lm;
    private readonly Func<string, bool> _ssm;

    /// <summary>Wraps <paramref name="lm"/>, which must also be a <see cref="Ssm.Module"/>.</summary>
    public LanguageModelAdapter(ModelSpec spec, IRecurrentLanguageModel lm, Func<string, bool> isSsmParameter)
    {
        Spec = spec;
        _lm = lm;
        Module = lm as Module ?? throw new ArgumentException("LanguageModelAdapter: the language model must be a Module.", nameof(lm));
        _ssm = isSsmParameter;
        if (lm.VocabSize < spec.Outputs)
            throw new ArgumentException($"LanguageModelAdapter: the model has {lm.VocabSize} logits but the task needs {spec.Outputs} outputs.", nameof(lm));
    }

    /// <summary>The wrapped language model (for generation and step inference).</summary>
    public IRecurrentLanguageModel LanguageModel => _lm;

    /// <inheritdoc />
    public override Module Module { get; }

    /// <inheritdoc />
    public override ModelSpec Spec { get; }

    /// <inheritdoc />
    public override Variable Logits(TokenBatch batch, Device device) => Readout(_lm.Forward(Ids(batch, device)), batch);

    /// <inheritdoc />
    public override bool IsSsmParameter(string name) => _ssm(name);
}
