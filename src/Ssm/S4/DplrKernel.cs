using System.Numerics;
using MathNet.Numerics.LinearAlgebra;
using Vector = MathNet.Numerics.LinearAlgebra.Vector<System.Numerics.Complex>;
using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>
/// The S4 convolution kernel of a DPLR state matrix A = diag(Λ) − P̃P̃* with bilinear discretization (Gu et al.,
/// "Efficiently Modeling Long Sequences with Structured State Spaces"; state-spaces/s4 models/s4/s4.py
/// <c>SSMKernelDPLR</c>). Modes are stored as N/2 conjugate-pair halves (full state N: [x; conj x]). Conventions:
/// <list type="bullet">
/// <item>Ā = (I − Δ/2·A)⁻¹(I + Δ/2·A), B̄ = Δ·(I − Δ/2·A)⁻¹B and K_l = Cᵀ Ā^l B̄ (C is not conjugated: a bilinear form,
/// like s4.py's contractions).</item>
/// <item>C̃ = (I − Ā^L)ᵀ C, so that Σ_{l&lt;L} K_l ω^l = C̃ᵀ(I − Āω)⁻¹B̄ for ω^L = 1 (done once per length, on the host).</item>
/// <item>At ω_k = e^{−2πik/L}, k = 0..L/2: K̂_k = (2/(1+ω_k))·(r00 − r01·r10/(1 + r11)) with the Cauchy sums
/// r_ab = Σ_n Δ·v_ab,n/(z_k − Δ·Λ_n) + conj pair, z_k = 2(1−ω_k)/(1+ω_k), v = [C̃B̃, C̃P̃, conj(P̃)B̃, conj(P̃)P̃]
/// (Δ folded into the poles and coefficients as s4.py does, so the nodes are shared by all channels).</item>
/// <item>K = irfft(K̂, L). The layer uses the FFT op family for this; <see cref="InverseRealDft"/> is an O(L²) float64
/// reference for tests and host-side checks.</item>
/// </list>
/// Host methods take <see cref="Complex"/> arrays and compute in float64 (N×N dense algebra with MathNet for the
/// discretization and C̃); <see cref="FrequencyResponse(Tensor, Tensor, Tensor, Tensor, Tensor, int)"/> evaluates K̂ for H
/// channels on a device with the <see cref="Cauchy"/> ops.
/// </summary>
public static class DplrKernel
{
    /// <summary>Number of frequencies of a length-L real kernel: L/2 + 1.</summary>
    public static int FrequencyCount(int length) => length / 2 + 1;

    /// <summary>ω_k = e^{−2πik/L}, z_k = 2(1−ω_k)/(1+ω_k) and scale_k = 2/(1+ω_k) for k = 0..L/2 (float64).</summary>
    public static (Complex[] Omega, Complex[] Z, Complex[] Scale) Nodes(int length)
    {
        CheckLength(length);
        int k = FrequencyCount(length);
        var omega = new Complex[k];
        var z = new Complex[k];
        var scale = new Complex[k];
        for (int i = 0; i < k; i++)
        {
            omega[i] = Complex.Exp(new Complex(0, -2 * Math.PI * i / length));
            // At ω = −1 (even L) cos π = −1 exactly but sin π ≈ 1.2e-16, so 1 + ω ≠ 0: z ≈ 3e16·i and scale ≈ 1.6e16·i,
            // whose product with the Cauchy sums (~1/z) is the finite limit.
            scale[i] = 2 / (1 + omega[i]);
            z[i] = (1 - omega[i]) * scale[i];
        }
        return (omega, z, scale);
    }

    /// <summary>The full-state matrix diag(Λ, conj Λ) − p_f·p_f* (N × N, p_f = [P̃; conj P̃]).</summary>
    public static Complex[,] FullStateMatrix(Complex[] lambda, Complex[] p) => StateMatrix(lambda, p).ToArray();

