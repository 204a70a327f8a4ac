using ILGPU;

namespace Ssm.Kernels;

/// <summary>
/// Double-precision e^x, (sin x, cos x), ln x and atan2 written with plain arithmetic so that ILGPU kernels can use them
/// on every backend with a known accuracy (about 1e-16 relative for exp and ln, 1e-16 absolute for sin/cos and atan2).
/// exp: x = k·ln2 + r with |r| ≤ ln2/2, Taylor series to r¹³, scaled by 2^k. sin/cos: x = k·π/2 + r with the three-part
/// Cody–Waite constants of fdlibm (k·π/2 is exact for |k| &lt; 2²⁰, i.e. |x| ≲ 1.6e6; beyond that the error grows slowly
/// with |x|), Taylor series to r¹⁵ / r¹⁶ on |r| ≤ π/4, and the quadrant swap. ln: x = m·2^e with m in [√½, √2),
/// ln m = 2·atanh((m−1)/(m+1)) by its series. atan2: the octant reduction to atan t, t in [0, 1], then
/// atan t = π/4 + atan((t−1)/(t+1)) above tan(π/8) and the series on |u| ≤ tan(π/8).
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
    private const double Pi = 3.14159265358979311600e+00;
    private const double PiLo = 1.22464679914735317723e-16;     // π − Pi
    private const double PiOver2 = 1.57079632679489655800e+00;
    private const double PiOver2Lo = 6.12323399573676588613e-17; // π/2 − PiOver2
    private const double PiOver4 = 7.85398163397448278999e-01;
    private const double PiOver4Lo = 3.06161699786838294307e-17; // π/4 − PiOver4
    private const double TanPiOver8 = 4.14213562373095034101e-01;

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

    /// <summary>e^x − 1 without cancellation near 0 (Kahan: (u − 1)·x/ln u with u = e^x rounded).</summary>
    public static double Expm1(double x)
    {
        if (x > 40.0 || x < -40.0) return Exp(x) - 1.0;
        double u = Exp(x);
        if (u == 1.0) return x;
        double um1 = u - 1.0;
        return um1 * (x / Log(u));
    }

    /// <summary>ln x; −∞ at 0, NaN below 0 or for NaN, +∞ at +∞ (subnormal x included).</summary>
    public static double Log(double x)
    {
        if (!(x > 0)) return x == 0 ? double.NegativeInfinity : double.NaN;
        if (x > double.MaxValue) return x;
        int e = 0;
        if (x < 2.2250738585072014e-308) { x *= 18014398509481984.0; e = -54; } // 2^54: normalize subnormals
        ulong bits = Interop.FloatAsInt(x);
        e += (int)((bits >> 52) & 0x7FF) - 1023;
        double m = Interop.IntAsFloat((bits & 0x000FFFFFFFFFFFFFUL) | 0x3FF0000000000000UL); // [1, 2)
        if (m > 1.4142135623730951) { m *= 0.5; e++; }
        double s = (m - 1.0) / (m + 1.0), s2 = s * s;                  // |s| ≤ 0.1716
        double p = 1.0 / 23.0;
        p = p * s2 + 1.0 / 21.0;
        p = p * s2 + 1.0 / 19.0;
        p = p * s2 + 1.0 / 17.0;
        p = p * s2 + 1.0 / 15.0;
        p = p * s2 + 1.0 / 13.0;
        p = p * s2 + 1.0 / 11.0;
        p = p * s2 + 1.0 / 9.0;
        p = p * s2 + 1.0 / 7.0;
        p = p * s2 + 1.0 / 5.0;
        p = p * s2 + 1.0 / 3.0;
        p = p * s2 + 1.0;
        return e * Ln2Hi + (e * Ln2Lo + 2.0 * s * p);
    }

    /// <summary>ln(1 + x), accurate for small x (Goldberg's u = 1 + x correction); −∞ at x = −1.</summary>
    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0) return x;
        return Log(u) * (x / (u - 1.0));
    }

    /// <summary>The angle of (x, y) in [−π, π] (atan2(0, 0) = 0; the sign of zero is not distinguished).</summary>
    public static double Atan2(double y, double x)
    {
        double ax = Math.Abs(x), ay = Math.Abs(y);
        if (ax == 0 && ay == 0) return 0.0;
        bool swap = ay > ax;
        double t = swap ? ax / ay : ay / ax; // [0, 1]
        // angle = hi + lo + a, with the constants' low parts added last so that they are not rounded away.
        double a = Atan01(t), hi = 0.0, lo = 0.0;
        if (swap) { hi = PiOver2; lo = PiOver2Lo; a = -a; }
        if (x < 0) { hi = Pi - hi; lo = PiLo - lo; a = -a; }
        double r = hi + (lo + a);
        return y < 0 ? -r : r;
    }

    /// <summary>atan t for t in [0, 1].</summary>
    private static double Atan01(double t)
    {
        bool upper = t > TanPiOver8;
        double u = upper ? (t - 1.0) / (t + 1.0) : t, u2 = u * u; // |u| ≤ tan(π/8)
        double p = 1.0 / 43.0;
        for (int k = 20; k >= 0; k--) p = p * (-u2) + 1.0 / (2 * k + 1);
        double a = u * p;
        return upper ? PiOver4 + (a + PiOver4Lo) : a;
    }
}
