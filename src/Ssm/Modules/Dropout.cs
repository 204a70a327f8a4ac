using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// Dropout (like <c>torch.nn.Dropout</c>): in training mode each element is zeroed with probability <see cref="P"/>
/// and the rest scaled by 1/(1 − p); identity in evaluation mode. Masks come from the module's own <see cref="Rng"/>
/// (one seed per call), so a run is reproducible from the construction seed.
/// </summary>
public sealed class Dropout : Module, IForward
{
    /// <summary>Dropout with probability <paramref name="p"/> and its own generator seeded with <paramref name="seed"/>.</summary>
    public Dropout(float p, long seed) : this(p, new Rng(seed), fork: false) { }

    /// <summary>Dropout with probability <paramref name="p"/> and a generator forked from <paramref name="rng"/>.</summary>
    public Dropout(float p, Rng rng) : this(p, rng ?? throw new ArgumentNullException(nameof(rng)), fork: true) { }

    private Dropout(float p, Rng rng, bool fork)
    {
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, $"Dropout: p must be in [0, 1], got {p}.");
        P = p;
        Rng = fork ? rng.Fork() : rng;
    }

    /// <summary>Probability of zeroing an element.</summary>
    public float P { get; }

    /// <summary>The generator the per-call mask seeds are drawn from (its state can be checkpointed).</summary>
    public Rng Rng { get; }

    /// <summary>Applies dropout in training mode; returns <paramref name="x"/> unchanged in evaluation mode.</summary>
    public Variable Forward(Variable x) => F.Dropout(x, P, IsTraining, Rng);

    /// <inheritdoc />
    public override string ToString() => $"Dropout(p={P})";
}