    /// <summary>
    /// Bilinear discretization of the full state: Ā = (I − Δ/2·A)⁻¹(I + Δ/2·A) (N × N) and B̄ = Δ·(I − Δ/2·A)⁻¹·[B̃; conj B̃].
    /// </summary>
    public static (Complex[,] ABar, Complex[] BBar) DiscretizeBilinear(Complex[] lambda, Complex[] p, Complex[] b, double dt)
    {
        CheckModes(lambda, p, b, null);
        var (aBar, bBar) = Bilinear(lambda, p, b, dt);
        return (aBar.ToArray(), bBar.ToArray());
    }

    /// <summary>C̃ = (I − Ā^L)ᵀ·[C; conj C], returned as its first N/2 entries (the result is a conjugate-pair vector).</summary>
    public static Complex[] CTilde(Complex[] lambda, Complex[] p, Complex[] b, Complex[] c, double dt, int length)
    {
        CheckModes(lambda, p, b, c);
        CheckLength(length);
        var m = TruncationMatrix(lambda, p, b, dt, length);
        return (m.Transpose() * Vector.Build.DenseOfArray(DplrForm.Full(c))).Take(c.Length).ToArray();
    }

    /// <summary>
    /// C̃ for length 2L from C̃ for length L without going back to C: I − Ā^{2L} = (I − Ā^L)(I + Ā^L), so
    /// C̃_{2L} = (I + Ā^L)ᵀ·C̃_L (s4.py <c>_setup_C</c> with <c>double_length</c>).
    /// </summary>
    public static Complex[] DoubleLength(Complex[] lambda, Complex[] p, Complex[] b, Complex[] cTilde, double dt, int length)
    {
        CheckModes(lambda, p, b, cTilde);
        CheckLength(length);
        var (aBar, _) = Bilinear(lambda, p, b, dt);
        var m = Matrix<Complex>.Build.DenseIdentity(aBar.RowCount) + aBar.Power(length);
        return (m.Transpose() * Vector.Build.DenseOfArray(DplrForm.Full(cTilde))).Take(cTilde.Length).ToArray();
    }

    /// <summary>The inverse of <see cref="CTilde"/>: C solving (I − Ā^L)ᵀ·[C; conj C] = [C̃; conj C̃] (the recurrence's C).</summary>
    public static Complex[] CFromCTilde(Complex[] lambda, Complex[] p, Complex[] b, Complex[] cTilde, double dt, int length)
    {
        CheckModes(lambda, p, b, cTilde);
        CheckLength(length);
        var m = TruncationMatrix(lambda, p, b, dt, length);
        return m.Transpose().Solve(Vector.Build.DenseOfArray(DplrForm.Full(cTilde))).Take(cTilde.Length).ToArray();
    }

    /// <summary>K̂_k, k = 0..L/2, in float64 by the Cauchy sums and the Woodbury identity (see the class summary).</summary>
    public static Complex[] FrequencyResponse(Complex[] lambda, Complex[] p, Complex[] b, Complex[] cTilde, double dt, int length)
    {
        CheckModes(lambda, p, b, cTilde);
        CheckLength(length);
        Guard.Positive("DplrKernel.FrequencyResponse", nameof(dt), dt);
        var (_, z, scale) = Nodes(length);
        var v = Coefficients(lambda, p, b, cTilde);
        var result = new Complex[z.Length];
        for (int k = 0; k < z.Length; k++)
        {
            var r = new Complex[4];
            for (int n = 0; n < lambda.Length; n++)
            {
                var w = dt * lambda[n];
                for (int a = 0; a < 4; a++)
                {
                    var vn = dt * v[a][n];
                    r[a] += vn / (z[k] - w) + Complex.Conjugate(vn) / (z[k] - Complex.Conjugate(w));
                }
            }
            result[k] = scale[k] * (r[0] - r[1] * r[2] / (1 + r[3]));
        }
        return result;
    }

