using System.Numerics;

namespace Ssm.Kernels;

/// <summary>
/// Causal long convolution by FFT, the S4/S4D convolution (Gu et al., "Efficiently Modeling Long Sequences with
/// Structured State Spaces"; state-spaces/s4 models/s4/s4d.py): y[b, h, t] = Σ_{s≤t} k[h, t−s]·u[b, h, s], computed as
/// irfft(rfft(u, n)·rfft(k, n), n)[..., :L]. The transform length is the power of two n ≥ 2L − 1 (no wrap-around
/// reaches the first L outputs, so this equals the reference's n = 2L exactly in real arithmetic; for power-of-two L
/// it is 2L). The kernel's spectrum is computed once per call and shared across the batch. On ILGPU devices, when the
/// half-length transform fits in shared memory, each row's forward FFT, spectrum product and inverse FFT run in one
/// group (one launch); otherwise the transforms use global-memory passes.
/// Backward: du[s] = Σ_{t≥s} k[t−s]·dy[t] = irfft(rfft(dy)·conj rfft(k))[:L] and
/// dk[j] = Σ_b Σ_t dy[b, t]·u[b, t−j] = irfft(Σ_b rfft(dy_b)·conj rfft(u_b))[:L].
/// </summary>
public static class FftConv
{
    /// <summary>
    /// y = causal convolution of u [batch, channels, length] with the per-channel kernel k [channels, length] (shared
    /// by the batch) or k [batch, channels, length] (one kernel per row); y has u's shape.
    /// </summary>
    public static Tensor Causal(Tensor u, Tensor k)
    {
        const string op = "FftConv.Causal";
        Check(op, u, k);
        var y = Tensor.Empty(u.Shape, DType.Float32, u.Device);
        if (y.Length == 0) return y;
        int n = TransformLength(u.Size(2));
        if (u.Device.IsIlgpu) FftConvGpu.Forward(u, k, y, n);
        else FftConvCpu.Forward(u, k, y, n);
        return y;
    }

    /// <summary>
    /// Gradients of <see cref="Causal"/> given dy (u's shape): du (u's shape) when <paramref name="needU"/>, dk (k's
    /// shape; summed over the batch for a shared kernel) when <paramref name="needK"/>; null where not asked for.
    /// </summary>
    public static (Tensor? du, Tensor? dk) CausalBackward(Tensor u, Tensor k, Tensor dy, bool needU = true, bool needK = true)
    {
        const string op = "FftConv.CausalBackward";
        Check(op, u, k);
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.SameDevice(op, u, "u", dy, "dy");
        Guard.Shape(op, dy, "dy", u.Shape, "(u's shape [batch, channels, length])");
        var du = needU ? Tensor.Empty(u.Shape, DType.Float32, u.Device) : null;
        var dk = needK ? Tensor.Empty(k.Shape, DType.Float32, u.Device) : null;
        if (!needU && !needK) return (null, null);
        if (u.Length == 0)
        {
            dk?.Zero();
            return (du, dk);
        }
        int n = TransformLength(u.Size(2));
        if (u.Device.IsIlgpu) FftConvGpu.Backward(u, k, dy, du, dk, n);
        else FftConvCpu.Backward(u, k, dy, du, dk, n);
        return (du, dk);
    }

    /// <summary>The FFT length used for sequences of <paramref name="length"/>: the power of two ≥ max(2·length − 1, 2).</summary>
    public static int TransformLength(int length) => (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(2 * length - 1, 2));

    private static void Check(string op, Tensor u, Tensor k)
    {
        Guard.DType(op, u, "u", DType.Float32);
        Guard.DType(op, k, "k", DType.Float32);
        Guard.SameDevice(op, u, "u", k, "k");
        Guard.Rank(op, u, "u", 3, "[batch, channels, length]");
        int b = u.Size(0), h = u.Size(1), l = u.Size(2);
        if (l < 1) throw new ArgumentException($"{op}: u has shape {Shapes.Format(u.Shape)}, expected length ≥ 1 in [batch, channels, length].", nameof(u));
        if (l > (1 << 29)) throw new ArgumentException($"{op}: u has length {l}, more than the supported {1 << 29}.", nameof(u));
        if (k.Rank == 3) Guard.Shape(op, k, "k", [b, h, l], "[batch, channels, length] (u is [batch, channels, length])");
        else Guard.Shape(op, k, "k", [h, l], "[channels, length] or [batch, channels, length] (u is [batch, channels, length])");
    }
}
