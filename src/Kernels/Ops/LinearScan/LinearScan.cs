namespace Ssm.Kernels;

// First-order linear recurrence over a time axis, elementwise over the other elements (the momentum and forgetting
// recurrences of Titans, Behrouz et al. 2024, "Titans: Learning to Memorize at Test Time", eqs. 10 and 13; the form of
// every diagonal linear RNN). Tensors [batch, T, inner] (a "leading time axis of matrices" is batch = 1, inner = the
// matrix's elements):
//   forward:  h_t = a_t ⊙ h_{t−1} + x_t,       h_{−1} = h0 (zero when absent)
//   reverse:  h_t = a_{t+1} ⊙ h_{t+1} + x_t,   h_T = 0  (the adjoint recurrence: what the forward's backward computes)
// Backward with upstream g = dL/dh and r = dL/dx:
//   forward:  r_t = g_t + a_{t+1} r_{t+1} (a reverse scan),  da_t = r_t ⊙ h_{t−1},  dh0 = a_0 ⊙ r_0
//   reverse:  r_t = g_t + a_t r_{t−1}     (a forward scan),  da_t = r_{t−1} ⊙ h_t (t ≥ 1), da_0 = 0
// so each direction's backward is the other direction's scan plus one product per element, fused into one pass.

/// <summary>Gradients from <see cref="LinearScan.Backward"/> (null where not requested).</summary>
/// <param name="Da">dL/da [batch, T, inner].</param>
/// <param name="Dx">dL/dx [batch, T, inner].</param>
/// <param name="Dh0">dL/dh0 [batch, inner].</param>
public sealed record LinearScanGradients(Tensor? Da, Tensor? Dx, Tensor? Dh0);

/// <summary>
/// The linear scan h_t = a_t ⊙ h_{t−1} + x_t over dimension 1 of [batch, T, inner] tensors (a and x of the same shape),
/// from an optional initial state h0 [batch, inner]; or, with <c>reverse</c>, the adjoint recurrence
/// h_t = a_{t+1} ⊙ h_{t+1} + x_t running from the end (a_0 unused; no initial state). Forward and backward (fused: the
/// reverse-direction scan and the products for da in one pass). CPU: one worker item per (batch row, block of inner
/// elements), SIMD multiply-adds along inner, sequential in time. ILGPU: one thread per (batch, inner) column, sequential
/// in time (coalesced across inner) — the scans here are short (a chunk) and wide (many columns).
/// </summary>
public static class LinearScan
{
    /// <summary>
    /// The scan of x with coefficients a (both [batch, T, inner]) from h0 [batch, inner] (zero when null); with
    /// <paramref name="reverse"/>, the adjoint recurrence from the end (h0 must be null). Returns h [batch, T, inner].
    /// </summary>
    public static Tensor Forward(Tensor a, Tensor x, Tensor? h0 = null, bool reverse = false)
    {
        var s = Check("LinearScan.Forward", a, x, h0, reverse);
        var h = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        if (h.Length == 0) return h;
        if (x.Device.IsIlgpu) LinearScanGpu.Forward(s, a, x, h0, h);
        else LinearScanCpu.Forward(s, a, x, h0, h);
        return h;
    }

    /// <summary>
    /// Backward of <see cref="Forward"/> from its output <paramref name="h"/> and the upstream gradient
    /// <paramref name="dh"/> (both [batch, T, inner]): da when <paramref name="needA"/>, dx when <paramref name="needX"/>,
    /// dh0 when <paramref name="needH0"/> (forward direction with an h0 only).
    /// </summary>
    public static LinearScanGradients Backward(Tensor a, Tensor h, Tensor dh, Tensor? h0 = null, bool reverse = false,
        bool needA = true, bool needX = true, bool needH0 = true)
    {
        const string op = "LinearScan.Backward";
        var s = Check(op, a, h, h0, reverse);
        ArgumentNullException.ThrowIfNull(dh);
        Guard.DType(op, dh, "dh", DType.Float32);
        Guard.SameDevice(op, h, "h", dh, "dh");
        Guard.Shape(op, dh, "dh", h.Shape, "(the shape of h)");
        var dev = h.Device;
        needH0 &= h0 is not null;
        // The kernels always produce r = dx; it is returned when asked for, else released.
        var dx = Tensor.Empty(h.Shape, DType.Float32, dev);
        var da = needA ? Tensor.Empty(h.Shape, DType.Float32, dev) : null;
        var dh0 = needH0 ? Tensor.Empty(h0!.Shape, DType.Float32, dev) : null;
        if (dx.Length > 0)
        {
            if (dev.IsIlgpu) LinearScanGpu.Backward(s, a, h, dh, h0, dx, da, dh0);
            else LinearScanCpu.Backward(s, a, h, dh, h0, dx, da, dh0);
        }
        else dh0?.Zero();
        if (!needX)
        {
            dx.Dispose();
            dx = null;
        }
        return new LinearScanGradients(da, dx, dh0);
    }

    private static ScanSpec Check(string op, Tensor a, Tensor x, Tensor? h0, bool reverse)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(x);
        Guard.DType(op, x, "x", DType.Float32);
        Guard.DType(op, a, "a", DType.Float32);
        Guard.Rank(op, x, "x", 3, "[batch, time, inner]");
        Guard.SameDevice(op, x, "x", a, "a");
        Guard.Shape(op, a, "a", x.Shape, "(the shape of x: [batch, time, inner])");
        int batch = x.Size(0), length = x.Size(1), inner = x.Size(2);
        if (h0 is not null)
        {
            if (reverse)
                throw new ArgumentException($"{op}: the reverse scan runs from the end with a zero state; h0 must be null.", nameof(h0));
            Guard.DType(op, h0, "h0", DType.Float32);
            Guard.SameDevice(op, x, "x", h0, "h0");
            Guard.Shape(op, h0, "h0", new[] { batch, inner }, $"[batch, inner] = [{batch}, {inner}] (from x)");
        }
        return new ScanSpec { Batch = batch, Length = length, Inner = inner, HasH0 = h0 is null ? 0 : 1, Reverse = reverse ? 1 : 0 };
    }
}

/// <summary>Sizes of a <see cref="LinearScan"/> (also an ILGPU kernel parameter).</summary>
internal struct ScanSpec
{
    public int Batch, Length, Inner;
    /// <summary>1 when an initial state h0 is given.</summary>
    public int HasH0;
    /// <summary>1 for the reverse (adjoint) recurrence.</summary>
    public int Reverse;
}
