namespace Ssm.Kernels;

/// <summary>How a diagonal SSM mode is discretized (Gu et al., S4D paper, section 2; state-spaces/s4 models/s4/s4.py <c>SSMKernelDiag</c>).</summary>
public enum Discretization
{
    /// <summary>Zero-order hold: Ā = e^{ΔA}, B̄ = (e^{ΔA} − 1)/A·B.</summary>
    Zoh,
    /// <summary>Bilinear (Tustin): Ā = (1 + ΔA/2)/(1 − ΔA/2), B̄ = Δ/(1 − ΔA/2)·B.</summary>
    Bilinear,
}

/// <summary>Gradients of <see cref="SsmDiscretization.Diagonal"/>.</summary>
/// <param name="DDt">[H].</param>
/// <param name="DAReal">[H, N2].</param>
/// <param name="DAImag">[H, N2].</param>
/// <param name="DC">[channels, H, N2, 2], or null when no c was given.</param>
public readonly record struct DiagonalDiscretizationGradients(Tensor DDt, Tensor DAReal, Tensor DAImag, Tensor? DC);

/// <summary>Gradients of <see cref="SsmDiscretization.DplrCauchyInputs"/>.</summary>
/// <param name="DDt">[H].</param>
/// <param name="DAReal">[H, N2] (of Re Λ).</param>
/// <param name="DAImag">[H, N2] (of Im Λ).</param>
/// <param name="DP">[H, N2, 2].</param>
/// <param name="DB">[H, N2, 2].</param>
/// <param name="DC">[channels, H, N2, 2].</param>
public readonly record struct DplrCauchyInputGradients(Tensor DDt, Tensor DAReal, Tensor DAImag, Tensor DP, Tensor DB, Tensor DC);

/// <summary>
/// The parameter-to-kernel-input maps of S4D and S4 (Gu et al., "On the Parameterization and Initialization of Diagonal
/// State Space Models" and "Efficiently Modeling Long Sequences with Structured State Spaces"; state-spaces/s4
/// models/s4/s4d.py, s4.py), fused per mode with hand-written backward passes. Complex numbers are float pairs
/// (re, im) in a trailing dimension of size 2; A and Λ come as separate real and imaginary parts [H, N2] (the layers
/// build them from their parameters, e.g. Re A = −exp(log_A_real)). The per-mode math runs in double precision
/// (<see cref="SsmDiscretizationMath"/>), so small and large |ΔA| and decays far below float range are handled without
/// cancellation or NaN (e^{ΔA} underflows to 0).
/// <list type="bullet">
/// <item><see cref="Diagonal"/> (S4D): x = ΔA (ZOH) or log Ā (bilinear) and C′ = C·g with g = (e^{ΔA} − 1)/A (ZOH) or
/// Δ/(1 − ΔA/2) (bilinear), so that K_l = 2·Re Σ_n C′_n·e^{x_n·l} (<see cref="Vandermonde.Kernel"/>).</item>
/// <item><see cref="DplrCauchyInputs"/> (S4): the poles w = Δ·Λ and coefficients v = Δ·[C̃B̃, C̃P̃, conj(P̃)B̃, conj(P̃)P̃]
/// of the four Cauchy sums of the DPLR kernel (<see cref="Cauchy.Multiply"/>, then <see cref="Cauchy.WoodburyRank1"/>).</item>
/// </list>
/// </summary>
public static class SsmDiscretization
{
    /// <summary>
    /// Discretizes N2 diagonal modes per channel: x [H, N2, 2] and C′ = C·g [channels, H, N2, 2] (g itself, as
    /// [1, H, N2, 2], when <paramref name="c"/> is null — B̄ for B = 1, what the recurrent step uses).
    /// </summary>
    /// <param name="dt">[H]: Δ per channel (positive).</param>
    /// <param name="aReal">[H, N2]: Re A.</param>
    /// <param name="aImag">[H, N2]: Im A.</param>
    /// <param name="c">[channels, H, N2, 2]: C (complex), or null.</param>
    /// <param name="method">ZOH or bilinear.</param>
    public static (Tensor X, Tensor CPrime) Diagonal(Tensor dt, Tensor aReal, Tensor aImag, Tensor? c, Discretization method)
    {
        var (h, n2, channels) = CheckDiagonal("SsmDiscretization.Diagonal", dt, aReal, aImag, c);
        var x = Tensor.Empty(new[] { h, n2, 2 }, DType.Float32, dt.Device);
        var cPrime = Tensor.Empty(new[] { channels, h, n2, 2 }, DType.Float32, dt.Device);
        if (x.Length == 0) return (x, cPrime);
        int bilinear = method == Discretization.Bilinear ? 1 : 0;
        if (dt.Device.IsIlgpu) SsmDiscretizationGpu.Diagonal(dt, aReal, aImag, c, x, cPrime, h, n2, channels, bilinear);
        else SsmDiscretizationCpu.Diagonal(dt, aReal, aImag, c, x, cPrime, h, n2, channels, bilinear);
        return (x, cPrime);
    }

