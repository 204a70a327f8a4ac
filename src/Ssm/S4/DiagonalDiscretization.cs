using System.Numerics;

namespace Ssm.S4;

/// <summary>
/// Host-side (float64) discretizations of one diagonal SSM mode for the S4D kernel K_l = 2·Re Σ_n C'_n·e^{x_n·l}
/// (Gu et al., "On the Parameterization and Initialization of Diagonal State Space Models"; state-spaces/s4
/// models/s4/s4.py <c>SSMKernelDiag</c>), giving the (x, C') pairs that <see cref="Kernels.Vandermonde.Kernel"/> takes.
/// The layer computes the same formulas on tensors; these are references and helpers for tests and initialization.
/// </summary>
public static class DiagonalDiscretization
{
    /// <summary>Zero-order hold: x = Δ·A, C' = C·B·(e^{ΔA} − 1)/A.</summary>
    public static (Complex DtA, Complex CPrime) Zoh(Complex a, Complex b, Complex c, double dt)
    {
        var dtA = dt * a;
        return (dtA, c * b * (Complex.Exp(dtA) - 1) / a);
    }

    /// <summary>Bilinear: Ā = (1 + ΔA/2)/(1 − ΔA/2), x = log Ā, C' = C·B·Δ/(1 − ΔA/2).</summary>
    public static (Complex LogABar, Complex CPrime) Bilinear(Complex a, Complex b, Complex c, double dt)
    {
        var dtA = dt * a;
        return (Complex.Log((1 + dtA / 2) / (1 - dtA / 2)), c * b * dt / (1 - dtA / 2));
    }
}
