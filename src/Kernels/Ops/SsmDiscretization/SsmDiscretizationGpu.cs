using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Views of <see cref="SsmDiscretizationGpu"/>'s kernels (C and dC are placeholders when HasC = 0).</summary>
internal struct DiscretizationViews
{
    public ArrayView<float> Dt, AReal, AImag, P, B, C;
    public int H, N2, Channels, HasC, Bilinear;
}

/// <summary>Outputs and upstream gradients of <see cref="SsmDiscretizationGpu"/>'s kernels.</summary>
internal struct DiscretizationOutputs
{
    public ArrayView<float> Out0, Out1, G0, G1, DDt, DAReal, DAImag, DP, DB, DC;
}

/// <summary>
/// ILGPU kernels of <see cref="SsmDiscretization"/>: forward one thread per mode (h, n); backward one thread per channel
/// h (it sums Δ's gradient over the modes and the C channels). Same double-precision math as the CPU
/// (<see cref="SsmDiscretizationMath"/>).
/// </summary>
internal static class SsmDiscretizationGpu
{
    private static Complex64 At(ArrayView<float> a, int m) => new(a[2 * m], a[2 * m + 1]);

    private static void Put(ArrayView<float> a, int m, Complex64 v)
    {
        a[2 * m] = (float)v.Re;
        a[2 * m + 1] = (float)v.Im;
    }

    /// <summary>Out0 = x [H, N2, 2], Out1 = C′ [channels, H, N2, 2].</summary>
    [GpuKernel]
    internal static void DiagonalKernel(Index1D m, DiscretizationViews v, DiscretizationOutputs o)
    {
        int i = m / v.N2, plane = v.H * v.N2;
        SsmDiscretizationMath.Diagonal(v.Bilinear, v.Dt[i], new Complex64(v.AReal[m], v.AImag[m]), out var x, out var g);
        Put(o.Out0, m, x);
        for (int ch = 0; ch < v.Channels; ch++)
            Put(o.Out1, ch * plane + m, v.HasC == 0 ? g : At(v.C, ch * plane + m) * g);
    }

    /// <summary>G0 = dX, G1 = dC′ → DDt, DAReal, DAImag, DC.</summary>
    [GpuKernel]
    internal static void DiagonalBackwardKernel(Index1D i, DiscretizationViews v, DiscretizationOutputs o)
    {
        int plane = v.H * v.N2;
        double step = v.Dt[i], gdtSum = 0;
        for (int n = 0; n < v.N2; n++)
        {
            int m = i * v.N2 + n;
            var a = new Complex64(v.AReal[m], v.AImag[m]);
            SsmDiscretizationMath.Diagonal(v.Bilinear, step, a, out _, out var g);
            var gg = new Complex64(0, 0);
            for (int ch = 0; ch < v.Channels; ch++)
            {
                int k = ch * plane + m;
                var gcp = At(o.G1, k);
                if (v.HasC == 0) gg += gcp;
                else
                {
                    gg += gcp * At(v.C, k).Conj;
                    Put(o.DC, k, gcp * g.Conj);
                }
            }
            SsmDiscretizationMath.DiagonalBackward(v.Bilinear, step, a, At(o.G0, m), gg, out var ga, out double gdt);
            o.DAReal[m] = (float)ga.Re;
            o.DAImag[m] = (float)ga.Im;
            gdtSum += gdt;
        }
        o.DDt[i] = (float)gdtSum;
    }

    /// <summary>Out0 = W [channels·H, N2, 2], Out1 = V [4, channels·H, N2, 2].</summary>
    [GpuKernel]
    internal static void DplrKernel(Index1D m, DiscretizationViews v, DiscretizationOutputs o)
    {
        int i = m / v.N2, plane = v.H * v.N2, vPlane = v.Channels * plane;
        double step = v.Dt[i];
        var lambda = new Complex64(v.AReal[m], v.AImag[m]);
        Complex64 pm = At(v.P, m), bm = At(v.B, m);
        var pb = step * (pm.Conj * bm);
        var pp = new Complex64(step * (pm.Re * pm.Re + pm.Im * pm.Im), 0);
        for (int ch = 0; ch < v.Channels; ch++)
        {
            int k = ch * plane + m;
            var cm = step * At(v.C, k);
            Put(o.Out0, k, step * lambda);
            Put(o.Out1, k, cm * bm);
            Put(o.Out1, vPlane + k, cm * pm);
            Put(o.Out1, 2 * vPlane + k, pb);
            Put(o.Out1, 3 * vPlane + k, pp);
        }
    }