    /// <summary>
    /// The backward of <see cref="Diagonal"/> given the gradients of x and of C′ (either may be null: not used by the
    /// loss). Gradients of complex quantities are real-view gradients (∂L/∂re, ∂L/∂im).
    /// </summary>
    public static DiagonalDiscretizationGradients DiagonalBackward(Tensor dt, Tensor aReal, Tensor aImag, Tensor? c,
        Discretization method, Tensor? dX, Tensor? dCPrime)
    {
        const string op = "SsmDiscretization.DiagonalBackward";
        var (h, n2, channels) = CheckDiagonal(op, dt, aReal, aImag, c);
        var device = dt.Device;
        using var zeroX = dX is null ? Tensor.Zeros(new[] { h, n2, 2 }, DType.Float32, device) : null;
        using var zeroC = dCPrime is null ? Tensor.Zeros(new[] { channels, h, n2, 2 }, DType.Float32, device) : null;
        var gx = dX ?? zeroX!;
        var gc = dCPrime ?? zeroC!;
        CheckGradient(op, dt, gx, "dX", new[] { h, n2, 2 }, "[H, N2, 2] (the shape of x)");
        CheckGradient(op, dt, gc, "dCPrime", new[] { channels, h, n2, 2 }, "[channels, H, N2, 2] (the shape of C′)");
        var dDt = Tensor.Zeros(new[] { h }, DType.Float32, device);
        var dARe = Tensor.Empty(aReal.Shape, DType.Float32, device);
        var dAIm = Tensor.Empty(aImag.Shape, DType.Float32, device);
        var dC = c is null ? null : Tensor.Empty(c.Shape, DType.Float32, device);
        if (h > 0 && n2 > 0)
        {
            int bilinear = method == Discretization.Bilinear ? 1 : 0;
            if (device.IsIlgpu) SsmDiscretizationGpu.DiagonalBackward(dt, aReal, aImag, c, gx, gc, dDt, dARe, dAIm, dC, h, n2, channels, bilinear);
            else SsmDiscretizationCpu.DiagonalBackward(dt, aReal, aImag, c, gx, gc, dDt, dARe, dAIm, dC, h, n2, channels, bilinear);
        }
        return new DiagonalDiscretizationGradients(dDt, dARe, dAIm, dC);
    }

    /// <summary>
    /// The Cauchy inputs of the S4 DPLR kernel: poles W [channels·H, N2, 2] (Δ·Λ, repeated per channel) and coefficients
    /// V [4, channels·H, N2, 2] = Δ·[C̃B̃, C̃P̃, conj(P̃)B̃, conj(P̃)P̃] (row order channel-major, like C).
    /// </summary>
    /// <param name="dt">[H]: Δ per channel.</param>
    /// <param name="aReal">[H, N2]: Re Λ.</param>
    /// <param name="aImag">[H, N2]: Im Λ.</param>
    /// <param name="p">[H, N2, 2]: P̃ (rank 1).</param>
    /// <param name="b">[H, N2, 2]: B̃.</param>
    /// <param name="c">[channels, H, N2, 2]: C̃.</param>
    public static (Tensor W, Tensor V) DplrCauchyInputs(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c)
    {
        var (h, n2, channels) = CheckDplr("SsmDiscretization.DplrCauchyInputs", dt, aReal, aImag, p, b, c);
        var w = Tensor.Empty(new[] { channels * h, n2, 2 }, DType.Float32, dt.Device);
        var v = Tensor.Empty(new[] { 4, channels * h, n2, 2 }, DType.Float32, dt.Device);
        if (w.Length == 0) return (w, v);
        if (dt.Device.IsIlgpu) SsmDiscretizationGpu.DplrCauchyInputs(dt, aReal, aImag, p, b, c, w, v, h, n2, channels);
        else SsmDiscretizationCpu.DplrCauchyInputs(dt, aReal, aImag, p, b, c, w, v, h, n2, channels);
        return (w, v);
    }

