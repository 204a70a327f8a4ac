using System.Numerics;
using Ssm.Kernels;

namespace Ssm.S4;

// S4 (DPLR) convolution kernel (Gu, Goel, Ré, "Efficiently Modeling Long Sequences with Structured State Spaces", 2022;
// state-spaces/s4 models/s4/s4.py SSMKernelDPLR), bilinear discretization of A = Λ − P̃P̃*:
//   Δ = exp(inv_dt) (or softplus),  Λ = −exp(A_real) − i·A_imag
//   w = Δ·Λ, v = Δ·[C̃B̃, C̃P̃, conj(P̃)B̃, conj(P̃)P̃]                       (F.DplrCauchyInputs, fused, with backward)
//   r_ab(z_k) = Σ_n v_ab/(z_k − w) + conj pair, z_k = 2(1 − ω_k)/(1 + ω_k)  (F.Cauchy)
//   K̂_k = 2/(1 + ω_k)·(r00 − r01·r10/(1 + r11))                            (F.WoodburyRank1)
//   K = irfft(K̂, l_kernel)[:L]                                              (F.Irfft)
// C̃ = (I − Ā^{l_kernel})ᵀC is the trainable parameter; it is set up on the host in float64 (DplrKernel) at the first
// forward pass and re-derived when a longer kernel is needed (length doubling, C̃_{2L} = (I + Ā^L)ᵀC̃_L), as s4.py does.

/// <summary>
/// The S4 DPLR kernel generator with s4.py's parameter names and shapes: <c>inv_dt</c> [H, 1], <c>C</c> [channels, H, N/2, 2]
/// (C̃ once set up), <c>B</c> [1, H, N/2, 2], <c>A_real</c> [H, N/2] (ln(−Re Λ)), <c>A_imag</c> [H, N/2] (−Im Λ),
/// <c>P</c> [1, H, N/2, 2], and the buffer <c>l_kernel</c> (int64 scalar; 0 while <c>C</c> still holds C). Complex
/// values are real views (re, im). Every parameter gets gradients through the Cauchy/Woodbury path.
/// </summary>
public sealed class S4Kernel : Module
{
    private readonly ModuleBuffer _lKernel;
    private readonly Dictionary<int, (Tensor Z, Tensor Scale)> _nodes = new();

    /// <summary>Creates the kernel with the HiPPO-LegS initialization (s4.py <c>nplr('legs')</c>) and C ~ complex normal, from <paramref name="rng"/>.</summary>
    public S4Kernel(S4Config config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        var d = device ?? Device.Default;
        int h = config.DModel, n2 = config.DState / 2, channels = config.Bidirectional ? 2 : 1;
        H = h;
        Modes = n2;
        Channels = channels;
        DtTransform = config.DtTransform;
        LMax = config.LMax;

        var (logDt, c) = SsmKernelInit.DrawDtAndC(h, n2, channels, config.DtMin, config.DtMax, rng);
        var invDt = Array.ConvertAll(logDt, x => (float)(config.DtTransform == DtTransform.Exp ? x : SsmKernelInit.InverseSoftplus(Math.Exp(x))));
        var dplr = Hippo.LegSDplr(config.DState, config.BClip);
        float[] aRe = new float[h * n2], aIm = new float[h * n2], b = new float[h * n2 * 2], p = new float[h * n2 * 2];
        for (int i = 0; i < h; i++)
            for (int n = 0; n < n2; n++)
            {
                int m = i * n2 + n;
                aRe[m] = (float)Math.Log(-dplr.Lambda[n].Real);
                aIm[m] = (float)-dplr.Lambda[n].Imaginary;
                (b[2 * m], b[2 * m + 1]) = ((float)dplr.B[n].Real, (float)dplr.B[n].Imaginary);
                (p[2 * m], p[2 * m + 1]) = ((float)dplr.P[n].Real, (float)dplr.P[n].Imaginary);
            }
        InvDt = RegisterParameter("inv_dt", new Parameter(Tensor.From(invDt, new[] { h, 1 }, d)));
        C = RegisterParameter("C", new Parameter(Tensor.From(c, new[] { channels, h, n2, 2 }, d)));
        B = RegisterParameter("B", new Parameter(Tensor.From(b, new[] { 1, h, n2, 2 }, d)));
        AReal = RegisterParameter("A_real", new Parameter(Tensor.From(aRe, new[] { h, n2 }, d)));
        AImag = RegisterParameter("A_imag", new Parameter(Tensor.From(aIm, new[] { h, n2 }, d)));
        P = RegisterParameter("P", new Parameter(Tensor.From(p, new[] { 1, h, n2, 2 }, d)));
        _lKernel = RegisterBuffer("l_kernel", Tensor.From(new long[] { 0 }, Array.Empty<int>(), d));
    }