    /// <summary>G0 = dW, G1 = dV → DDt, DAReal, DAImag, DP, DB, DC.</summary>
    [GpuKernel]
    internal static void DplrBackwardKernel(Index1D i, DiscretizationViews v, DiscretizationOutputs o)
    {
        int plane = v.H * v.N2, vPlane = v.Channels * plane;
        double step = v.Dt[i], gdt = 0;
        for (int n = 0; n < v.N2; n++)
        {
            int m = i * v.N2 + n;
            var lambda = new Complex64(v.AReal[m], v.AImag[m]);
            Complex64 pm = At(v.P, m), bm = At(v.B, m);
            var gl = new Complex64(0, 0);
            var gb = new Complex64(0, 0);
            var gp = new Complex64(0, 0);
            for (int ch = 0; ch < v.Channels; ch++)
            {
                int k = ch * plane + m;
                var cm = At(v.C, k);
                Complex64 g0 = At(o.G1, k), g1 = At(o.G1, vPlane + k), g2 = At(o.G1, 2 * vPlane + k), g3 = At(o.G1, 3 * vPlane + k);
                var gwk = At(o.G0, k);
                gl += gwk;
                Put(o.DC, k, step * (g0 * bm.Conj + g1 * pm.Conj));
                gb += g0 * cm.Conj + g2 * pm;
                gp += g1 * cm.Conj + g2.Conj * bm + (2 * g3.Re) * pm;
                gdt += Complex64.Dot(gwk, lambda) + Complex64.Dot(g0, cm * bm) + Complex64.Dot(g1, cm * pm)
                    + Complex64.Dot(g2, pm.Conj * bm) + g3.Re * (pm.Re * pm.Re + pm.Im * pm.Im);
            }
            o.DAReal[m] = (float)(step * gl.Re);
            o.DAImag[m] = (float)(step * gl.Im);
            Put(o.DB, m, step * gb);
            Put(o.DP, m, step * gp);
        }
        o.DDt[i] = (float)gdt;
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    private static void Launch(Action<Index1D, DiscretizationViews, DiscretizationOutputs> kernel, Tensor any, int n, DiscretizationViews v, DiscretizationOutputs o)
        => Dev(any).Kernel<Action<Index1D, DiscretizationViews, DiscretizationOutputs>>(kernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, DiscretizationViews, DiscretizationOutputs>(kernel))(n, v, o);

    private static DiscretizationViews Views(Tensor dt, Tensor aReal, Tensor aImag, Tensor? p, Tensor? b, Tensor? c, int h, int n2, int channels, int bilinear)
        => new()
        {
            Dt = dt.View, AReal = aReal.View, AImag = aImag.View, P = (p ?? dt).View, B = (b ?? dt).View, C = (c ?? dt).View,
            H = h, N2 = n2, Channels = channels, HasC = c is null ? 0 : 1, Bilinear = bilinear,
        };

    public static void Diagonal(Tensor dt, Tensor aReal, Tensor aImag, Tensor? c, Tensor x, Tensor cPrime, int h, int n2, int channels, int bilinear)
    {
        var o = new DiscretizationOutputs { Out0 = x.View, Out1 = cPrime.View, G0 = x.View, G1 = x.View, DDt = x.View, DAReal = x.View, DAImag = x.View, DP = x.View, DB = x.View, DC = x.View };
        Launch(DiagonalKernel, dt, h * n2, Views(dt, aReal, aImag, null, null, c, h, n2, channels, bilinear), o);
    }

    public static void DiagonalBackward(Tensor dt, Tensor aReal, Tensor aImag, Tensor? c, Tensor dX, Tensor dCPrime,
        Tensor dDt, Tensor dARe, Tensor dAIm, Tensor? dC, int h, int n2, int channels, int bilinear)
    {
        var o = new DiscretizationOutputs
        {
            Out0 = dDt.View, Out1 = dDt.View, G0 = dX.View, G1 = dCPrime.View, DDt = dDt.View, DAReal = dARe.View, DAImag = dAIm.View,
            DP = dDt.View, DB = dDt.View, DC = (dC ?? dDt).View,
        };
        Launch(DiagonalBackwardKernel, dt, h, Views(dt, aReal, aImag, null, null, c, h, n2, channels, bilinear), o);
    }

    public static void DplrCauchyInputs(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c, Tensor w, Tensor v,
        int h, int n2, int channels)
    {
        var o = new DiscretizationOutputs { Out0 = w.View, Out1 = v.View, G0 = w.View, G1 = w.View, DDt = w.View, DAReal = w.View, DAImag = w.View, DP = w.View, DB = w.View, DC = w.View };
        Launch(DplrKernel, dt, h * n2, Views(dt, aReal, aImag, p, b, c, h, n2, channels, 0), o);
    }

    public static void DplrCauchyInputsBackward(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c, Tensor dW, Tensor dV,
        DplrCauchyInputGradients g, int h, int n2, int channels)
    {
        var o = new DiscretizationOutputs
        {
            Out0 = dW.View, Out1 = dW.View, G0 = dW.View, G1 = dV.View, DDt = g.DDt.View, DAReal = g.DAReal.View, DAImag = g.DAImag.View,
            DP = g.DP.View, DB = g.DB.View, DC = g.DC.View,
        };
        Launch(DplrBackwardKernel, dt, h, Views(dt, aReal, aImag, p, b, c, h, n2, channels, 0), o);
    }
}
