using ILGPU;

namespace Ssm.Kernels;

/// <summary>
/// Double-precision e^x and (sin x, cos x) written with plain arithmetic so that ILGPU kernels can use them on every
/// backend with a known accuracy (about 1e-16 relative for exp, 1e-16 absolute for sin/cos). exp: x = k·ln2 + r with
/// |r| ≤ ln2/2, Taylor series to r¹³, scaled by 2^k. sin/cos: x = k·π/2 + r with the three-part Cody–Waite constants of
/// fdlibm (k·π/2 is exact for |k| &lt; 2²⁰, i.e. |x| ≲ 1.6e6; beyond that the error grows slowly with |x|), Taylor series
/// to r¹⁵ / r¹⁶ on |r| ≤ π/4, and the quadrant swap.
/// </summary>
internal static class DoubleMath
{
    private const double InvLn2 = 1.44269504088896338700e+00;
    private const double Ln2Hi = 6.93147180369123816490e-01;
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double TwoOverPi = 6.36619772367581382433e-01;
    private const double PiOver2A = 1.57079632673412561417e+00; // first 33 bits of π/2
    private const double PiOver2B = 6.07710050630396597660e-11; // next 33 bits
    private const double PiOver2C = 2.02226624879595063154e-21; // the rest

    /// <summary>e^x; 0 below −745.2, +∞ above 709.79, NaN for NaN.</summary>
    public static double Exp(double x)
    {
        if (x < -745.2) return 0.0;
        if (x > 709.79) return double.PositiveInfinity;
        double k = Math.Floor(x * InvLn2 + 0.5);
        double r = (x - k * Ln2Hi) - k * Ln2Lo;
        double p = 1.0 / 6227020800.0;                 // 1/13!
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        int e = (int)k;
        if (e < -1000) { p *= 6.223015277861142e-61; e += 200; } // 2^-200
        if (e > 1023) { p *= 2.0; e -= 1; }
        return p * Interop.IntAsFloat((ulong)(long)(e + 1023) << 52);
    }

    /// <summary>sin x and cos x.</summary>
    public static void SinCos(double x, out double sin, out double cos)
    {
        double k = Math.Floor(x * TwoOverPi + 0.5);
        double r = ((x - k * PiOver2A) - k * PiOver2B) - k * PiOver2C;
        double r2 = r * r;
        double s = -1.0 / 1307674368000.0;             // −1/15!
        s = s * r2 + 1.0 / 6227020800.0;
        s = s * r2 - 1.0 / 39916800.0;
        s = s * r2 + 1.0 / 362880.0;
        s = s * r2 - 1.0 / 5040.0;
        s = s * r2 + 1.0 / 120.0;
        s = s * r2 - 1.0 / 6.0;
        s = r + r * r2 * s;
        double c = 1.0 / 20922789888000.0;             // 1/16!
        c = c * r2 - 1.0 / 87178291200.0;
        c = c * r2 + 1.0 / 479001600.0;
        c = c * r2 - 1.0 / 3628800.0;
        c = c * r2 + 1.0 / 40320.0;
        c = c * r2 - 1.0 / 720.0;
        c = c * r2 + 1.0 / 24.0;
        c = c * r2 - 0.5;
        c = 1.0 + r2 * c;
        int q = (int)((long)k & 3);
        if (q == 0) { sin = s; cos = c; }
        else if (q == 1) { sin = c; cos = -s; }
        else if (q == 2) { sin = -s; cos = -c; }
        else { sin = -c; cos = s; }
    }
}
