using Ssm.Kernels;

namespace Ssm;

/// <summary>Differentiable FFT ops: real FFTs along the last dimension and the causal FFT convolution of S4/S4D.</summary>
public static partial class F
{
    /// <summary>
    /// Causal convolution y[b, h, t] = Σ_{s≤t} k[h, t−s]·u[b, h, s] by FFT (see <see cref="Kernels.FftConv.Causal"/>):
    /// u [batch, channels, length], k [channels, length] (shared by the batch) or [batch, channels, length].
    /// The backward computes du and dk by FFT correlations (<see cref="Kernels.FftConv.CausalBackward"/>).
    /// </summary>
    public static Variable FftConv(Variable u, Variable k)
    {
        Tensor ud = u.Data, kd = k.Data;
        return Autograd.Record(Kernels.FftConv.Causal(ud, kd), "FftConv", new[] { u, k }, g =>
        {
            var (du, dk) = Kernels.FftConv.CausalBackward(ud, kd, g, u.RequiresGrad, k.RequiresGrad);
            return new Tensor?[] { du, dk };
        });
    }

    /// <summary>
    /// One-sided spectrum of real rows, x [..., len] → [..., n/2+1, 2] (see <see cref="Fft.Rfft(Tensor, int?)"/>; rows zero-padded or
    /// truncated to n, default len). Backward: dx = n·irfft(dX with the non-edge bins halved), cut or zero-padded to len.
    /// </summary>
    public static Variable Rfft(Variable x, int? n = null)
    {
        var xd = x.Data;
        int size = Fft.RfftLength(xd, n, "F.Rfft"), len = xd.Size(-1);
        return Autograd.Record(Fft.Rfft(xd, size, size / 2 + 1, 1f, 1f), "Rfft", new[] { x },
            g => new Tensor?[] { Fft.Irfft(g, size, len, size, size / 2f) });
    }

    /// <summary>
    /// Real rows from a one-sided spectrum, X [..., bins, 2] → [..., n] (see <see cref="Fft.Irfft(Tensor, int?)"/>; default
    /// n = 2·(bins − 1)). Backward: dX = rfft(dy) with the edge bins scaled 1/n and the others 2/n; zero for the bins
    /// the forward ignores (beyond n/2, and the imaginary parts of bin 0 and of bin n/2 for even n).
    /// </summary>
    public static Variable Irfft(Variable spectrum, int? n = null)
    {
        var sd = spectrum.Data;
        int size = Fft.IrfftLength(sd, n, "F.Irfft"), bins = sd.Size(-2);
        return Autograd.Record(Fft.Irfft(sd, size, size, 1f, 1f), "Irfft", new[] { spectrum },
            g => new Tensor?[] { Fft.Rfft(g, size, bins, 1f / size, 2f / size) });
    }
}
