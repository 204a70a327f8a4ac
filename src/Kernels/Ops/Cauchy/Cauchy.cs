namespace Ssm.Kernels;

/// <summary>
/// The S4 Cauchy kernel and its rank-1 Woodbury correction (Gu et al., "Efficiently Modeling Long Sequences with
/// Structured State Spaces", and state-spaces/s4 models/s4/s4.py: cauchy_naive / cauchy_keops, SSMKernelDPLR.forward).
/// Each stored mode n stands for the conjugate pair (w_n, conj w_n) with coefficients (v_n, conj v_n):
/// <c>r[b, h, k] = Σ_n v/(z_k − w) + conj(v)/(z_k − conj w) = Σ_n 2·(Re(v)·z_k − Re(v·conj w)) / ((z_k − w)(z_k − conj w))</c>.
/// Complex numbers are float pairs (re, im) in a trailing dimension of size 2. The leading dimension b batches several
/// coefficient vectors over the same poles w (S4 uses 4: [C̃, conj P̃] × [B̃, P̃]). The division is scaled, so nodes up to
/// |z| ~ 1e18 (the bilinear node at ω = −1 is ~1e16) do not overflow; z must not coincide with a pole.
/// </summary>
public static class Cauchy
{
    /// <summary>r[b, h, k] = Σ_n v[b, h, n]/(z[k] − w[h, n]) + conj(v[b, h, n])/(z[k] − conj(w[h, n])).</summary>
    /// <param name="v">[R, H, N2, 2]: coefficients (complex).</param>
    /// <param name="w">[H, N2, 2]: poles (complex).</param>
    /// <param name="z">[K, 2]: nodes (complex), shared by all channels.</param>
    /// <returns>r: [R, H, K, 2].</returns>
    public static Tensor Multiply(Tensor v, Tensor w, Tensor z)
    {
        var (r, h, n2, k) = Check("Cauchy.Multiply", v, w, z);
        var y = Tensor.Empty(new[] { r, h, k, 2 }, DType.Float32, v.Device);
        if (y.Length == 0) return y;
        if (n2 == 0) { Elementwise.Fill(y, 0f); return y; }
        if (v.Device.IsIlgpu) CauchyGpu.Multiply(v, w, z, y, r, h, n2, k);
        else CauchyCpu.Multiply(v, w, z, y, r, h, n2, k);
        return y;
    }

    /// <summary>
    /// The backward of <see cref="Multiply"/>: given dr = ∂loss/∂r (real view), the gradients of the real views of v and
    /// w (as complex numbers re + i·im, PyTorch's convention): with p = 1/(z − conj w) and q = 1/(conj z − conj w),
    /// dv[b, h, n] = Σ_k dr·q + conj(dr)·p and dw[h, n] = Σ_b conj(v[b, h, n])·Σ_k (dr·q² + conj(dr)·p²). The nodes get no
    /// gradient.
    /// </summary>
    /// <returns>(dv [R, H, N2, 2], dw [H, N2, 2]).</returns>
    public static (Tensor DV, Tensor DW) Backward(Tensor v, Tensor w, Tensor z, Tensor dr)
    {
        const string op = "Cauchy.Backward";
        var (r, h, n2, k) = Check(op, v, w, z);
        Guard.DType(op, dr, "dr", DType.Float32);
        Guard.SameDevice(op, v, "v", dr, "dr");
        Guard.Shape(op, dr, "dr", new[] { r, h, k, 2 }, "[R, H, K, 2] (the shape of the result of Cauchy.Multiply)");
        var dv = Tensor.Empty(v.Shape, DType.Float32, v.Device);
        var dw = Tensor.Empty(w.Shape, DType.Float32, v.Device);
        if (n2 == 0 || h == 0) return (dv, dw);
        if (r == 0 || k == 0)
        {
            Elementwise.Fill(dw, 0f);
            if (dv.Length > 0) Elementwise.Fill(dv, 0f);
            return (dv, dw);
        }
        if (v.Device.IsIlgpu) CauchyGpu.Backward(v, w, z, dr, dv, dw, r, h, n2, k);
        else CauchyCpu.Backward(v, w, z, dr, dv, dw, r, h, n2, k);
        return (dv, dw);
    }

