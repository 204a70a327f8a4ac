namespace Ssm.Kernels;

/// <summary>A double-precision complex number for the scalar S4/S4D math shared by CPU code and ILGPU kernels.</summary>
internal readonly struct Complex64
{
    public readonly double Re, Im;

    public Complex64(double re, double im)
    {
        Re = re;
        Im = im;
    }

    public Complex64 Conj => new(Re, -Im);

    public static Complex64 operator +(Complex64 a, Complex64 b) => new(a.Re + b.Re, a.Im + b.Im);
    public static Complex64 operator -(Complex64 a, Complex64 b) => new(a.Re - b.Re, a.Im - b.Im);
    public static Complex64 operator *(Complex64 a, Complex64 b) => new(a.Re * b.Re - a.Im * b.Im, a.Re * b.Im + a.Im * b.Re);
    public static Complex64 operator *(double s, Complex64 a) => new(s * a.Re, s * a.Im);

    /// <summary>a/b = a·conj(b)/|b|².</summary>
    public static Complex64 operator /(Complex64 a, Complex64 b)
    {
        double d = 1.0 / (b.Re * b.Re + b.Im * b.Im);
        return new((a.Re * b.Re + a.Im * b.Im) * d, (a.Im * b.Re - a.Re * b.Im) * d);
    }

    /// <summary>Re(conj(a)·b) = a.Re·b.Re + a.Im·b.Im: the real inner product, dL/dt for a real t when a is the real-view gradient of a quantity with derivative b.</summary>
    public static double Dot(Complex64 a, Complex64 b) => a.Re * b.Re + a.Im * b.Im;
}

/// <summary>
/// Scalar math of <see cref="SsmDiscretization"/> for one mode, in double precision (inputs and outputs are float
/// tensors). Gradients are real-view gradients written as complex numbers G = ∂L/∂Re + i·∂L/∂Im (PyTorch's convention):
/// through a holomorphic y = f(a) they map as G_a = G_y·conj(f′(a)), and a real parameter t gets Re(conj(G_y)·∂y/∂t).
/// </summary>
internal static class SsmDiscretizationMath
{
    /// <summary>Floor of Re log Ā for the bilinear method: Ā = 0 exactly (ΔA = −2) would give −∞ and 0·(−∞) = NaN in the kernel's l = 0 term.</summary>
    public const double MinLogDecay = -1e4;

    /// <summary>
    /// One diagonal mode, z = Δ·A. ZOH: x = z, g = (e^z − 1)/A (e^z − 1 = expm1(Re z)·cos(Im z) − 2sin²(Im z/2) +
    /// i·e^{Re z}·sin(Im z), no cancellation for small z). Bilinear: with w = z/2, x = log((1 + w)/(1 − w)) =
    /// ½·log1p(4·Re w/|1 − w|²) + i·atan2(2·Im w, 1 − |w|²), g = Δ/(1 − w). The kernel is K_l = 2·Re Σ C·g·e^{x·l}.
    /// </summary>
    public static void Diagonal(int bilinear, double dt, Complex64 a, out Complex64 x, out Complex64 g)
    {
        var z = dt * a;
        if (bilinear == 0)
        {
            ZohExp(z, out var e, out var em1);
            x = z;
            g = em1 / a;
        }
        else
        {
            var w = 0.5 * z;
            double ur = 1.0 - w.Re, ui = -w.Im, den = ur * ur + ui * ui;
            double xr = 0.5 * DoubleMath.Log1p(4.0 * w.Re / den);
            x = new Complex64(xr < MinLogDecay ? MinLogDecay : xr, DoubleMath.Atan2(2.0 * w.Im, 1.0 - w.Re * w.Re - w.Im * w.Im));
            g = dt * new Complex64(ur / den, -ui / den);
        }
    }

    /// <summary>
    /// Gradients of <see cref="Diagonal"/> for upstream gx (of x) and gg (of g): ga (of A) and gdt (of Δ). ZOH:
    /// ∂g/∂A = (Δ·e^z − g)/A, ∂g/∂Δ = e^z, ∂x/∂A = Δ, ∂x/∂Δ = A. Bilinear, q = 1/(1 − w): ∂g/∂A = Δ²q²/2, ∂g/∂Δ = q²,
    /// x′(z) = 1/(1 − w²).
    /// </summary>
    public static void DiagonalBackward(int bilinear, double dt, Complex64 a, Complex64 gx, Complex64 gg, out Complex64 ga, out double gdt)
    {
        var z = dt * a;
        if (bilinear == 0)
        {
            ZohExp(z, out var e, out var em1);
            var g = em1 / a;
            var dgdA = (dt * e - g) / a;
            ga = gg * dgdA.Conj + dt * gx;
            gdt = Complex64.Dot(gg, e) + Complex64.Dot(gx, a);
        }
        else
        {
            var w = 0.5 * z;
            var one = new Complex64(1.0, 0.0);
            var q = one / (one - w);
            var q2 = q * q;
            var gz = gx * (one / (one - w * w)).Conj;
            ga = gg * (0.5 * dt * dt * q2).Conj + dt * gz;
            gdt = Complex64.Dot(gg, q2) + Complex64.Dot(gz, a);
        }
    }

    /// <summary>e^z and e^z − 1.</summary>
    private static void ZohExp(Complex64 z, out Complex64 e, out Complex64 em1)
    {
        double ez = DoubleMath.Exp(z.Re);
        DoubleMath.SinCos(0.5 * z.Im, out double s, out double c);
        double sin = 2.0 * s * c, cosm1 = -2.0 * s * s;
        e = new Complex64(ez * (1.0 + cosm1), ez * sin);
        em1 = new Complex64(DoubleMath.Expm1(z.Re) * (1.0 + cosm1) + cosm1, ez * sin);
    }
}
