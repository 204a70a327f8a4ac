namespace Ssm.Testing;

/// <summary>Central finite differences of a scalar function of a parameter array, for gradient checks in float64.</summary>
public static class FiniteDifference
{
    /// <summary>
    /// ∂loss/∂p[i] ≈ (loss(p + h·e_i) − loss(p − h·e_i)) / 2h for every i; <paramref name="loss"/> reads <paramref name="p"/>,
    /// which is perturbed in place one entry at a time and restored.
    /// </summary>
    public static double[] Gradient(double[] p, Func<double> loss, double h = 1e-5)
    {
        var g = new double[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            double o = p[i];
            p[i] = o + h; double plus = loss();
            p[i] = o - h; double minus = loss();
            p[i] = o;
            g[i] = (plus - minus) / (2 * h);
        }
        return g;
    }
}
