namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="SsmDiscretization"/>: channels in parallel, the per-mode math of
/// <see cref="SsmDiscretizationMath"/> in double. The work is O(channels·H·N2), negligible next to the kernels it feeds.
/// </summary>
internal static class SsmDiscretizationCpu
{
    private static Complex64 At(float[] a, int o, int m) => new(a[o + 2 * m], a[o + 2 * m + 1]);

    private static void Put(float[] a, int o, int m, Complex64 v)
    {
        a[o + 2 * m] = (float)v.Re;
        a[o + 2 * m + 1] = (float)v.Im;
    }

    public static void Diagonal(Tensor dt, Tensor aReal, Tensor aImag, Tensor? c, Tensor x, Tensor cPrime, int h, int n2, int channels, int bilinear)
    {
        float[] dta = dt.Data, ar = aReal.Data, ai = aImag.Data, xa = x.Data, cpa = cPrime.Data, ca = c?.Data ?? Array.Empty<float>();
        int dto = dt.Offset, aro = aReal.Offset, aio = aImag.Offset, xo = x.Offset, cpo = cPrime.Offset, co = c?.Offset ?? 0;
        int plane = h * n2;
        CpuParallel.For(h, 16, (h0, h1) =>
        {
            for (int i = h0; i < h1; i++)
                for (int n = 0; n < n2; n++)
                {
                    int m = i * n2 + n;
                    SsmDiscretizationMath.Diagonal(bilinear, dta[dto + i], new Complex64(ar[aro + m], ai[aio + m]), out var xv, out var g);
                    Put(xa, xo, m, xv);
                    for (int ch = 0; ch < channels; ch++)
                        Put(cpa, cpo, ch * plane + m, c is null ? g : At(ca, co, ch * plane + m) * g);
                }
        });
    }

    public static void DiagonalBackward(Tensor dt, Tensor aReal, Tensor aImag, Tensor? c, Tensor dX, Tensor dCPrime,
        Tensor dDt, Tensor dARe, Tensor dAIm, Tensor? dC, int h, int n2, int channels, int bilinear)
    {
        float[] dta = dt.Data, ar = aReal.Data, ai = aImag.Data, gx = dX.Data, gc = dCPrime.Data, ca = c?.Data ?? Array.Empty<float>();
        float[] ddt = dDt.Data, dar = dARe.Data, dai = dAIm.Data, dca = dC?.Data ?? Array.Empty<float>();
        int dto = dt.Offset, aro = aReal.Offset, aio = aImag.Offset, gxo = dX.Offset, gco = dCPrime.Offset, co = c?.Offset ?? 0;
        int ddto = dDt.Offset, daro = dARe.Offset, daio = dAIm.Offset, dco = dC?.Offset ?? 0;
        int plane = h * n2;
        CpuParallel.For(h, 16, (h0, h1) =>
        {
            for (int i = h0; i < h1; i++)
            {
                double gdtSum = 0;
                double step = dta[dto + i];
                for (int n = 0; n < n2; n++)
                {
                    int m = i * n2 + n;
                    var a = new Complex64(ar[aro + m], ai[aio + m]);
                    SsmDiscretizationMath.Diagonal(bilinear, step, a, out _, out var g);
                    var gg = new Complex64(0, 0);
                    for (int ch = 0; ch < channels; ch++)
                    {
                        int k = ch * plane + m;
                        var gcp = At(gc, gco, k);
                        if (c is null) gg += gcp;
                        else
                        {
                            gg += gcp * At(ca, co, k).Conj;
                            Put(dca, dco, k, gcp * g.Conj);
                        }
                    }
                    SsmDiscretizationMath.DiagonalBackward(bilinear, step, a, At(gx, gxo, m), gg, out var ga, out double gdt);
                    dar[daro + m] = (float)ga.Re;
                    dai[daio + m] = (float)ga.Im;
                    gdtSum += gdt;
                }
                ddt[ddto + i] = (float)gdtSum;
            }
        });
    }

