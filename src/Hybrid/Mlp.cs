using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>
/// The feed-forward network of a block: GELU (<c>fc1</c> [hidden, d], <c>fc2</c> [d, hidden]) or SwiGLU as mamba_ssm's
/// GatedMLP (<c>fc1</c> [2·hidden, d] producing [a | g], out = fc2(a ⊙ SiLU(g))).
/// </summary>
public sealed class Mlp : Module, IForward
{
    /// <summary>Creates the MLP with torch.nn.Linear's initialization.</summary>
    public Mlp(int dModel, int hidden, MlpKind kind, bool bias, Rng rng, Device? device = null)
    {
        Guard.Positive("Mlp", nameof(dModel), dModel);
        Guard.Positive("Mlp", nameof(hidden), hidden);
        Kind = kind;
        Hidden = hidden;
        Fc1 = RegisterModule("fc1", new Linear(dModel, kind == MlpKind.SwiGlu ? 2 * hidden : hidden, bias, rng, device));
        Fc2 = RegisterModule("fc2", new Linear(hidden, dModel, bias, rng, device));
    }

    /// <summary>GELU or SwiGLU.</summary>
    public MlpKind Kind { get; }
    /// <summary>Hidden width.</summary>
    public int Hidden { get; }
    /// <summary>Input projection (value and gate halves for SwiGLU).</summary>
    public Linear Fc1 { get; }
    /// <summary>Output projection.</summary>
    public Linear Fc2 { get; }

    /// <summary>Applies the MLP to x [..., d_model].</summary>
    public Variable Forward(Variable x)
    {
        var h = Fc1.Forward(x);
        if (Kind == MlpKind.Gelu) h = F.Gelu(h);
        else
        {
            var halves = F.Split(h, new[] { Hidden, Hidden }, -1);
            h = F.Mul(halves[0], F.Silu(halves[1]));
        }
        return Fc2.Forward(h);
    }

    /// <inheritdoc />
    public override string ToString() => $"Mlp({Kind}, hidden={Hidden})";
}
