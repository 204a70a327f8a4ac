namespace Ssm.Kernels;

/// <summary>Scalar pieces of <see cref="SsmRecurrence"/> shared by the CPU code and the ILGPU kernels (double precision).</summary>
internal static class SsmRecurrenceMath
{
    /// <summary>e^z.</summary>
    public static Complex64 Exp(Complex64 z)
    {
        double m = DoubleMath.Exp(z.Re);
        DoubleMath.SinCos(z.Im, out double s, out double c);
        return new Complex64(m * c, m * s);
    }

    /// <summary>D_n = 1/(2/Δ − Λ_n).</summary>
    public static Complex64 Resolvent(double twoOverDt, Complex64 lambda) => new Complex64(1.0, 0.0) / (new Complex64(twoOverDt, 0.0) - lambda);

    /// <summary>2·Re(conj(a)·b): the full-state inner product a*b of two conjugate-pair vectors' stored halves (one term).</summary>
    public static double PairDot(Complex64 a, Complex64 b) => 2.0 * Complex64.Dot(a, b);
}
