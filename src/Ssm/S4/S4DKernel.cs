using Ssm.Kernels;

namespace Ssm.S4;

// S4D convolution kernel (Gu, Gupta, Goel, Ré, "On the Parameterization and Initialization of Diagonal State Space
// Models", 2022; state-spaces/s4 models/s4/s4d.py S4DKernel):
//   Δ = exp(log_dt) (or softplus(inv_dt)),  A = −exp(log_A_real) + i·A_imag,  C complex (stored as its real view)
//   ZOH:      K_l = 2·Re Σ_n C_n·(e^{ΔA_n} − 1)/A_n · e^{ΔA_n·l}
//   bilinear: K_l = 2·Re Σ_n C_n·Δ/(1 − ΔA_n/2) · Ā_n^l,  Ā = (1 + ΔA/2)/(1 − ΔA/2)
// The per-mode map (Δ, A, C) → (x, C′) is one fused op with a double-precision backward (F.DiagonalDiscretization), and
// K = 2·Re Σ C′·e^{x·l} is the Vandermonde op (F.Vandermonde): no H×N×L tensor is formed.

/// <summary>
/// The S4D kernel generator (s4d.py <c>S4DKernel</c>): parameters <c>C</c> [H, N/2, 2] (real view of complex; [2, H, N/2, 2]
/// when bidirectional, like s4.py's channels), <c>log_dt</c> [H] (or <c>inv_dt</c> [H] with <see cref="DtTransform.Softplus"/>),
/// <c>log_A_real</c> [H, N/2], <c>A_imag</c> [H, N/2]. B ≡ 1 as in s4d.py; S4D-LegS folds its B̃ into C at
/// initialization (only the product C·B enters the kernel and the recurrence's output). s4d.py's A has positive
/// imaginary parts (A = −exp(log_A_real) + i·A_imag), the conjugate of s4.py's Λ; the real kernel is the same.
/// </summary>
public sealed class S4DKernel : Module
{
    private readonly Variable? _cAsChannels;

    /// <summary>Creates the kernel with the initialization of <paramref name="config"/>, drawn from <paramref name="rng"/>.</summary>
    public S4DKernel(S4DConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        var d = device ?? Device.Default;
        int h = config.DModel, n2 = config.DState / 2, channels = config.Bidirectional ? 2 : 1;
        H = h;
        Modes = n2;
        Channels = channels;
        Discretization = config.Discretization;
        DtTransform = config.DtTransform;

        var (drawnLogDt, c) = SsmKernelInit.DrawDtAndC(h, n2, channels, config.DtMin, config.DtMax, rng);
        var logDt = Array.ConvertAll(drawnLogDt, x => (float)x);
        var (aRe, aIm) = InitialA(config.Init, h, n2, c);

        C = RegisterParameter("C", new Parameter(Tensor.From(c, channels == 1 ? new[] { h, n2, 2 } : new[] { channels, h, n2, 2 }, d)));
        if (config.DtTransform == DtTransform.Exp)
            LogDt = RegisterParameter("log_dt", new Parameter(Tensor.From(logDt, new[] { h }, d)));
        else
            LogDt = RegisterParameter("inv_dt", new Parameter(Tensor.From(logDt.Select(x => (float)SsmKernelInit.InverseSoftplus(Math.Exp(x))).ToArray(), new[] { h }, d)));
        LogAReal = RegisterParameter("log_A_real", new Parameter(Tensor.From(aRe, new[] { h, n2 }, d)));
        AImag = RegisterParameter("A_imag", new Parameter(Tensor.From(aIm, new[] { h, n2 }, d)));
        _cAsChannels = channels == 1 ? null : C;
    }

    /// <summary>Channels H.</summary>
    public int H { get; }
    /// <summary>Stored complex modes N/2 per channel.</summary>
    public int Modes { get; }
    /// <summary>Kernels per channel: 1, or 2 when bidirectional.</summary>
    public int Channels { get; }
    /// <summary>ZOH or bilinear.</summary>
    public Discretization Discretization { get; }
    /// <summary>How Δ is obtained from <see cref="LogDt"/>.</summary>
    public DtTransform DtTransform { get; }