    /// <summary>Channels H.</summary>
    public int H { get; }
    /// <summary>Stored complex modes N/2 per channel.</summary>
    public int Modes { get; }
    /// <summary>Kernels per channel: 1, or 2 when bidirectional.</summary>
    public int Channels { get; }
    /// <summary>How Δ is obtained from <see cref="InvDt"/>.</summary>
    public DtTransform DtTransform { get; }
    /// <summary>The length C̃ is set up for at the first forward pass when given (else the first input's length).</summary>
    public int? LMax { get; }

    /// <summary>The Δ parameter [H, 1] (Δ = exp or softplus of it).</summary>
    public Parameter InvDt { get; }
    /// <summary>C̃ [channels, H, N/2, 2] (C while <see cref="KernelLength"/> is 0).</summary>
    public Parameter C { get; }
    /// <summary>B̃ [1, H, N/2, 2].</summary>
    public Parameter B { get; }
    /// <summary>ln(−Re Λ) [H, N/2].</summary>
    public Parameter AReal { get; }
    /// <summary>−Im Λ [H, N/2].</summary>
    public Parameter AImag { get; }
    /// <summary>P̃ [1, H, N/2, 2] (rank 1).</summary>
    public Parameter P { get; }

    /// <summary>The parameters that train with the SSM learning rate and no weight decay (s4.py <c>lr: {dt, A, B}</c>, <c>wd: 0</c>): inv_dt, A_real, A_imag, B, P.</summary>
    public IReadOnlyList<Parameter> SsmParameters => new[] { InvDt, AReal, AImag, B, P };

    /// <summary>The length C̃ currently corresponds to (s4.py's <c>l_kernel</c>); 0 before the first forward pass.</summary>
    public int KernelLength => checked((int)_lKernel.Data.ToInt64Array()[0]);

