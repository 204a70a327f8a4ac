using Ssm.Kernels;

namespace Ssm;

public static partial class F
{
    /// <summary>
    /// Discretized diagonal modes (S4D; see <see cref="SsmDiscretization.Diagonal"/>): x = ΔA (ZOH) or log Ā (bilinear),
    /// [H, N2, 2], and C′ = C·(e^{ΔA} − 1)/A (ZOH) or C·Δ/(1 − ΔA/2) (bilinear), [channels, H, N2, 2], so that
    /// <see cref="Vandermonde"/>(x, C′) is the convolution kernel. dt [H], aReal and aImag [H, N2], c [channels, H, N2, 2].
    /// </summary>
    public static (Variable X, Variable CPrime) DiagonalDiscretization(Variable dt, Variable aReal, Variable aImag, Variable c, Discretization method)
    {
        Tensor dtd = dt.Data, ard = aReal.Data, aid = aImag.Data, cd = c.Data;
        var (x, cPrime) = SsmDiscretization.Diagonal(dtd, ard, aid, cd, method);
        var outputs = Autograd.RecordMany(new[] { x, cPrime }, "DiagonalDiscretization", new[] { dt, aReal, aImag, c }, g =>
        {
            var grads = SsmDiscretization.DiagonalBackward(dtd, ard, aid, cd, method, g[0], g[1]);
            return new[] { GradIfRequired(grads.DDt, dt), GradIfRequired(grads.DAReal, aReal), GradIfRequired(grads.DAImag, aImag), GradIfRequired(grads.DC!, c) };
        });
        return (outputs[0], outputs[1]);
    }

    /// <summary>
    /// The Cauchy inputs of the S4 DPLR kernel (see <see cref="SsmDiscretization.DplrCauchyInputs"/>): poles w = Δ·Λ
    /// [channels·H, N2, 2] and coefficients v = Δ·[C̃B̃, C̃P̃, conj(P̃)B̃, conj(P̃)P̃] [4, channels·H, N2, 2], for
    /// <see cref="Cauchy"/> and <see cref="WoodburyRank1"/>. dt [H]; Λ as aReal, aImag [H, N2]; p, b [H, N2, 2];
    /// c [channels, H, N2, 2].
    /// </summary>
    public static (Variable W, Variable V) DplrCauchyInputs(Variable dt, Variable aReal, Variable aImag, Variable p, Variable b, Variable c)
    {
        Tensor dtd = dt.Data, ard = aReal.Data, aid = aImag.Data, pd = p.Data, bd = b.Data, cd = c.Data;
        var (w, v) = SsmDiscretization.DplrCauchyInputs(dtd, ard, aid, pd, bd, cd);
        var outputs = Autograd.RecordMany(new[] { w, v }, "DplrCauchyInputs", new[] { dt, aReal, aImag, p, b, c }, g =>
        {
            var grads = SsmDiscretization.DplrCauchyInputsBackward(dtd, ard, aid, pd, bd, cd, g[0], g[1]);
            return new[] { GradIfRequired(grads.DDt, dt), GradIfRequired(grads.DAReal, aReal), GradIfRequired(grads.DAImag, aImag),
                GradIfRequired(grads.DP, p), GradIfRequired(grads.DB, b), GradIfRequired(grads.DC, c) };
        });
        return (outputs[0], outputs[1]);
    }
}
