using Ssm.Kernels;

namespace Ssm.Hybrid.LongVQ;

/// <summary>
/// MEGA's normalized feed-forward network: y = x + W₂·SiLU(W₁·LayerNorm(x)) (parameters <c>norm.*</c>, <c>fc1.*</c>,
/// <c>fc2.*</c>), position-wise, so the same code serves the parallel and the recurrent form.
/// </summary>
public sealed class FeedForward : Module, IForward
{
    /// <summary>Creates the network with hidden width <paramref name="hidden"/>.</summary>
    public FeedForward(int dim, int hidden, float eps, Rng rng, Device? device = null)
    {
        Norm = RegisterModule("norm", new LayerNorm(dim, eps, device: device));
        Fc1 = RegisterModule("fc1", new Linear(dim, hidden, bias: true, rng, device));
        Fc2 = RegisterModule("fc2", new Linear(hidden, dim, bias: true, rng, device));
    }

    /// <summary>Pre-norm.</summary>
    public LayerNorm Norm { get; }
    /// <summary>First projection.</summary>
    public Linear Fc1 { get; }
    /// <summary>Second projection.</summary>
    public Linear Fc2 { get; }

    /// <summary>x + W₂·SiLU(W₁·LayerNorm(x)) for x [..., dim].</summary>
    public Variable Forward(Variable x) => F.Add(x, Fc2.Forward(F.Silu(Fc1.Forward(Norm.Forward(x)))));
}