    public static void DplrCauchyInputs(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c, Tensor w, Tensor v,
        int h, int n2, int channels)
    {
        float[] dta = dt.Data, ar = aReal.Data, ai = aImag.Data, pa = p.Data, ba = b.Data, ca = c.Data, wa = w.Data, va = v.Data;
        int dto = dt.Offset, aro = aReal.Offset, aio = aImag.Offset, po = p.Offset, bo = b.Offset, co = c.Offset, wo = w.Offset, vo = v.Offset;
        int plane = h * n2, vPlane = channels * plane;
        CpuParallel.For(h, 16, (h0, h1) =>
        {
            for (int i = h0; i < h1; i++)
                for (int n = 0; n < n2; n++)
                {
                    int m = i * n2 + n;
                    double step = dta[dto + i];
                    var lambda = new Complex64(ar[aro + m], ai[aio + m]);
                    Complex64 pm = At(pa, po, m), bm = At(ba, bo, m);
                    var pb = step * (pm.Conj * bm);
                    var pp = new Complex64(step * (pm.Re * pm.Re + pm.Im * pm.Im), 0);
                    for (int ch = 0; ch < channels; ch++)
                    {
                        int k = ch * plane + m;
                        var cm = step * At(ca, co, k);
                        Put(wa, wo, k, step * lambda);
                        Put(va, vo, k, cm * bm);
                        Put(va, vo, vPlane + k, cm * pm);
                        Put(va, vo, 2 * vPlane + k, pb);
                        Put(va, vo, 3 * vPlane + k, pp);
                    }
                }
        });
    }

    public static void DplrCauchyInputsBackward(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c, Tensor dW, Tensor dV,
        DplrCauchyInputGradients grads, int h, int n2, int channels)
    {
        float[] dta = dt.Data, ar = aReal.Data, ai = aImag.Data, pa = p.Data, ba = b.Data, ca = c.Data, gw = dW.Data, gv = dV.Data;
        int dto = dt.Offset, aro = aReal.Offset, aio = aImag.Offset, po = p.Offset, bo = b.Offset, co = c.Offset, gwo = dW.Offset, gvo = dV.Offset;
        float[] ddt = grads.DDt.Data, dar = grads.DAReal.Data, dai = grads.DAImag.Data, dp = grads.DP.Data, db = grads.DB.Data, dc = grads.DC.Data;
        int ddto = grads.DDt.Offset, daro = grads.DAReal.Offset, daio = grads.DAImag.Offset, dpo = grads.DP.Offset, dbo = grads.DB.Offset, dco = grads.DC.Offset;
        int plane = h * n2, vPlane = channels * plane;
        CpuParallel.For(h, 16, (h0, h1) =>
        {
            for (int i = h0; i < h1; i++)
            {
                double step = dta[dto + i], gdt = 0;
                for (int n = 0; n < n2; n++)
                {
                    int m = i * n2 + n;
                    var lambda = new Complex64(ar[aro + m], ai[aio + m]);
                    Complex64 pm = At(pa, po, m), bm = At(ba, bo, m);
                    Complex64 gl = default, gb = default, gp = default;
                    for (int ch = 0; ch < channels; ch++)
                    {
                        int k = ch * plane + m;
                        var cm = At(ca, co, k);
                        Complex64 g0 = At(gv, gvo, k), g1 = At(gv, gvo, vPlane + k), g2 = At(gv, gvo, 2 * vPlane + k), g3 = At(gv, gvo, 3 * vPlane + k);
                        var gwk = At(gw, gwo, k);
                        gl += gwk;
                        Put(dc, dco, k, step * (g0 * bm.Conj + g1 * pm.Conj));
                        gb += g0 * cm.Conj + g2 * pm;
                        gp += g1 * cm.Conj + g2.Conj * bm + (2 * g3.Re) * pm;
                        gdt += Complex64.Dot(gwk, lambda) + Complex64.Dot(g0, cm * bm) + Complex64.Dot(g1, cm * pm)
                            + Complex64.Dot(g2, pm.Conj * bm) + g3.Re * (pm.Re * pm.Re + pm.Im * pm.Im);
                    }
                    dar[daro + m] = (float)(step * gl.Re);
                    dai[daio + m] = (float)(step * gl.Im);
                    Put(db, dbo, m, step * gb);
                    Put(dp, dpo, m, step * gp);
                }
                ddt[ddto + i] = (float)gdt;
            }
        });
    }
}