    /// <summary>K (length L) in float64: <see cref="InverseRealDft"/> of <see cref="FrequencyResponse(Complex[], Complex[], Complex[], Complex[], double, int)"/>.</summary>
    public static double[] Kernel(Complex[] lambda, Complex[] p, Complex[] b, Complex[] cTilde, double dt, int length)
        => InverseRealDft(FrequencyResponse(lambda, p, b, cTilde, dt, length), length);

    /// <summary>
    /// K̂ for H channels on the device of the inputs: [H, L/2+1, 2] (complex as (re, im)). The Cauchy coefficients
    /// Δ_h·v_ab and poles Δ_h·Λ are formed on the host in float64 from host copies of the (small, [H, N/2, 2]) inputs,
    /// then <see cref="Cauchy.Multiply"/> and <see cref="Cauchy.WoodburyRank1"/> run on the device.
    /// </summary>
    /// <param name="lambda">[H, N2, 2]: Λ.</param>
    /// <param name="p">[H, N2, 2]: P̃.</param>
    /// <param name="b">[H, N2, 2]: B̃.</param>
    /// <param name="cTilde">[H, N2, 2]: C̃ (see <see cref="CTilde"/>).</param>
    /// <param name="dt">[H]: Δ per channel.</param>
    /// <param name="length">L.</param>
    public static Tensor FrequencyResponse(Tensor lambda, Tensor p, Tensor b, Tensor cTilde, Tensor dt, int length)
    {
        const string op = "DplrKernel.FrequencyResponse";
        Guard.Shape(op, lambda, "lambda", new[] { -1, -1, 2 }, "[H, N2, 2] (complex as (re, im))");
        int h = lambda.Size(0), n2 = lambda.Size(1);
        foreach (var (t, name) in new[] { (p, "p"), (b, "b"), (cTilde, "cTilde") })
        {
            Guard.SameDevice(op, lambda, "lambda", t, name);
            Guard.Shape(op, t, name, lambda.Shape, "(the shape of lambda: [H, N2, 2])");
        }
        Guard.SameDevice(op, lambda, "lambda", dt, "dt");
        Guard.Shape(op, dt, "dt", new[] { h }, "[H]");
        CheckLength(length);
        float[] la = lambda.ToArray(), pa = p.ToArray(), ba = b.ToArray(), ca = cTilde.ToArray(), da = dt.ToArray();
        var v = new float[4 * h * n2 * 2];
        var w = new float[h * n2 * 2];
        for (int i = 0; i < h; i++)
        {
            Guard.Positive(op, $"dt[{i}]", da[i]);
            for (int n = 0; n < n2; n++)
            {
                int m = i * n2 + n;
                Complex At(float[] x) => new(x[2 * m], x[2 * m + 1]);
                Complex bn = At(ba), pn = At(pa), cn = At(ca);
                Set(w, m, da[i] * At(la));
                var coefficients = new[] { cn * bn, cn * pn, Complex.Conjugate(pn) * bn, Complex.Conjugate(pn) * pn };
                for (int a = 0; a < 4; a++) Set(v, a * h * n2 + m, da[i] * coefficients[a]);
            }
        }
        var (_, z, scale) = Nodes(length);
        int k = z.Length;
        var device = lambda.Device;
        using var vt = Tensor.From(v, new[] { 4, h, n2, 2 }, device);
        using var wt = Tensor.From(w, new[] { h, n2, 2 }, device);
        using var zt = Tensor.From(Interleave(z), new[] { k, 2 }, device);
        using var st = Tensor.From(Interleave(scale), new[] { k, 2 }, device);
        using var r = Cauchy.Multiply(vt, wt, zt);
        return Cauchy.WoodburyRank1(r, st);
    }

