using System.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ssm.S4;

/// <summary>
/// The diagonal-plus-low-rank form of a HiPPO matrix in its eigenbasis, with N/2 stored modes (each stands for a
/// conjugate pair): A = V_f·(diag(Λ, conj Λ) − p_f·p_f*)·V_f* with V_f = [V, conj V] and p_f = [P̃; conj P̃],
/// B = V_f·[B̃; conj B̃] (state-spaces/s4 models/s4/s4.py <c>nplr</c>, which writes this as A = V(Λ − P̃P̃*)V*).
/// </summary>
/// <param name="Lambda">Λ (N/2): the eigenvalues of A + PPᵀ with negative imaginary part, most negative first.</param>
/// <param name="P">P̃ = V*·P (N/2).</param>
/// <param name="B">B̃ = V*·B (N/2), possibly with its imaginary part clipped.</param>
/// <param name="V">V (N × N/2): orthonormal eigenvectors of A + PPᵀ for <paramref name="Lambda"/>.</param>
public sealed record DplrForm(Complex[] Lambda, Complex[] P, Complex[] B, Complex[,] V)
{
    /// <summary>N/2, the number of stored modes.</summary>
    public int Modes => Lambda.Length;

    /// <summary>V_f·(diag(Λ, conj Λ) − p_f·p_f*)·V_f* (N × N; real up to rounding when this is an exact decomposition).</summary>
    public Complex[,] ReconstructA()
    {
        int h = Modes, n = 2 * h;
        var vf = Matrix<Complex>.Build.Dense(n, n, (i, j) => j < h ? V[i, j] : Complex.Conjugate(V[i, j - h]));
        Complex[] pf = Full(P), lf = Full(Lambda);
        var m = Matrix<Complex>.Build.Dense(n, n, (i, j) => (i == j ? lf[i] : Complex.Zero) - pf[i] * Complex.Conjugate(pf[j]));
        return (vf * m * vf.ConjugateTranspose()).ToArray();
    }

    /// <summary>[x; conj x]: the full-state vector of a conjugate-pair half vector.</summary>
    public static Complex[] Full(Complex[] half) => half.Concat(half.Select(Complex.Conjugate)).ToArray();
}

