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
    public static Tensor Rfft(Tensor x, int? n = null)
    {
        int size = RfftLength(x, n, "Fft.Rfft");
        return Rfft(x, size, size / 2 + 1, 1f, 1f);
    }

    /// <summary>
    /// Real rows from a one-sided spectrum: X [..., bins, 2] → [..., n], like <c>torch.fft.irfft(X, n)</c>
    /// (default n = 2·(bins − 1)). Bins beyond n/2 are ignored, missing ones are zero, and the imaginary parts of bin 0
    /// and (n even) bin n/2 are ignored.
    /// </summary>
    public static Tensor Irfft(Tensor spectrum, int? n = null)
    {
        int size = IrfftLength(spectrum, n, "Fft.Irfft");
        return Irfft(spectrum, size, size, 1f, 1f);
    }

    /// <summary>
    /// <see cref="Rfft(Tensor, int?)"/> into <paramref name="bins"/> output bins (zero beyond n/2) with the bins
    /// scaled: bin 0 and (n even) bin n/2 by <paramref name="edge"/>, the others by <paramref name="mid"/>. With
    /// edge = 1/n, mid = 2/n this is the adjoint of <see cref="Irfft(Tensor, int?)"/> (its backward). Arguments are
    /// assumed valid.
    /// </summary>
    internal static Tensor Rfft(Tensor x, int n, int bins, float edge, float mid)
    {
        var shape = x.ShapeArray();
        shape[^1] = bins;
        var y = Tensor.Empty([.. shape, 2], DType.Float32, x.Device);
        if (y.Length == 0) return y;
        if (x.Device.IsIlgpu) FftGpu.Rfft(x, y, n, edge, mid);
        else FftCpu.Rfft(x, y, n, edge, mid);
        return y;
    }

    /// <summary>
    /// <see cref="Irfft(Tensor, int?)"/> into rows of <paramref name="length"/> samples (a prefix of the n outputs, zero
    /// beyond n) with the input bins scaled first: bin 0 and (n even) bin n/2 by <paramref name="edge"/>, the others by
    /// <paramref name="mid"/>. With edge = n, mid = n/2 this is the adjoint of <see cref="Rfft(Tensor, int?)"/> (its
    /// backward). Arguments are assumed valid.
    /// </summary>
    internal static Tensor Irfft(Tensor spectrum, int n, int length, float edge, float mid)
    {
        var shape = spectrum.ShapeArray()[..^1];
        shape[^1] = length;
        var y = Tensor.Empty(shape, DType.Float32, spectrum.Device);
        if (y.Length == 0) return y;
        if (spectrum.Size(-2) == 0) y.Zero();
        else if (spectrum.Device.IsIlgpu) FftGpu.Irfft(spectrum, y, n, edge, mid);
        else FftCpu.Irfft(spectrum, y, n, edge, mid);
        return y;
    }

    /// <summary>Checks the arguments of <see cref="Rfft(Tensor, int?)"/> and returns the transform length.</summary>
    internal static int RfftLength(Tensor x, int? n, string op)
    {
        Guard.DType(op, x, "x", DType.Float32);
        if (x.Rank < 1) throw new ArgumentException($"{op}: x has shape {Shapes.Format(x.Shape)}, expected rank ≥ 1 [..., length].", nameof(x));
        int size = n ?? x.Size(-1);
        if (size < 1)
            throw new ArgumentOutOfRangeException(nameof(n), size, $"{op}: the transform length n must be positive, got {size} (x has shape {Shapes.Format(x.Shape)}).");
        return size;
    }

    /// <summary>Checks the arguments of <see cref="Irfft(Tensor, int?)"/> and returns the output length.</summary>
    internal static int IrfftLength(Tensor spectrum, int? n, string op)
    {
        Guard.DType(op, spectrum, "spectrum", DType.Float32);
        if (spectrum.Rank < 2 || spectrum.Size(-1) != 2)
            throw new ArgumentException($"{op}: spectrum has shape {Shapes.Format(spectrum.Shape)}, expected [..., bins, 2] (complex as re, im pairs).", nameof(spectrum));
        int size = n ?? 2 * (spectrum.Size(-2) - 1);
        if (size < 1)
            throw new ArgumentOutOfRangeException(nameof(n), size,
                $"{op}: the output length n must be positive, got {size} (spectrum has shape {Shapes.Format(spectrum.Shape)}{(n is null ? "; the default is 2·(bins − 1)" : "")}).");
        return size;
    }
}