    /// <summary>C: [H, N/2, 2], or [2, H, N/2, 2] when bidirectional (complex as (re, im)).</summary>
    public Parameter C { get; }
    /// <summary>The Δ parameter [H]: <c>log_dt</c> (Δ = exp) or <c>inv_dt</c> (Δ = softplus).</summary>
    public Parameter LogDt { get; }
    /// <summary>ln(−Re A) [H, N/2].</summary>
    public Parameter LogAReal { get; }
    /// <summary>Im A [H, N/2].</summary>
    public Parameter AImag { get; }

    /// <summary>The parameters that train with the SSM learning rate and no weight decay (s4d.py's <c>register(..., lr)</c>): Δ, log_A_real, A_imag.</summary>
    public IReadOnlyList<Parameter> SsmParameters => new[] { LogDt, LogAReal, AImag };

    /// <summary>The convolution kernel K [channels, H, L] (channels = 2 when bidirectional: causal, then anti-causal).</summary>
    public Variable Forward(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, $"S4DKernel.Forward: the kernel length L must be positive, got {length}.");
        var (x, cPrime) = Discretize();
        int h = H, n2 = Modes;
        if (Channels == 1) return F.Reshape(F.Vandermonde(x, F.Reshape(cPrime, h, n2, 2), length), 1, h, length);
        var modes = F.Concat(Enumerable.Repeat(x, Channels).ToList(), 0);
        return F.Reshape(F.Vandermonde(modes, F.Reshape(cPrime, Channels * h, n2, 2), length), Channels, h, length);
    }

    /// <summary>Δ [H] from its parameter.</summary>
    internal Variable Dt() => DtTransform == DtTransform.Exp ? F.Exp(LogDt) : F.Softplus(LogDt);

    /// <summary>(x, C′) of every mode: x [H, N/2, 2], C′ [channels, H, N/2, 2].</summary>
    private (Variable X, Variable CPrime) Discretize()
    {
        var c = _cAsChannels ?? F.Reshape(C, 1, H, Modes, 2);
        return F.DiagonalDiscretization(Dt(), F.Neg(F.Exp(LogAReal)), AImag, c, Discretization);
    }

    /// <summary>
    /// The recurrence's constants for the current parameters (no autograd): log Ā [H, N/2, 2], B̄ [H, N/2, 2] (B = 1) and
    /// C [H, N/2, 2] of the causal kernel.
    /// </summary>
    internal (Tensor LogABar, Tensor BBar, Tensor C) StepParameters()
    {
        using var noGrad = Autograd.NoGrad();
        var dt = Dt().Data;
        var aRe = Elementwise.Scale(Elementwise.Unary(UnaryOp.Exp, LogAReal.Data), -1f);
        var (x, g) = SsmDiscretization.Diagonal(dt, aRe, AImag.Data, null, Discretization);
        var c = Channels == 1 ? C.Data : C.Data.Slice(0, 1);
        return (x, g.Reshape(H, Modes, 2), c.Reshape(H, Modes, 2));
    }

    private static (float[] ARe, float[] AIm) InitialA(S4DInit init, int h, int n2, float[] c)
    {
        var aRe = new float[h * n2];
        var aIm = new float[h * n2];
        int n = 2 * n2;
        var legs = init == S4DInit.LegS ? Hippo.S4DLegS(n) : default;
        for (int k = 0; k < n2; k++)
        {
            double re = Math.Log(0.5), im;
            switch (init)
            {
                case S4DInit.Lin: im = Math.PI * k; break;
                case S4DInit.Inv: im = n / Math.PI * (n / (2.0 * k + 1) - 1); break;
                case S4DInit.Real: re = Math.Log(k + 1.0); im = 0; break;
                default:
                    re = Math.Log(-legs.A[k].Real);
                    im = -legs.A[k].Imaginary;
                    break;
            }
            for (int i = 0; i < h; i++)
            {
                aRe[i * n2 + k] = (float)re;
                aIm[i * n2 + k] = (float)im;
            }
        }
        if (init == S4DInit.LegS)
        {
            // A = conj Λ (positive imaginary parts), so B = conj B̃; fold it into C.
            for (int m = 0; m < c.Length / 2; m++)
            {
                var v = new System.Numerics.Complex(c[2 * m], c[2 * m + 1]) * System.Numerics.Complex.Conjugate(legs.B[m % n2]);
                c[2 * m] = (float)v.Real;
                c[2 * m + 1] = (float)v.Imaginary;
            }
        }
        return (aRe, aIm);
    }

    /// <inheritdoc />
    public override string ToString() => $"S4DKernel(H={H}, N={2 * Modes}, channels={Channels}, {Discretization}, Δ={DtTransform})";
}
