namespace Ssm.Kernels;

/// <summary>
/// Managed CPU implementation of <see cref="SsmRecurrence"/>: (b, h) rows in parallel; per row the modes' constants and
/// the state are kept in double for the whole chunk. Diagonal: mode-outer, time-inner (each mode is an independent
/// scalar recurrence; y accumulates in double). DPLR: time-outer, three passes over the modes per step.
/// </summary>
internal static class SsmRecurrenceCpu
{
    private static Complex64 At(float[] a, int o, int m) => new(a[o + 2 * m], a[o + 2 * m + 1]);

    private static void Put(float[] a, int o, int m, Complex64 v)
    {
        a[o + 2 * m] = (float)v.Re;
        a[o + 2 * m + 1] = (float)v.Im;
    }

    public static void Diagonal(Tensor logABar, Tensor bBar, Tensor c, Tensor u, Tensor state, Tensor y, int h, int n2, int length, int homogeneous)
    {
        float[] la = logABar.Data, ba = bBar.Data, ca = c.Data, ua = u.Data, sa = state.Data, ya = y.Data;
        int lo = logABar.Offset, bo = bBar.Offset, co = c.Offset, uo = u.Offset, so = state.Offset, yo = y.Offset;
        CpuParallel.For(state.Size(0) * h, 1, (r0, r1) =>
        {
            var acc = new double[length];
            for (int r = r0; r < r1; r++)
            {
                int hh = r % h, urow = uo + r * length;
                Array.Clear(acc);
                for (int n = 0; n < n2; n++)
                {
                    int m = hh * n2 + n;
                    var abar = SsmRecurrenceMath.Exp(At(la, lo, m));
                    Complex64 bb = At(ba, bo, m), cc = 2.0 * At(ca, co, m);
                    var s = At(sa, so, r * n2 + n);
                    var a = s;
                    for (int t = 0; t < length; t++)
                    {
                        s = abar * s + ua[urow + t] * bb;
                        if (homogeneous != 0)
                        {
                            a = abar * a;
                            acc[t] += cc.Re * a.Re - cc.Im * a.Im;
                        }
                        else acc[t] += cc.Re * s.Re - cc.Im * s.Im;
                    }
                    Put(sa, so, r * n2 + n, s);
                }
                for (int t = 0; t < length; t++) ya[yo + r * length + t] = (float)acc[t];
            }
        });
    }

    public static void Dplr(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c, Tensor u, Tensor state, Tensor? scratch, Tensor y,
        int h, int n2, int length)
    {
        float[] dta = dt.Data, ar = aReal.Data, ai = aImag.Data, pa = p.Data, ba = b.Data, ca = c.Data, ua = u.Data, sa = state.Data, ya = y.Data;
        int dto = dt.Offset, aro = aReal.Offset, aio = aImag.Offset, po = p.Offset, bo = b.Offset, co = c.Offset, uo = u.Offset, so = state.Offset, yo = y.Offset;
        float[]? ha = scratch?.Data;
        int ho = scratch?.Offset ?? 0;
        CpuParallel.For(state.Size(0) * h, 1, (r0, r1) =>
        {
            var d = new Complex64[n2];
            var e = new Complex64[n2];
            var pp = new Complex64[n2];
            var bb = new Complex64[n2];
            var cc = new Complex64[n2];
            var x = new Complex64[n2];
            var xh = new Complex64[n2];
            for (int r = r0; r < r1; r++)
            {
                int hh = r % h, urow = uo + r * length;
                double two = 2.0 / dta[dto + hh], sum = 0;
                for (int n = 0; n < n2; n++)
                {
                    int m = hh * n2 + n;
                    var lambda = new Complex64(ar[aro + m], ai[aio + m]);
                    d[n] = SsmRecurrenceMath.Resolvent(two, lambda);
                    e[n] = new Complex64(two, 0.0) + lambda;
                    pp[n] = At(pa, po, m);
                    bb[n] = 2.0 * At(ba, bo, m);
                    cc[n] = At(ca, co, m);
                    sum += SsmRecurrenceMath.PairDot(pp[n], d[n] * pp[n]);
                    x[n] = At(sa, so, r * n2 + n);
                    if (ha is not null) xh[n] = At(ha, ho, r * n2 + n);
                }
                double rinv = 1.0 / (1.0 + sum);
                for (int t = 0; t < length; t++)
                {
                    double yt = Step(x, ua[urow + t], d, e, pp, bb, cc, rinv);
                    if (ha is not null) yt = Step(xh, 0.0, d, e, pp, bb, cc, rinv);
                    ya[yo + r * length + t] = (float)yt;
                }
                for (int n = 0; n < n2; n++) Put(sa, so, r * n2 + n, x[n]);
            }
        });
    }

    /// <summary>x ← (2/Δ − A)⁻¹((2/Δ + A)x + 2B̃u) in O(N2) (see <see cref="SsmRecurrence.Dplr"/>); returns 2·Re Σ C·x.</summary>
    private static double Step(Complex64[] x, double u, Complex64[] d, Complex64[] e, Complex64[] p, Complex64[] twoB, Complex64[] c, double rinv)
    {
        int n2 = x.Length;
        double s1 = 0, s2 = 0, y = 0;
        for (int n = 0; n < n2; n++) s1 += SsmRecurrenceMath.PairDot(p[n], x[n]);
        for (int n = 0; n < n2; n++)
        {
            x[n] = e[n] * x[n] - s1 * p[n] + u * twoB[n];
            s2 += SsmRecurrenceMath.PairDot(p[n], d[n] * x[n]);
        }
        double k = rinv * s2;
        for (int n = 0; n < n2; n++)
        {
            x[n] = d[n] * (x[n] - k * p[n]);
            y += 2.0 * (c[n].Re * x[n].Re - c[n].Im * x[n].Im);
        }
        return y;
    }
}
