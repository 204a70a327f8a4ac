using Ssm.Kernels;

namespace Ssm;

public static partial class F
{
    /// <summary>
    /// The S4 Cauchy sums r[b, h, k] = Σ_n v/(z_k − w) + conj(v)/(z_k − conj w) (<see cref="Kernels.Cauchy.Multiply"/>;
    /// v [R, H, N2, 2], w [H, N2, 2], constant nodes z [K, 2]; r [R, H, K, 2]).
    /// </summary>
    public static Variable Cauchy(Variable v, Variable w, Tensor z)
    {
        Tensor vd = v.Data, wd = w.Data;
        return Autograd.Record(Kernels.Cauchy.Multiply(vd, wd, z), "Cauchy", new[] { v, w }, g =>
        {
            var (dv, dw) = Kernels.Cauchy.Backward(vd, wd, z, g);
            return new[] { GradIfRequired(dv, v), GradIfRequired(dw, w) };
        });
    }

    /// <summary>
    /// scale[k]·(r[0] − r[1]·r[2]/(1 + r[3])) over [4, H, K, 2] Cauchy sums (<see cref="Kernels.Cauchy.WoodburyRank1"/>;
    /// constant scale [K, 2]; result [H, K, 2]).
    /// </summary>
    public static Variable WoodburyRank1(Variable r, Tensor scale)
    {
        Tensor rd = r.Data;
        return Autograd.Record(Kernels.Cauchy.WoodburyRank1(rd, scale), "WoodburyRank1", new[] { r },
            g => new Tensor?[] { Kernels.Cauchy.WoodburyRank1Backward(rd, scale, g) });
    }
}
