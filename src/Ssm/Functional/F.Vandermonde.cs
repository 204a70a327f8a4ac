using Ssm.Kernels;

namespace Ssm;

public static partial class F
{
    /// <summary>
    /// The S4D convolution kernel K[h, l] = 2·Re Σ_n c[h, n]·exp(dtA[h, n]·l), l &lt; <paramref name="length"/>
    /// (<see cref="Kernels.Vandermonde.Kernel"/>; dtA and c are [H, N2, 2] real views of complex modes; K is [H, L]).
    /// </summary>
    public static Variable Vandermonde(Variable dtA, Variable c, int length)
    {
        Tensor a = dtA.Data, cd = c.Data;
        return Autograd.Record(Kernels.Vandermonde.Kernel(a, cd, length), "Vandermonde", new[] { dtA, c }, g =>
        {
            var (da, dc) = Kernels.Vandermonde.Backward(a, cd, g);
            return new[] { GradIfRequired(da, dtA), GradIfRequired(dc, c) };
        });
    }

    /// <summary>Returns g when <paramref name="input"/> requires a gradient; otherwise disposes it and returns null (for backward kernels that produce several gradients at once).</summary>
    private static Tensor? GradIfRequired(Tensor g, Variable input)
    {
        if (input.RequiresGrad) return g;
        g.Dispose();
        return null;
    }
}