    /// <summary>
    /// x_l = (1/L)·(Re X_0 + 2·Σ_{0&lt;k&lt;L/2} Re(X_k·e^{2πikl/L}) + Re X_{L/2}·(−1)^l [L even]), l &lt; L: the inverse of a real
    /// signal's DFT from its L/2+1 non-negative frequencies (torch.fft.irfft with n = L), O(L²) in float64.
    /// </summary>
    public static double[] InverseRealDft(Complex[] spectrum, int length)
    {
        CheckLength(length);
        if (spectrum.Length != FrequencyCount(length))
            throw new ArgumentException($"DplrKernel.InverseRealDft: spectrum has {spectrum.Length} entries, expected L/2+1 = {FrequencyCount(length)} for L = {length}.", nameof(spectrum));
        var x = new double[length];
        for (int l = 0; l < length; l++)
        {
            double sum = spectrum[0].Real;
            for (int k = 1; k < spectrum.Length; k++)
            {
                double angle = 2 * Math.PI * ((long)k * l % length) / length;
                double term = spectrum[k].Real * Math.Cos(angle) - spectrum[k].Imaginary * Math.Sin(angle);
                sum += 2 * k == length ? term : 2 * term;
            }
            x[l] = sum / length;
        }
        return x;
    }

    private static Complex[][] Coefficients(Complex[] lambda, Complex[] p, Complex[] b, Complex[] c)
    {
        int h = lambda.Length;
        var v = new Complex[4][];
        for (int a = 0; a < 4; a++) v[a] = new Complex[h];
        for (int n = 0; n < h; n++)
        {
            v[0][n] = c[n] * b[n];
            v[1][n] = c[n] * p[n];
            v[2][n] = Complex.Conjugate(p[n]) * b[n];
            v[3][n] = Complex.Conjugate(p[n]) * p[n];
        }
        return v;
    }

    private static Matrix<Complex> StateMatrix(Complex[] lambda, Complex[] p)
    {
        Complex[] lf = DplrForm.Full(lambda), pf = DplrForm.Full(p);
        return Matrix<Complex>.Build.Dense(lf.Length, lf.Length, (i, j) => (i == j ? lf[i] : Complex.Zero) - pf[i] * Complex.Conjugate(pf[j]));
    }

    private static (Matrix<Complex> ABar, Vector BBar) Bilinear(Complex[] lambda, Complex[] p, Complex[] b, double dt)
    {
        Guard.Positive("DplrKernel.DiscretizeBilinear", nameof(dt), dt);
        var a = StateMatrix(lambda, p);
        var identity = Matrix<Complex>.Build.DenseIdentity(a.RowCount);
        var backward = (identity - a * (dt / 2)).Inverse();
        return (backward * (identity + a * (dt / 2)), backward * Vector.Build.DenseOfArray(DplrForm.Full(b)) * dt);
    }

    /// <summary>I − Ā^L (full state).</summary>
    private static Matrix<Complex> TruncationMatrix(Complex[] lambda, Complex[] p, Complex[] b, double dt, int length)
    {
        var (aBar, _) = Bilinear(lambda, p, b, dt);
        return Matrix<Complex>.Build.DenseIdentity(aBar.RowCount) - aBar.Power(length);
    }

    private static void Set(float[] x, int m, Complex value)
    {
        x[2 * m] = (float)value.Real;
        x[2 * m + 1] = (float)value.Imaginary;
    }

    private static float[] Interleave(Complex[] values)
    {
        var x = new float[2 * values.Length];
        for (int i = 0; i < values.Length; i++) Set(x, i, values[i]);
        return x;
    }

    private static void CheckModes(Complex[] lambda, Complex[] p, Complex[] b, Complex[]? c)
    {
        foreach (var (x, name) in new[] { (p, "p"), (b, "b"), (c, "c") })
            if (x is not null && x.Length != lambda.Length)
                throw new ArgumentException($"DplrKernel: {name} has {x.Length} modes, expected {lambda.Length} like lambda.", name);
    }

    private static void CheckLength(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, $"DplrKernel: the kernel length L must be positive, got {length}.");
    }
}
