using Ssm.Inference;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// A causal language model with fixed random token ids (seed 2): the forward to the mean cross-entropy of the next
/// tokens (no grad), and one training step's forward + cross-entropy + backward into every parameter.
/// <see cref="NonFinite"/> lists what was not finite in the last call (the loss, and after a backward the parameter
/// gradients). Takes ownership of the model.
/// </summary>
public sealed class LanguageModelWorkload : IDisposable
{
    private readonly Module _model;
    private readonly IRecurrentLanguageModel _lm;
    private readonly Tensor _inputs, _targets;
    private readonly int _tokens;
    private bool _backward;

    /// <summary>Draws <paramref name="batch"/> sequences of <paramref name="length"/> + 1 ids below <paramref name="vocab"/> on <paramref name="device"/> (default: CPU).</summary>
    public LanguageModelWorkload(Module model, int batch, int length, int vocab, Device? device = null)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _lm = model as IRecurrentLanguageModel
            ?? throw new ArgumentException($"LanguageModelWorkload: {model.GetType().Name} is not an IRecurrentLanguageModel.", nameof(model));
        var d = device ?? Device.Cpu;
        var rng = new Rng(2);
        var ids = new int[batch * (length + 1)];
        for (int i = 0; i < ids.Length; i++) ids[i] = rng.Next(vocab);
        var inputs = new int[batch * length];
        var targets = new int[batch * length];
        for (int s = 0; s < batch; s++)
        {
            Array.Copy(ids, s * (length + 1), inputs, s * length, length);
            Array.Copy(ids, s * (length + 1) + 1, targets, s * length, length);
        }
        _inputs = Tensor.From(inputs, new[] { batch, length }, d);
        _targets = Tensor.From(targets, new[] { batch * length }, d);
        _tokens = batch * length;
    }

    /// <summary>The last call's mean cross-entropy.</summary>
    public float Loss { get; private set; } = float.NaN;

    /// <summary>The forward and the loss without autograd.</summary>
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        using var noGrad = Autograd.NoGrad();
        Loss = LossOf().Item();
        _backward = false;
    }

    /// <summary>Forward, cross-entropy and backward into every parameter (the previous call's gradients dropped first).</summary>
    public void ForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _model.ZeroGrad();
        var loss = LossOf();
        loss.Backward();
        Loss = loss.Item();
        _backward = true;
    }

    /// <summary>
    /// What was not finite after the last call: "loss" when the loss was not, and after <see cref="ForwardBackward"/> the
    /// names of the parameters whose gradient has a NaN or ∞; empty when everything was finite.
    /// </summary>
    public IReadOnlyList<string> NonFinite()
    {
        var bad = new List<string>();
        if (!float.IsFinite(Loss)) bad.Add("loss");
        if (_backward)
            bad.AddRange(_model.NamedParameters().Where(p => p.Parameter.Grad is { } g && !g.ToArray().All(float.IsFinite)).Select(p => p.Name));
        return bad;
    }

    private Variable LossOf() => F.CrossEntropy(F.Reshape(_lm.Forward(_inputs, null), _tokens, _lm.VocabSize), _targets);

    /// <inheritdoc />
    public void Dispose()
    {
        _model.ZeroGrad();
        _model.Dispose();
        _inputs.Dispose();
        _targets.Dispose();
    }
}