    /// <summary>
    /// The convolution kernel K [channels, H, L]. Sets C̃ up for <see cref="LMax"/> (or L) on the first call and doubles
    /// its length until it covers L (host float64, no autograd); the kernel is computed at that length and truncated.
    /// </summary>
    public Variable Forward(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, $"S4Kernel.Forward: the kernel length L must be positive, got {length}.");
        int lk = EnsureLength(length);
        var (z, scale) = Nodes(lk);
        var (w, v) = F.DplrCauchyInputs(Dt(), F.Neg(F.Exp(AReal)), F.Neg(AImag), F.Reshape(P, H, Modes, 2), F.Reshape(B, H, Modes, 2), C);
        var k = F.Irfft(F.WoodburyRank1(F.Cauchy(v, w, z), scale), lk);
        if (lk > length) k = F.Narrow(k, 1, 0, length);
        return F.Reshape(k, Channels, H, length);
    }

    /// <summary>Δ [H].</summary>
    internal Variable Dt()
    {
        var x = F.Reshape(InvDt, H);
        return DtTransform == DtTransform.Exp ? F.Exp(x) : F.Softplus(x);
    }

    /// <summary>The recurrence's inputs for the current parameters (no autograd): Δ [H], Re Λ, Im Λ [H, N/2], P̃, B̃ [H, N/2, 2].</summary>
    internal (Tensor Dt, Tensor AReal, Tensor AImag, Tensor P, Tensor B) StepParameters()
    {
        using var noGrad = Autograd.NoGrad();
        return (Dt().Data, F.Neg(F.Exp(AReal)).Data, F.Neg(AImag).Data, P.Data.Reshape(H, Modes, 2), B.Data.Reshape(H, Modes, 2));
    }

    /// <summary>
    /// The recurrence's C [H, N/2, 2] of the causal kernel: C̃ solved back through (I − Ā^{l_kernel})ᵀ on the host
    /// (<see cref="DplrKernel.CFromCTilde"/>), or C itself before set-up.
    /// </summary>
    internal Tensor StepC()
    {
        int lk = KernelLength;
        var host = Host();
        var cTilde = C.Data.ToArray();
        var result = new float[H * Modes * 2];
        Parallel.For(0, H, i =>
        {
            var ct = ToComplex(cTilde, i * Modes, Modes);
            var c = lk == 0 ? ct : DplrKernel.CFromCTilde(host.Lambda[i], host.P[i], host.B[i], ct, host.Dt[i], lk);
            Store(result, i * Modes, c);
        });
        return Tensor.From(result, new[] { H, Modes, 2 }, C.Device);
    }

    /// <summary>Sets C̃ up for a kernel of at least <paramref name="length"/> and returns the kernel length.</summary>
    private int EnsureLength(int length)
    {
        int lk = KernelLength;
        if (lk == 0)
        {
            lk = LMax ?? length;
            SetupC(lk, doubling: false);
        }
        while (lk < length)
        {
            SetupC(lk, doubling: true);
            lk *= 2;
        }
        return lk;
    }

    /// <summary>C̃ ← (I − Ā^L)ᵀC (fresh) or (I + Ā^L)ᵀC̃ (doubling from L to 2L), in place; updates <c>l_kernel</c>.</summary>
    private void SetupC(int length, bool doubling)
    {
        var host = Host();
        var c = C.Data.ToArray();
        Parallel.For(0, Channels * H, row =>
        {
            int i = row % H;
            var cv = ToComplex(c, row * Modes, Modes);
            var result = doubling
                ? DplrKernel.DoubleLength(host.Lambda[i], host.P[i], host.B[i], cv, host.Dt[i], length)
                : DplrKernel.CTilde(host.Lambda[i], host.P[i], host.B[i], cv, host.Dt[i], length);
            Store(c, row * Modes, result);
        });
        C.Data.CopyFromHost<float>(c);
        _lKernel.Data.CopyFromHost<long>(new long[] { doubling ? 2L * length : length });
    }

    /// <summary>Per-channel Λ, P̃, B̃ and Δ on the host (float64 from the float32 parameters).</summary>
    private (Complex[][] Lambda, Complex[][] P, Complex[][] B, double[] Dt) Host()
    {
        float[] invDt = InvDt.Data.ToArray(), aRe = AReal.Data.ToArray(), aIm = AImag.Data.ToArray(), p = P.Data.ToArray(), b = B.Data.ToArray();
        var lambda = new Complex[H][];
        var ps = new Complex[H][];
        var bs = new Complex[H][];
        var dt = new double[H];
        for (int i = 0; i < H; i++)
        {
            dt[i] = DtTransform == DtTransform.Exp ? Math.Exp(invDt[i]) : Softplus(invDt[i]);
            lambda[i] = Enumerable.Range(0, Modes).Select(n => new Complex(-Math.Exp(aRe[i * Modes + n]), -aIm[i * Modes + n])).ToArray();
            ps[i] = ToComplex(p, i * Modes, Modes);
            bs[i] = ToComplex(b, i * Modes, Modes);
        }
        return (lambda, ps, bs, dt);
    }

    private static double Softplus(double x) => x > 20 ? x : Math.Log(1 + Math.Exp(x));

    private static Complex[] ToComplex(float[] x, int start, int count)
        => Enumerable.Range(start, count).Select(m => new Complex(x[2 * m], x[2 * m + 1])).ToArray();

    private static void Store(float[] x, int start, Complex[] values)
    {
        for (int n = 0; n < values.Length; n++)
        {
            x[2 * (start + n)] = (float)values[n].Real;
            x[2 * (start + n) + 1] = (float)values[n].Imaginary;
        }
    }

    /// <summary>The Cauchy nodes z [K, 2] and Woodbury factors 2/(1 + ω) [K, 2] for length L (cached per length on this device).</summary>
    private (Tensor Z, Tensor Scale) Nodes(int length)
    {
        var device = C.Device;
        if (_nodes.TryGetValue(length, out var cached) && cached.Z.Device == device) return cached;
        if (_nodes.Remove(length, out var stale)) { stale.Z.Dispose(); stale.Scale.Dispose(); }
        var (_, z, scale) = DplrKernel.Nodes(length);
        float[] Interleave(Complex[] x) => x.SelectMany(v => new[] { (float)v.Real, (float)v.Imaginary }).ToArray();
        var entry = (Tensor.From(Interleave(z), new[] { z.Length, 2 }, device).DetachFromScope(),
            Tensor.From(Interleave(scale), new[] { z.Length, 2 }, device).DetachFromScope());
        _nodes[length] = entry;
        return entry;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var (z, s) in _nodes.Values) { z.Dispose(); s.Dispose(); }
            _nodes.Clear();
        }
        base.Dispose(disposing);
    }

    /// <inheritdoc />
    public override string ToString() => $"S4Kernel(H={H}, N={2 * Modes}, channels={Channels}, l_kernel={KernelLength})";
}
