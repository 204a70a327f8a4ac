using Ssm.Kernels;

namespace Ssm.S4;

// The initialization S4 and S4D share (s4.py SSMKernel.init_dt and the C of SSMKernelDPLR/SSMKernelDiag; s4d.py S4DKernel):
//   ln Δ_h ~ U[ln dt_min, ln dt_max] per channel, then C ~ complex normal (torch.randn(cfloat): re, im ~ N(0, ½)),
//   drawn in that order; Δ is stored as ln Δ (DtTransform.Exp) or softplus⁻¹(Δ) (DtTransform.Softplus).

/// <summary>The Δ and C initialization shared by <see cref="S4Kernel"/> and <see cref="S4DKernel"/>.</summary>
internal static class SsmKernelInit
{
    /// <summary>
    /// Draws ln Δ [h] and then C [channels · h · modes · 2] (complex as (re, im)) from <paramref name="rng"/>, in the
    /// order the kernels draw them.
    /// </summary>
    public static (double[] LogDt, float[] C) DrawDtAndC(int h, int modes, int channels, double dtMin, double dtMax, Rng rng)
    {
        var logDt = new double[h];
        for (int i = 0; i < h; i++) logDt[i] = rng.Uniform(Math.Log(dtMin), Math.Log(dtMax));
        var c = new float[channels * h * modes * 2];
        rng.FillNormal(c, 0, Math.Sqrt(0.5));
        return (logDt, c);
    }

    /// <summary>log(eˣ − 1) = x + log(1 − e^{−x}), the inverse of softplus.</summary>
    public static double InverseSoftplus(double x) => x + Math.Log(-double.ExpM1(-x));
}
