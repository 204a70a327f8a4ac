namespace Ssm.Optim;

/// <summary>
/// A set of parameters that share optimizer hyperparameters (like a torch param-group dict). Settings left unset take
/// the optimizer's defaults when the group is passed to it, e.g.
/// <c>new ParamGroup(ssmParams, "ssm") { Lr = 1e-3, WeightDecay = 0 }</c>. Reading an unset setting before that throws.
/// Learning-rate schedulers change <see cref="Lr"/> between steps.
/// </summary>
public sealed class ParamGroup
{
    private double? _lr, _weightDecay, _eps, _momentum, _dampening;
    private (double, double)? _betas;
    private bool? _nesterov;

    /// <summary>A group of <paramref name="parameters"/> named <paramref name="name"/> (the name is for logs and state dicts).</summary>
    public ParamGroup(IEnumerable<Parameter> parameters, string name = "")
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameters = parameters.ToArray();
        if (Parameters.Any(p => p is null)) throw new ArgumentException($"ParamGroup '{name}': a parameter is null.", nameof(parameters));
        Name = name ?? "";
    }

    /// <summary>The group's name.</summary>
    public string Name { get; }

    /// <summary>The parameters, in order.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Learning rate.</summary>
    public double Lr { get => Get(_lr, nameof(Lr)); set => _lr = value; }

    /// <summary>Weight decay (decoupled for AdamW, L2 added to the gradient for SGD).</summary>
    public double WeightDecay { get => Get(_weightDecay, nameof(WeightDecay)); set => _weightDecay = value; }

    /// <summary>AdamW: decay rates of the first and second moment estimates.</summary>
    public (double Beta1, double Beta2) Betas { get => Get(_betas, nameof(Betas)); set => _betas = value; }

    /// <summary>AdamW: term added to the denominator for numerical stability.</summary>
    public double Eps { get => Get(_eps, nameof(Eps)); set => _eps = value; }

    /// <summary>SGD: momentum factor (0 for plain SGD).</summary>
    public double Momentum { get => Get(_momentum, nameof(Momentum)); set => _momentum = value; }

    /// <summary>SGD: dampening of the momentum.</summary>
    public double Dampening { get => Get(_dampening, nameof(Dampening)); set => _dampening = value; }

    /// <summary>SGD: Nesterov momentum.</summary>
    public bool Nesterov { get => Get(_nesterov, nameof(Nesterov)); set => _nesterov = value; }

    internal bool SetsAdamSettings => _betas.HasValue || _eps.HasValue;
    internal bool SetsSgdSettings => _momentum.HasValue || _dampening.HasValue || _nesterov.HasValue;

    internal void ApplyAdamDefaults(double lr, double weightDecay, (double, double) betas, double eps)
    {
        _lr ??= lr; _weightDecay ??= weightDecay; _betas ??= betas; _eps ??= eps;
    }

    internal void ApplySgdDefaults(double lr, double weightDecay, double momentum, double dampening, bool nesterov)
    {
        _lr ??= lr; _weightDecay ??= weightDecay; _momentum ??= momentum; _dampening ??= dampening; _nesterov ??= nesterov;
    }

    private T Get<T>(T? value, string what) where T : struct
        => value ?? throw new InvalidOperationException(
            $"ParamGroup '{Name}': {what} is not set; it takes the optimizer's default when the group is passed to an optimizer.");

    /// <inheritdoc />
    public override string ToString() => $"ParamGroup('{Name}', {Parameters.Count} parameters)";
}
