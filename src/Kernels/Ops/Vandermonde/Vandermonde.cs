namespace Ssm.Kernels;

/// <summary>
/// The S4D convolution kernel as a Vandermonde product (Gu et al., "On the Parameterization and Initialization of
/// Diagonal State Space Models", and state-spaces/s4 models/s4/s4d.py; log_vandermonde in models/s4/s4.py):
/// <c>K[h, l] = 2·Re Σ_n c[h, n]·exp(dtA[h, n]·l)</c>, l = 0..L−1, for N/2 complex modes per channel (each stands for a
/// conjugate pair). Complex numbers are float pairs (re, im) in a trailing dimension of size 2, like
/// <c>torch.view_as_real</c>. The H×N×L Vandermonde matrix is never materialized: the powers are formed from
/// double-precision anchors exp(dtA·B·j) and short power tables exp(dtA·r), r &lt; B, so the phase stays accurate for
/// long L. Contributions that underflow float vanish (exp of a large negative real part is 0, never NaN); a positive
/// real part grows and may overflow to ±∞.
/// </summary>
public static class Vandermonde
{
    /// <summary>
    /// K[h, l] = 2·Re Σ_n c[h, n]·exp(dtA[h, n]·l) for l &lt; <paramref name="length"/>.
    /// </summary>
    /// <param name="dtA">[H, N2, 2]: the discretized modes Δ_h·A_n (complex).</param>
    /// <param name="c">[H, N2, 2]: the discretized coefficients C'_n (complex), e.g. C·B·(e^{ΔA} − 1)/A for ZOH.</param>
    /// <param name="length">L, the kernel length.</param>
    /// <returns>K: [H, L].</returns>
    public static Tensor Kernel(Tensor dtA, Tensor c, int length)
    {
        const string op = "Vandermonde.Kernel";
        var (h, n2) = CheckModes(op, dtA, c);
        Guard.Positive(op, nameof(length), length);
        var k = Tensor.Empty(new[] { h, length }, DType.Float32, dtA.Device);
        if (h == 0) return k;
        if (dtA.Device.IsIlgpu) VandermondeGpu.Kernel(dtA, c, k, n2, length);
        else VandermondeCpu.Kernel(dtA, c, k, n2, length);
        return k;
    }

    /// <summary>
    /// The backward of <see cref="Kernel"/>: given dK = ∂loss/∂K, the gradients of the real views of dtA and c:
    /// dC[h, n] = 2·Σ_l dK[h, l]·conj(e^{dtA·l}) and dDtA[h, n] = 2·conj(c[h, n])·Σ_l l·dK[h, l]·conj(e^{dtA·l})
    /// (as complex numbers re + i·im, the convention of PyTorch's real-view gradients).
    /// </summary>
    /// <param name="dtA">[H, N2, 2] as passed to <see cref="Kernel"/>.</param>
    /// <param name="c">[H, N2, 2] as passed to <see cref="Kernel"/>.</param>
    /// <param name="dK">[H, L].</param>
    /// <returns>(dDtA [H, N2, 2], dC [H, N2, 2]).</returns>
    public static (Tensor DDtA, Tensor DC) Backward(Tensor dtA, Tensor c, Tensor dK)
    {
        const string op = "Vandermonde.Backward";
        var (h, n2) = CheckModes(op, dtA, c);
        Guard.DType(op, dK, "dK", DType.Float32);
        Guard.SameDevice(op, dtA, "dtA", dK, "dK");
        Guard.Shape(op, dK, "dK", new[] { h, -1 }, $"[H, L] with H = {h}");
        Guard.Positive(op, "dK.Size(1)", dK.Size(1));
        var dDtA = Tensor.Empty(dtA.Shape, DType.Float32, dtA.Device);
        var dC = Tensor.Empty(c.Shape, DType.Float32, dtA.Device);
        if (dtA.Length == 0) return (dDtA, dC);
        if (dtA.Device.IsIlgpu) VandermondeGpu.Backward(dtA, c, dK, dDtA, dC, n2);
        else VandermondeCpu.Backward(dtA, c, dK, dDtA, dC, n2);
        return (dDtA, dC);
    }

    private static (int H, int N2) CheckModes(string op, Tensor dtA, Tensor c)
    {
        Guard.DType(op, dtA, "dtA", DType.Float32);
        Guard.DType(op, c, "c", DType.Float32);
        Guard.SameDevice(op, dtA, "dtA", c, "c");
        Guard.Shape(op, dtA, "dtA", new[] { -1, -1, 2 }, "[H, N2, 2] (complex modes as (re, im))");
        Guard.Shape(op, c, "c", dtA.Shape, "(the shape of dtA: [H, N2, 2])");
        return (dtA.Size(0), dtA.Size(1));
    }
}