    /// <summary>
    /// The backward of <see cref="DplrCauchyInputs"/> given the gradients of W and V (either may be null). With
    /// G_a the gradient of V[a]: G_C̃ = Δ(G₀·conj B̃ + G₁·conj P̃), G_B̃ = Δ·Σ(G₀·conj C̃ + G₂·P̃),
    /// G_P̃ = Δ·Σ(G₁·conj C̃ + conj(G₂)·B̃ + 2·Re(G₃)·P̃), G_Λ = Δ·Σ G_W, and G_Δ = Σ Re(conj(G)·∂/∂Δ) over all outputs.
    /// </summary>
    public static DplrCauchyInputGradients DplrCauchyInputsBackward(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c,
        Tensor? dW, Tensor? dV)
    {
        const string op = "SsmDiscretization.DplrCauchyInputsBackward";
        var (h, n2, channels) = CheckDplr(op, dt, aReal, aImag, p, b, c);
        var device = dt.Device;
        using var zeroW = dW is null ? Tensor.Zeros(new[] { channels * h, n2, 2 }, DType.Float32, device) : null;
        using var zeroV = dV is null ? Tensor.Zeros(new[] { 4, channels * h, n2, 2 }, DType.Float32, device) : null;
        var gw = dW ?? zeroW!;
        var gv = dV ?? zeroV!;
        CheckGradient(op, dt, gw, "dW", new[] { channels * h, n2, 2 }, "[channels·H, N2, 2] (the shape of W)");
        CheckGradient(op, dt, gv, "dV", new[] { 4, channels * h, n2, 2 }, "[4, channels·H, N2, 2] (the shape of V)");
        var grads = new DplrCauchyInputGradients(Tensor.Zeros(new[] { h }, DType.Float32, device),
            Tensor.Empty(aReal.Shape, DType.Float32, device), Tensor.Empty(aImag.Shape, DType.Float32, device),
            Tensor.Empty(p.Shape, DType.Float32, device), Tensor.Empty(b.Shape, DType.Float32, device), Tensor.Empty(c.Shape, DType.Float32, device));
        if (h > 0 && n2 > 0)
        {
            if (device.IsIlgpu) SsmDiscretizationGpu.DplrCauchyInputsBackward(dt, aReal, aImag, p, b, c, gw, gv, grads, h, n2, channels);
            else SsmDiscretizationCpu.DplrCauchyInputsBackward(dt, aReal, aImag, p, b, c, gw, gv, grads, h, n2, channels);
        }
        return grads;
    }

    private static (int H, int N2, int Channels) CheckDiagonal(string op, Tensor dt, Tensor aReal, Tensor aImag, Tensor? c)
    {
        Guard.DType(op, dt, "dt", DType.Float32);
        Guard.Rank(op, dt, "dt", 1, "[H]");
        int h = dt.Size(0);
        foreach (var (t, name) in new[] { (aReal, "aReal"), (aImag, "aImag") })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, dt, "dt", t, name);
            Guard.Shape(op, t, name, new[] { h, -1 }, $"[H, N2] with H = {h} from dt");
        }
        int n2 = aReal.Size(1);
        Guard.Shape(op, aImag, "aImag", aReal.Shape, "(the shape of aReal: [H, N2])");
        if (c is null) return (h, n2, 1);
        Guard.DType(op, c, "c", DType.Float32);
        Guard.SameDevice(op, dt, "dt", c, "c");
        Guard.Shape(op, c, "c", new[] { -1, h, n2, 2 }, $"[channels, H, N2, 2] with H = {h}, N2 = {n2} (complex as (re, im))");
        return (h, n2, c.Size(0));
    }

    private static (int H, int N2, int Channels) CheckDplr(string op, Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c)
    {
        var (h, n2, channels) = CheckDiagonal(op, dt, aReal, aImag, c);
        foreach (var (t, name) in new[] { (p, "p"), (b, "b") })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, dt, "dt", t, name);
            Guard.Shape(op, t, name, new[] { h, n2, 2 }, $"[H, N2, 2] with H = {h}, N2 = {n2} (complex as (re, im))");
        }
        return (h, n2, channels);
    }

    private static void CheckGradient(string op, Tensor dt, Tensor g, string name, int[] shape, string layout)
    {
        Guard.DType(op, g, name, DType.Float32);
        Guard.SameDevice(op, dt, "dt", g, name);
        Guard.Shape(op, g, name, shape, layout);
    }
}