/// <summary>
/// HiPPO matrices (Gu et al., "HiPPO: Recurrent Memory with Optimal Polynomial Projections"; "Efficiently Modeling Long
/// Sequences with Structured State Spaces") in float64 on the host, and their NPLR/DPLR diagonalization as in
/// state-spaces/s4 models/s4/s4.py (<c>transition</c>, <c>rank_correction</c>, <c>nplr</c>, <c>dplr(init='legs')</c>).
/// Only LegS is implemented (LegT needs a rank-2 correction and FouT a zero-eigenvalue special case; neither is here).
/// </summary>
public static class Hippo
{
    /// <summary>HiPPO-LegS A (N×N): A_nk = −√((2n+1)(2k+1)) for n &gt; k, −(n+1) for n = k, 0 for n &lt; k.</summary>
    public static double[,] LegSA(int n)
    {
        CheckSize(n, even: false);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k <= i; k++)
                a[i, k] = i == k ? -(i + 1) : -Math.Sqrt((2.0 * i + 1) * (2.0 * k + 1));
        return a;
    }

    /// <summary>HiPPO-LegS B (N): B_n = √(2n+1).</summary>
    public static double[] LegSB(int n)
    {
        CheckSize(n, even: false);
        return Enumerable.Range(0, n).Select(i => Math.Sqrt(2.0 * i + 1)).ToArray();
    }

    /// <summary>The rank-1 correction P_n = √(n+½): A + PPᵀ = −½I + S with S skew-symmetric.</summary>
    public static double[] LegSP(int n)
    {
        CheckSize(n, even: false);
        return Enumerable.Range(0, n).Select(i => Math.Sqrt(i + 0.5)).ToArray();
    }

    /// <summary>
    /// The DPLR form of HiPPO-LegS: <see cref="Diagonalize"/> of (<see cref="LegSA"/>, <see cref="LegSP"/>,
    /// <see cref="LegSB"/>). <paramref name="bClip"/> clamps Im B̃ to [−bClip, bClip] (s4's <c>nplr</c> uses 2.0 by
    /// default; null keeps the exact decomposition).
    /// </summary>
    public static DplrForm LegSDplr(int n, double? bClip = null)
    {
        CheckSize(n, even: true);
        return Diagonalize(LegSA(n), LegSP(n), LegSB(n), bClip);
    }

    /// <summary>
    /// The DPLR form of a real state matrix A whose rank-1 correction A + PPᵀ = w·I + S is a multiple of the identity plus
    /// a skew-symmetric S (HiPPO-LegS, or its transpose). S is diagonalized through the Hermitian matrix −iS in float64
    /// (MathNet): Λ = w + i·μ for the eigenvalues μ of −iS, keeping the N/2 with μ &lt; 0, sorted ascending as s4's
    /// <c>nplr</c> does; B̃ = V*B, P̃ = V*P; Im B̃ clamped to ±<paramref name="bClip"/> when given. Throws when A + PPᵀ is
    /// not of that form (relative error above 1e-9) or N is odd.
    /// </summary>
    public static DplrForm Diagonalize(double[,] a, double[] p, double[] b, double? bClip = null)
    {
        int n = a.GetLength(0);
        CheckSize(n, even: true);
        if (a.GetLength(1) != n || p.Length != n || b.Length != n)
            throw new ArgumentException($"Hippo.Diagonalize: A is {a.GetLength(0)}×{a.GetLength(1)}, P has {p.Length} and B {b.Length} entries; expected N×N, N and N.");
        double w = 0;
        for (int i = 0; i < n; i++) w += (a[i, i] + p[i] * p[i]) / n;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
            {
                double s = a[i, k] + p[i] * p[k], sT = a[k, i] + p[k] * p[i];
                if (Math.Abs(s + sT - (i == k ? 2 * w : 0)) > 1e-9 * (1 + Math.Abs(s)))
                    throw new ArgumentException($"Hippo.Diagonalize: A + PPᵀ is not w·I + skew-symmetric (entries ({i}, {k}) and ({k}, {i})).", nameof(a));
            }
        // −i·S with S = A + PPᵀ − w·I, made exactly Hermitian from the strictly lower triangle.
        var hermitian = Matrix<Complex>.Build.Dense(n, n, (i, k) =>
        {
            if (i == k) return Complex.Zero;
            double s = i > k ? a[i, k] + p[i] * p[k] : -(a[k, i] + p[k] * p[i]);
            return new Complex(0, -s);
        });
        var evd = hermitian.Evd(Symmetricity.Hermitian);
        var order = Enumerable.Range(0, n).OrderBy(i => evd.EigenValues[i].Real).Take(n / 2).ToArray();
        int h = n / 2;
        var lambda = new Complex[h];
        var v = new Complex[n, h];
        for (int j = 0; j < h; j++)
        {
            lambda[j] = new Complex(w, evd.EigenValues[order[j]].Real);
            for (int i = 0; i < n; i++) v[i, j] = evd.EigenVectors[i, order[j]];
        }
        var pt = new Complex[h];
        var bt = new Complex[h];
        for (int j = 0; j < h; j++)
            for (int i = 0; i < n; i++)
            {
                pt[j] += Complex.Conjugate(v[i, j]) * p[i];
                bt[j] += Complex.Conjugate(v[i, j]) * b[i];
            }
        if (bClip is double clip)
            for (int j = 0; j < h; j++) bt[j] = new Complex(bt[j].Real, Math.Clamp(bt[j].Imaginary, -clip, clip));
        return new DplrForm(lambda, pt, bt, v);
    }

    /// <summary>
    /// The S4D-LegS initialization (s4.py <c>dplr(init='legs')</c>): the diagonal A = Λ of <see cref="LegSDplr"/> (real part
    /// −½, negative imaginary parts) and B = B̃ with Im B̃ clipped to ±<paramref name="bClip"/>; P is dropped. s4d.py
    /// stores A with positive imaginary parts (A_imag = −Im Λ); the kernel 2·Re Σ is unchanged when A, B and C are all
    /// conjugated, so use conj(B̃) with that convention.
    /// </summary>
    public static (Complex[] A, Complex[] B) S4DLegS(int n, double bClip = 2.0)
    {
        var dplr = LegSDplr(n, bClip);
        return (dplr.Lambda, dplr.B);
    }

    private static void CheckSize(int n, bool even)
    {
        if (n < 1 || (even && n % 2 != 0))
            throw new ArgumentOutOfRangeException(nameof(n), n, even
                ? $"Hippo: the state size N must be a positive even number (N/2 conjugate pairs), got {n}."
                : $"Hippo: the state size N must be positive, got {n}.");
    }
}
