namespace Ssm.Kernels;

/// <summary>Scalar complex helpers of <see cref="Cauchy"/> shared by the CPU code and the ILGPU kernels.</summary>
internal static class CauchyMath
{
    /// <summary>1/(a + ib), scaled by max(|a|, |b|) so that |a|² + |b|² cannot overflow.</summary>
    public static void Reciprocal(float a, float b, out float re, out float im)
    {
        float t = 1f / Math.Max(Math.Abs(a), Math.Abs(b));
        float x = a * t, y = b * t;
        float q = t / (x * x + y * y);
        re = x * q;
        im = -y * q;
    }

    /// <summary>out = s·(r0 − r1·r2/(1 + r3)).</summary>
    public static void Woodbury(float r0r, float r0i, float r1r, float r1i, float r2r, float r2i, float r3r, float r3i,
        float sr, float si, out float re, out float im)
    {
        Reciprocal(1f + r3r, r3i, out float dr, out float di);
        float ar = r1r * dr - r1i * di, ai = r1r * di + r1i * dr;   // r1/D
        float xr = r0r - (ar * r2r - ai * r2i), xi = r0i - (ar * r2i + ai * r2r);
        re = sr * xr - si * xi;
        im = sr * xi + si * xr;
    }

    /// <summary>
    /// Gradients of <see cref="Woodbury"/> for upstream g: with X = r0 − r1·r2/D, D = 1 + r3 and dX = g·conj(s):
    /// d0 = dX, d1 = dX·conj(−r2/D), d2 = dX·conj(−r1/D), d3 = dX·conj(r1·r2/D²).
    /// </summary>
    public static void WoodburyGrad(float r1r, float r1i, float r2r, float r2i, float r3r, float r3i, float sr, float si,
        float gr, float gi, out float d0r, out float d0i, out float d1r, out float d1i, out float d2r, out float d2i,
        out float d3r, out float d3i)
    {
        Reciprocal(1f + r3r, r3i, out float dr, out float di);
        float xr = gr * sr + gi * si, xi = gi * sr - gr * si;
        float ar = r1r * dr - r1i * di, ai = r1r * di + r1i * dr;   // r1/D
        float br = r2r * dr - r2i * di, bi = r2r * di + r2i * dr;   // r2/D
        float cr = ar * br - ai * bi, ci = ar * bi + ai * br;       // r1·r2/D²
        d0r = xr; d0i = xi;
        d1r = -(xr * br + xi * bi); d1i = -(xi * br - xr * bi);
        d2r = -(xr * ar + xi * ai); d2i = -(xi * ar - xr * ai);
        d3r = xr * cr + xi * ci; d3i = xi * cr - xr * ci;
    }
}
