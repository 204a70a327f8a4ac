using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>Views and sizes of <see cref="SsmRecurrenceGpu"/>'s kernels (unused views are placeholders).</summary>
internal struct RecurrenceViews
{
    public ArrayView<float> Dt, AReal, AImag, LogABar, P, B, C, U, State, Scratch, Y;
    public int H, N2, Length, Homogeneous;
}

/// <summary>
/// ILGPU kernels of <see cref="SsmRecurrence"/>: one thread per (b, h) row, sequential in time; double arithmetic per
/// step with the state stored as float in global memory (the state tensor, and a scratch copy for the homogeneous part).
/// </summary>
internal static class SsmRecurrenceGpu
{
    private static Complex64 At(ArrayView<float> a, int m) => new(a[2 * m], a[2 * m + 1]);

    private static void Put(ArrayView<float> a, int m, Complex64 v)
    {
        a[2 * m] = (float)v.Re;
        a[2 * m + 1] = (float)v.Im;
    }

    [GpuKernel]
    internal static void DiagonalKernel(Index1D r, RecurrenceViews v)
    {
        int hh = r % v.H, urow = r * v.Length;
        for (int n = 0; n < v.N2; n++)
        {
            int m = hh * v.N2 + n;
            var abar = SsmRecurrenceMath.Exp(At(v.LogABar, m));
            Complex64 bb = At(v.B, m), cc = 2.0 * At(v.C, m);
            var s = At(v.State, r * v.N2 + n);
            var a = s;
            for (int t = 0; t < v.Length; t++)
            {
                s = abar * s + v.U[urow + t] * bb;
                if (v.Homogeneous != 0) a = abar * a;
                var o = v.Homogeneous != 0 ? a : s;
                v.Y[urow + t] += (float)(cc.Re * o.Re - cc.Im * o.Im);
            }
            Put(v.State, r * v.N2 + n, s);
        }
    }

    [GpuKernel]
    internal static void DplrKernel(Index1D r, RecurrenceViews v)
    {
        int hh = r % v.H, urow = r * v.Length;
        double two = 2.0 / v.Dt[hh], sum = 0;
        for (int n = 0; n < v.N2; n++)
        {
            int m = hh * v.N2 + n;
            var p = At(v.P, m);
            sum += SsmRecurrenceMath.PairDot(p, SsmRecurrenceMath.Resolvent(two, new Complex64(v.AReal[m], v.AImag[m])) * p);
        }
        double rinv = 1.0 / (1.0 + sum);
        for (int t = 0; t < v.Length; t++)
        {
            double yt = Step(v, v.State, r, hh, v.U[urow + t], two, rinv);
            if (v.Homogeneous != 0) yt = Step(v, v.Scratch, r, hh, 0.0, two, rinv);
            v.Y[urow + t] = (float)yt;
        }
    }

    /// <summary>One DPLR step of row r of <paramref name="x"/> (see <see cref="SsmRecurrence.Dplr"/>); returns 2·Re Σ C·x.</summary>
    private static double Step(RecurrenceViews v, ArrayView<float> x, int r, int hh, double u, double two, double rinv)
    {
        int n2 = v.N2, row = r * n2, mode = hh * n2;
        double s1 = 0, s2 = 0, y = 0;
        for (int n = 0; n < n2; n++) s1 += SsmRecurrenceMath.PairDot(At(v.P, mode + n), At(x, row + n));
        for (int n = 0; n < n2; n++)
        {
            var lambda = new Complex64(v.AReal[mode + n], v.AImag[mode + n]);
            var p = At(v.P, mode + n);
            var xn = (new Complex64(two, 0.0) + lambda) * At(x, row + n) - s1 * p + (2.0 * u) * At(v.B, mode + n);
            Put(x, row + n, xn);
            s2 += SsmRecurrenceMath.PairDot(p, SsmRecurrenceMath.Resolvent(two, lambda) * xn);
        }
        double k = rinv * s2;
        for (int n = 0; n < n2; n++)
        {
            var d = SsmRecurrenceMath.Resolvent(two, new Complex64(v.AReal[mode + n], v.AImag[mode + n]));
            var xn = d * (At(x, row + n) - k * At(v.P, mode + n));
            Put(x, row + n, xn);
            var c = At(v.C, mode + n);
            y += 2.0 * (c.Re * xn.Re - c.Im * xn.Im);
        }
        return y;
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    private static void Launch(Action<Index1D, RecurrenceViews> kernel, Tensor any, int rows, RecurrenceViews v)
        => Dev(any).Kernel<Action<Index1D, RecurrenceViews>>(kernel, a => a.LoadAutoGroupedStreamKernel<Index1D, RecurrenceViews>(kernel))(rows, v);

    public static void Diagonal(Tensor logABar, Tensor bBar, Tensor c, Tensor u, Tensor state, Tensor y, int h, int n2, int length, int homogeneous)
    {
        var v = new RecurrenceViews
        {
            Dt = y.View, AReal = y.View, AImag = y.View, LogABar = logABar.View, P = y.View, B = bBar.View, C = c.View, U = u.View,
            State = state.View, Scratch = y.View, Y = y.View, H = h, N2 = n2, Length = length, Homogeneous = homogeneous,
        };
        Launch(DiagonalKernel, u, state.Size(0) * h, v);
    }

    public static void Dplr(Tensor dt, Tensor aReal, Tensor aImag, Tensor p, Tensor b, Tensor c, Tensor u, Tensor state, Tensor? scratch, Tensor y,
        int h, int n2, int length)
    {
        var v = new RecurrenceViews
        {
            Dt = dt.View, AReal = aReal.View, AImag = aImag.View, LogABar = y.View, P = p.View, B = b.View, C = c.View, U = u.View,
            State = state.View, Scratch = (scratch ?? state).View, Y = y.View, H = h, N2 = n2, Length = length, Homogeneous = scratch is null ? 0 : 1,
        };
        Launch(DplrKernel, u, state.Size(0) * h, v);
    }
}
