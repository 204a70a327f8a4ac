namespace Ssm.Kernels;

/// <summary>
/// The recurrent (RNN) forms of S4D and S4 for inference: stepping and advancing a state through a chunk (Gu et al., S4
/// paper section 3.1 and S4D paper; state-spaces/s4 models/s4/s4.py <c>SSMKernelDiag.step</c>,
/// <c>SSMKernelDPLR._step_state_linear</c>). The state holds the N2 stored modes of each conjugate pair, complex as
/// (re, im) float pairs: state [B, H, N2, 2]; the full state is [x; conj x], so outputs are y = 2·Re Σ_n C_n·x_n.
/// Both ops advance <c>state</c> in place through u [B, H, L] (x_t = Ā·x_{t−1} + B̄·u_t) and return y [B, H, L] — either
/// the full output 2·Re Σ C·x_t, or with <c>homogeneousOutput</c> only the initial state's part 2·Re Σ C·Ā^{t+1}·x₀
/// (what chunked prefill adds to a convolution over the chunk). The D·u skip term is not included. Arithmetic is in
/// double per step, the state stored as float between steps; one worker (CPU) or thread (ILGPU) per (b, h) row, O(L·N2).
/// No autograd (use the convolution form for training).
/// </summary>
public static class SsmRecurrence
{
    /// <summary>
    /// Diagonal recurrence x_t = Ā∘x_{t−1} + B̄·u_t with Ā = e^{logABar} (S4D; ZOH: logABar = ΔA, B̄ = (e^{ΔA} − 1)/A;
    /// bilinear: logABar = log Ā, B̄ = Δ/(1 − ΔA/2); see <see cref="SsmDiscretization.Diagonal"/>).
    /// </summary>
    /// <param name="logABar">[H, N2, 2].</param>
    /// <param name="bBar">[H, N2, 2].</param>
    /// <param name="c">[H, N2, 2].</param>
    /// <param name="u">[B, H, L].</param>
    /// <param name="state">[B, H, N2, 2], advanced in place to the end of u.</param>
    /// <param name="homogeneousOutput">Return only the initial state's contribution to y.</param>
    /// <returns>y [B, H, L].</returns>
    public static Tensor Diagonal(Tensor logABar, Tensor bBar, Tensor c, Tensor u, Tensor state, bool homogeneousOutput = false)
    {
        const string op = "SsmRecurrence.Diagonal";
        Guard.DType(op, logABar, "logABar", DType.Float32);
        Guard.Shape(op, logABar, "logABar", new[] { -1, -1, 2 }, "[H, N2, 2] (complex as (re, im))");
        int h = logABar.Size(0), n2 = logABar.Size(1);
        foreach (var (t, name) in new[] { (bBar, "bBar"), (c, "c") })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, logABar, "logABar", t, name);
            Guard.Shape(op, t, name, logABar.Shape, "(the shape of logABar: [H, N2, 2])");
        }
        var (batch, length) = CheckSequence(op, logABar, "logABar", u, state, h, n2);
        var y = Tensor.Zeros(new[] { batch, h, length }, DType.Float32, u.Device);
        if (batch * h == 0 || length == 0 || n2 == 0) return y;
        int homogeneous = homogeneousOutput ? 1 : 0;
        if (u.Device.IsIlgpu) SsmRecurrenceGpu.Diagonal(logABar, bBar, c, u, state, y, h, n2, length, homogeneous);
        else SsmRecurrenceCpu.Diagonal(logABar, bBar, c, u, state, y, h, n2, length, homogeneous);
        return y;
    }

    /// <summary>
    /// Bilinear DPLR recurrence (S4): A = Λ − P̃P̃* over the full state, x_t = Ā·x_{t−1} + B̄·u_t with
    /// Ā = (2/Δ − A)⁻¹(2/Δ + A), B̄ = 2(2/Δ − A)⁻¹B̃, in O(N) per step: with D = (2/Δ − Λ)⁻¹ (diagonal),
    /// (2/Δ − A)⁻¹ = D − D·P̃(1 + P̃*DP̃)⁻¹P̃*D (Woodbury; P̃*x over the full state is 2·Re Σ conj(P̃_n)·x_n).
    /// </summary>
    /// <param name="dt">[H]: Δ.</param>
    /// <param name="aReal">[H, N2]: Re Λ.</param>
    /// <param name="aImag">[H, N2]: Im Λ.</param>
    /// <param name="p">[H, N2, 2]: P̃.</param>
    /// <param name="b">[H, N2, 2]: B̃.</param>
    /// <param name="c">[H, N2, 2]: the recurrence's C (not C̃).</param>
    /// <param name="u">[B, H, L].</param>
    /// <param name="state">[B, H, N2, 2], advanced in place.</param>
    /// <param name="homogeneousOutput">Return only the initial state's contribution to y.</param>
    /// <returns>y [B, H, L].</returns>
    public static Tensor Dplr(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c, Tensor u, Tensor state, bool homogeneousOutput = false)
    {
        const string op = "SsmRecurrence.Dplr";
        Guard.DType(op, dt, "dt", DType.Float32);
        Guard.Rank(op, dt, "dt", 1, "[H]");
        int h = dt.Size(0);
        Guard.DType(op, aReal, "aReal", DType.Float32);
        Guard.SameDevice(op, dt, "dt", aReal, "aReal");
        Guard.Shape(op, aReal, "aReal", new[] { h, -1 }, $"[H, N2] with H = {h} from dt");
        int n2 = aReal.Size(1);
        Guard.DType(op, aImag, "aImag", DType.Float32);
        Guard.SameDevice(op, dt, "dt", aImag, "aImag");
        Guard.Shape(op, aImag, "aImag", aReal.Shape, "(the shape of aReal: [H, N2])");
        foreach (var (t, name) in new[] { (p, "p"), (b, "b"), (c, "c") })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, dt, "dt", t, name);
            Guard.Shape(op, t, name, new[] { h, n2, 2 }, $"[H, N2, 2] with H = {h}, N2 = {n2} (complex as (re, im))");
        }
        var (batch, length) = CheckSequence(op, dt, "dt", u, state, h, n2);
        var y = Tensor.Zeros(new[] { batch, h, length }, DType.Float32, u.Device);
        if (batch * h == 0 || length == 0 || n2 == 0) return y;
        using var scratch = homogeneousOutput ? state.Clone() : null;
        if (u.Device.IsIlgpu) SsmRecurrenceGpu.Dplr(dt, aReal, aImag, p, b, c, u, state, scratch, y, h, n2, length);
        else SsmRecurrenceCpu.Dplr(dt, aReal, aImag, p, b, c, u, state, scratch, y, h, n2, length);
        return y;
    }

    private static (int Batch, int Length) CheckSequence(string op, Tensor first, string firstName, Tensor u, Tensor state, int h, int n2)
    {
        Guard.DType(op, u, "u", DType.Float32);
        Guard.SameDevice(op, first, firstName, u, "u");
        Guard.Shape(op, u, "u", new[] { -1, h, -1 }, $"[B, H, L] with H = {h}");
        Guard.DType(op, state, "state", DType.Float32);
        Guard.SameDevice(op, first, firstName, state, "state");
        Guard.Shape(op, state, "state", new[] { u.Size(0), h, n2, 2 }, $"[B, H, N2, 2] with B = {u.Size(0)} from u, H = {h}, N2 = {n2}");
        return (u.Size(0), u.Size(2));
    }
}
