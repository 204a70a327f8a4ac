namespace Ssm.Kernels;

/// <summary>
/// Real FFTs along the last dimension, batched over all leading dimensions, with NumPy/PyTorch conventions:
/// <c>Rfft(x, n)[..., k] = Σ_{t&lt;n} x[..., t]·e^{−2πikt/n}</c> for k = 0..n/2 and
/// <c>Irfft(X, n)[..., t] = (1/n)·Σ_{k&lt;n} X[..., k]·e^{2πikt/n}</c> with X extended Hermitian. Complex values are
/// interleaved float pairs (last dimension 2: real, imaginary). Any length n: powers of two use a radix-2 FFT of half
/// length plus a real-split pass; other lengths Bluestein's chirp-z transform. Twiddles are computed in double and
/// cached per length (and per device). CPU: rows in parallel; ILGPU: one group per row in shared memory when the row
/// fits, global-memory radix-2 passes otherwise.
/// </summary>
public static class Fft
{
    /// <summary>
    /// The one-sided spectrum of real rows: x [..., len] → [..., n/2+1, 2], like <c>torch.fft.rfft(x, n)</c>.
    /// Rows are zero-padded or truncated to <paramref name="n"/> (default: len).
    /// </summary>
    public static Tensor Rfft(Tensor x, int? n = null) => Rfft(x, n, 1f, 1f, "Fft.Rfft");

    /// <summary>
    /// Real rows from a one-sided spectrum: X [..., bins, 2] → [..., n], like <c>torch.fft.irfft(X, n)</c>
    /// (default n = 2·(bins − 1)). Bins beyond n/2 are ignored, missing ones are zero, and the imaginary parts of bin 0
    /// and (n even) bin n/2 are ignored.
    /// </summary>
    public static Tensor Irfft(Tensor spectrum, int? n = null) => Irfft(spectrum, n, 1f, 1f, "Fft.Irfft");

    /// <summary>
    /// <see cref="Rfft(Tensor, int?)"/> with the output bins scaled: bin 0 and (n even) bin n/2 by
    /// <paramref name="edge"/>, the others by <paramref name="mid"/>. With edge = 1/n, mid = 2/n this is the adjoint
    /// of <see cref="Irfft(Tensor, int?)"/> (its backward).
    /// </summary>
    internal static Tensor Rfft(Tensor x, int? n, float edge, float mid, string op)
    {
        Guard.DType(op, x, "x", DType.Float32);
        if (x.Rank < 1) throw new ArgumentException($"{op}: x has shape {Shapes.Format(x.Shape)}, expected rank ≥ 1 [..., length].", nameof(x));
        int len = x.Size(-1), size = n ?? len;
        if (size < 1)
            throw new ArgumentOutOfRangeException(nameof(n), size, $"{op}: the transform length n must be positive, got {size} (x has shape {Shapes.Format(x.Shape)}).");
        var shape = x.ShapeArray();
        shape[^1] = size / 2 + 1;
        var y = Tensor.Empty([.. shape, 2], DType.Float32, x.Device);
        if (y.Length == 0) return y;
        if (x.Device.IsIlgpu) FftGpu.Rfft(x, y, size, edge, mid);
        else FftCpu.Rfft(x, y, size, edge, mid);
        return y;
    }

    /// <summary>
    /// <see cref="Irfft(Tensor, int?)"/> with the input bins scaled first: bin 0 and (n even) bin n/2 by
    /// <paramref name="edge"/>, the others by <paramref name="mid"/>. With edge = n, mid = n/2 this is the adjoint of
    /// <see cref="Rfft(Tensor, int?)"/> (its backward).
    /// </summary>
    internal static Tensor Irfft(Tensor spectrum, int? n, float edge, float mid, string op)
    {
        Guard.DType(op, spectrum, "spectrum", DType.Float32);
        if (spectrum.Rank < 2 || spectrum.Size(-1) != 2)
            throw new ArgumentException($"{op}: spectrum has shape {Shapes.Format(spectrum.Shape)}, expected [..., bins, 2] (complex as re, im pairs).", nameof(spectrum));
        int bins = spectrum.Size(-2), size = n ?? 2 * (bins - 1);
        if (size < 1)
            throw new ArgumentOutOfRangeException(nameof(n), size,
                $"{op}: the output length n must be positive, got {size} (spectrum has shape {Shapes.Format(spectrum.Shape)}{(n is null ? "; the default is 2·(bins − 1)" : "")}).");
        var shape = spectrum.ShapeArray()[..^1];
        shape[^1] = size;
        var y = Tensor.Empty(shape, DType.Float32, spectrum.Device);
        if (y.Length == 0) return y;
        if (bins == 0) { y.Zero(); return y; }
        if (spectrum.Device.IsIlgpu) FftGpu.Irfft(spectrum, y, size, edge, mid);
        else FftCpu.Irfft(spectrum, y, size, edge, mid);
        return y;
    }
}