    /// <summary>
    /// The rank-1 Woodbury combination of S4's four Cauchy sums, times a per-node factor:
    /// <c>out[h, k] = scale[k]·(r[0, h, k] − r[1, h, k]·r[2, h, k]/(1 + r[3, h, k]))</c>, i.e. with r ordered
    /// (r00, r01, r10, r11) over [C̃, conj P̃] × [B̃, P̃] and scale = 2/(1 + ω), the bilinear S4 kernel's frequency response.
    /// </summary>
    /// <param name="r">[4, H, K, 2] (complex).</param>
    /// <param name="scale">[K, 2] (complex).</param>
    /// <returns>[H, K, 2].</returns>
    public static Tensor WoodburyRank1(Tensor r, Tensor scale)
    {
        var (h, k) = CheckWoodbury("Cauchy.WoodburyRank1", r, scale);
        var y = Tensor.Empty(new[] { h, k, 2 }, DType.Float32, r.Device);
        if (y.Length == 0) return y;
        if (r.Device.IsIlgpu) CauchyGpu.Woodbury(r, scale, y, h, k);
        else CauchyCpu.Woodbury(r, scale, y, h, k);
        return y;
    }

    /// <summary>The backward of <see cref="WoodburyRank1"/>: dr (real view, [4, H, K, 2]) from dOut = ∂loss/∂out ([H, K, 2]).</summary>
    public static Tensor WoodburyRank1Backward(Tensor r, Tensor scale, Tensor dOut)
    {
        const string op = "Cauchy.WoodburyRank1Backward";
        var (h, k) = CheckWoodbury(op, r, scale);
        Guard.DType(op, dOut, "dOut", DType.Float32);
        Guard.SameDevice(op, r, "r", dOut, "dOut");
        Guard.Shape(op, dOut, "dOut", new[] { h, k, 2 }, "[H, K, 2]");
        var dr = Tensor.Empty(r.Shape, DType.Float32, r.Device);
        if (dr.Length == 0) return dr;
        if (r.Device.IsIlgpu) CauchyGpu.WoodburyBackward(r, scale, dOut, dr, h, k);
        else CauchyCpu.WoodburyBackward(r, scale, dOut, dr, h, k);
        return dr;
    }

    private static (int R, int H, int N2, int K) Check(string op, Tensor v, Tensor w, Tensor z)
    {
        Guard.DType(op, v, "v", DType.Float32);
        Guard.DType(op, w, "w", DType.Float32);
        Guard.DType(op, z, "z", DType.Float32);
        Guard.SameDevice(op, v, "v", w, "w");
        Guard.SameDevice(op, v, "v", z, "z");
        Guard.Shape(op, w, "w", new[] { -1, -1, 2 }, "[H, N2, 2] (complex poles as (re, im))");
        int h = w.Size(0), n2 = w.Size(1);
        Guard.Shape(op, v, "v", new[] { -1, h, n2, 2 }, $"[R, H, N2, 2] with H = {h}, N2 = {n2} from w");
        Guard.Shape(op, z, "z", new[] { -1, 2 }, "[K, 2] (complex nodes as (re, im))");
        return (v.Size(0), h, n2, z.Size(0));
    }

    private static (int H, int K) CheckWoodbury(string op, Tensor r, Tensor scale)
    {
        Guard.DType(op, r, "r", DType.Float32);
        Guard.DType(op, scale, "scale", DType.Float32);
        Guard.SameDevice(op, r, "r", scale, "scale");
        Guard.Shape(op, r, "r", new[] { 4, -1, -1, 2 }, "[4, H, K, 2] (r00, r01, r10, r11; complex)");
        Guard.Shape(op, scale, "scale", new[] { r.Size(2), 2 }, $"[K, 2] with K = {r.Size(2)} from r");
        return (r.Size(1), r.Size(2));
    }
}
