namespace Ssm.Kernels;

// Normalizations over the last dimension D of x[..., D], each row split into D/groupSize groups of consecutive channels:
//   LayerNorm:    y = (x − mean)·rstd·w + b,          rstd = 1/√(mean((x − mean)²) + eps)
//   RMSNorm:      y = x·rstd·w,                        rstd = 1/√(mean(x²) + eps)            (mamba_ssm / Llama)
//   GatedRMSNorm: y = g·rstd_group·w, g = x ⊙ SiLU(z), rstd over each group of g            (mamba_ssm RMSNormGated,
//                 norm_before_gate=False, as in Mamba2; see mamba_ssm/ops/triton/layernorm_gated.py rms_norm_ref)
// Backward, per row and group with x̂ = (g − mean)·rstd, u = w ⊙ dy (u = dy without a weight), n = groupSize:
//   dg = rstd·(u − x̂·Σ(x̂ ⊙ u)/n − Σu/n)   (the last term only for LayerNorm),  dw = Σ_rows dy ⊙ x̂,  db = Σ_rows dy,
//   gated: dx = dg ⊙ SiLU(z),  dz = dg ⊙ x ⊙ SiLU′(z).

/// <summary>
/// Result of a normalization forward: the output and the statistics saved for the backward pass.
/// </summary>
/// <param name="Output">y, the same shape as x.</param>
/// <param name="Mean">Per-row mean, shape [..., 1] (LayerNorm only; null for the RMS norms).</param>
/// <param name="Rstd">1/√(variance + eps) per row and group, shape [..., groups] (groups = 1 unless grouped).</param>
public sealed record NormOutput(Tensor Output, Tensor? Mean, Tensor Rstd);

/// <summary>Gradients from a normalization backward pass (null where not requested or not applicable).</summary>
/// <param name="Dx">dL/dx, the shape of x.</param>
/// <param name="Dz">dL/dz for the gated norm, the shape of z.</param>
/// <param name="Dweight">dL/dweight, shape [D].</param>
/// <param name="Dbias">dL/dbias, shape [D] (LayerNorm only).</param>
public sealed record NormGradients(Tensor? Dx, Tensor? Dz, Tensor? Dweight, Tensor? Dbias);

/// <summary>
/// LayerNorm, RMSNorm and gated (grouped) RMSNorm over the last dimension, with fused backward kernels. Each forward
/// returns the per-row statistics (<see cref="NormOutput"/>) that its backward reuses. CPU: rows in parallel with
/// TensorPrimitives SIMD, weight/bias gradients from per-worker partial column sums. ILGPU: one thread group per row and
/// norm group with a shared-memory reduction; weight/bias gradients from per-row-block partials and a second pass.
/// </summary>
public static class Norms
{
    /// <summary>
    /// LayerNorm over the last dimension: y = (x − mean)/√(var + eps)·weight + bias (biased variance, as PyTorch).
    /// <paramref name="weight"/> and <paramref name="bias"/> are optional, shape [D].
    /// </summary>
    public static NormOutput LayerNorm(Tensor x, Tensor? weight = null, Tensor? bias = null, float eps = 1e-5f)
    {
        const string op = "Norms.LayerNorm";
        var spec = Check(op, x, null, weight, bias, null, eps, center: true);
        return Forward(spec, x, null, weight, bias);
    }

    /// <summary>
    /// Backward of <see cref="LayerNorm"/> given dy and the forward's <paramref name="mean"/> and <paramref name="rstd"/>.
    /// Computes dx when <paramref name="inputGrad"/>, dweight when <paramref name="weightGrad"/> (and a weight was used),
    /// dbias when <paramref name="biasGrad"/>.
    /// </summary>
    public static NormGradients LayerNormBackward(Tensor dy, Tensor x, Tensor? weight, Tensor mean, Tensor rstd,
        bool inputGrad = true, bool weightGrad = true, bool biasGrad = true)
    {
        const string op = "Norms.LayerNormBackward";
        var spec = Check(op, x, null, weight, null, null, 0f, center: true);
        CheckStats(op, spec, x, dy, mean, rstd);
        return Backward(spec, dy, x, null, weight, mean, rstd, inputGrad, weightGrad && weight is not null, biasGrad);
    }

    /// <summary>RMSNorm over the last dimension (mamba_ssm / Llama): y = x/√(mean(x²) + eps)·weight; weight [D].</summary>
    public static NormOutput RmsNorm(Tensor x, Tensor weight, float eps = 1e-5f)
    {
        const string op = "Norms.RmsNorm";
        ArgumentNullException.ThrowIfNull(weight);
        var spec = Check(op, x, null, weight, null, null, eps, center: false);
        return Forward(spec, x, null, weight, null);
    }

    /// <summary>Backward of <see cref="RmsNorm"/>: dx (when <paramref name="inputGrad"/>) and dweight (when <paramref name="weightGrad"/>).</summary>
    public static NormGradients RmsNormBackward(Tensor dy, Tensor x, Tensor weight, Tensor rstd,
        bool inputGrad = true, bool weightGrad = true)
    {
        const string op = "Norms.RmsNormBackward";
        ArgumentNullException.ThrowIfNull(weight);
        var spec = Check(op, x, null, weight, null, null, 0f, center: false);
        CheckStats(op, spec, x, dy, null, rstd);
        return Backward(spec, dy, x, null, weight, null, rstd, inputGrad, weightGrad, false);
    }

    /// <summary>
    /// Gated RMSNorm as mamba_ssm's RMSNormGated with norm_before_gate=False (Mamba2): g = x ⊙ SiLU(z), then each group of
    /// <paramref name="groupSize"/> consecutive channels of the last dimension is divided by its RMS,
    /// y = g/√(mean_group(g²) + eps)·weight. groupSize = D is the ungrouped case; Mamba2 uses D/ngroups.
    /// </summary>
    public static NormOutput GatedRmsNorm(Tensor x, Tensor z, Tensor weight, int groupSize, float eps = 1e-5f)
    {
        const string op = "Norms.GatedRmsNorm";
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(weight);
        var spec = Check(op, x, z, weight, null, groupSize, eps, center: false);
        return Forward(spec, x, z, weight, null);
    }

    /// <summary>
    /// Backward of <see cref="GatedRmsNorm"/>: dx and dz (when <paramref name="inputGrad"/>) and dweight (when
    /// <paramref name="weightGrad"/>), given the forward's <paramref name="rstd"/> [..., D/groupSize].
    /// </summary>
    public static NormGradients GatedRmsNormBackward(Tensor dy, Tensor x, Tensor z, Tensor weight, Tensor rstd, int groupSize,
        bool inputGrad = true, bool weightGrad = true)
    {
        const string op = "Norms.GatedRmsNormBackward";
        ArgumentNullException.ThrowIfNull(z);
        ArgumentNullException.ThrowIfNull(weight);
        var spec = Check(op, x, z, weight, null, groupSize, 0f, center: false);
        CheckStats(op, spec, x, dy, null, rstd);
        return Backward(spec, dy, x, z, weight, null, rstd, inputGrad, weightGrad, false);
    }

    private static NormOutput Forward(NormSpec spec, Tensor x, Tensor? z, Tensor? weight, Tensor? bias)
    {
        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        var mean = spec.Center != 0 ? Tensor.Empty(StatsShape(x, 1), DType.Float32, x.Device) : null;
        var rstd = Tensor.Empty(StatsShape(x, spec.Groups), DType.Float32, x.Device);
        if (spec.Rows > 0)
        {
            if (x.Device.IsIlgpu) NormsGpu.Forward(spec, x, z, weight, bias, y, mean, rstd);
            else NormsCpu.Forward(spec, x, z, weight, bias, y, mean, rstd);
        }
        return new NormOutput(y, mean, rstd);
    }

    private static NormGradients Backward(NormSpec spec, Tensor dy, Tensor x, Tensor? z, Tensor? weight, Tensor? mean, Tensor rstd,
        bool inputGrad, bool weightGrad, bool biasGrad)
    {
        var dev = x.Device;
        var dx = inputGrad ? Tensor.Empty(x.Shape, DType.Float32, dev) : null;
        var dz = inputGrad && z is not null ? Tensor.Empty(z.Shape, DType.Float32, dev) : null;
        var dw = weightGrad ? Tensor.Zeros(new[] { spec.D }, DType.Float32, dev) : null;
        var db = biasGrad ? Tensor.Zeros(new[] { spec.D }, DType.Float32, dev) : null;
        if (spec.Rows > 0 && (inputGrad || weightGrad || biasGrad))
        {
            if (dev.IsIlgpu) NormsGpu.Backward(spec, dy, x, z, weight, mean, rstd, dx, dz, dw, db);
            else NormsCpu.Backward(spec, dy, x, z, weight, mean, rstd, dx, dz, dw, db);
        }
        return new NormGradients(dx, dz, dw, db);
    }

    /// <summary>Validates the arguments; <paramref name="groupSize"/> null means one group of D channels.</summary>
    private static NormSpec Check(string op, Tensor x, Tensor? z, Tensor? weight, Tensor? bias, int? groupSize, float eps, bool center)
    {
        ArgumentNullException.ThrowIfNull(x);
        Guard.DType(op, x, "x", DType.Float32);
        if (x.Rank == 0 || x.Size(-1) == 0)
            throw new ArgumentException($"{op}: x has shape {Shapes.Format(x.Shape)}, expected [..., D] with D ≥ 1.", nameof(x));
        int d = x.Size(-1);
        if (z is not null)
        {
            Guard.DType(op, z, "z", DType.Float32);
            Guard.SameDevice(op, x, "x", z, "z");
            Guard.Shape(op, z, "z", x.Shape, "(the shape of x)");
        }
        foreach (var (t, name) in new[] { (weight, "weight"), (bias, "bias") })
        {
            if (t is null) continue;
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, x, "x", t, name);
            Guard.Shape(op, t, name, new[] { d }, $"[D] (D = {d}, the last dimension of x)");
        }
        int n = groupSize ?? d;
        if (n < 1 || d % n != 0)
            throw new ArgumentOutOfRangeException(nameof(groupSize), n,
                $"{op}: groupSize is {n}, expected a positive divisor of D = {d} (the last dimension of x).");
        if (eps < 0 || float.IsNaN(eps))
            throw new ArgumentOutOfRangeException(nameof(eps), eps, $"{op}: eps is {eps}, expected ≥ 0.");
        return new NormSpec
        {
            Rows = x.Length / d, D = d, GroupSize = n, Groups = d / n, Eps = eps,
            HasZ = z is null ? 0 : 1, HasWeight = weight is null ? 0 : 1, HasBias = bias is null ? 0 : 1, Center = center ? 1 : 0,
        };
    }

    private static void CheckStats(string op, NormSpec spec, Tensor x, Tensor dy, Tensor? mean, Tensor rstd)
    {
        ArgumentNullException.ThrowIfNull(dy);
        ArgumentNullException.ThrowIfNull(rstd);
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.SameDevice(op, x, "x", dy, "dy");
        Guard.Shape(op, dy, "dy", x.Shape, "(the shape of x)");
        Guard.SameDevice(op, x, "x", rstd, "rstd");
        Guard.Shape(op, rstd, "rstd", StatsShape(x, spec.Groups), "[..., groups] (from the forward pass)");
        if (spec.Center != 0)
        {
            ArgumentNullException.ThrowIfNull(mean);
            Guard.SameDevice(op, x, "x", mean, "mean");
            Guard.Shape(op, mean, "mean", StatsShape(x, 1), "[..., 1] (from the forward pass)");
        }
    }

    private static int[] StatsShape(Tensor x, int groups)
    {
        var s = x.ShapeArray();
        s[^1] = groups;
        return s;
    }
}

/// <summary>Sizes and flags of one normalization call (also the ILGPU kernel parameter).</summary>
internal struct NormSpec
{
    /// <summary>Number of rows (product of the leading dimensions).</summary>
    public int Rows;
    /// <summary>Last dimension.</summary>
    public int D;
    /// <summary>Channels per norm group (D when ungrouped).</summary>
    public int GroupSize;
    /// <summary>D / GroupSize.</summary>
    public int Groups;
    /// <summary>Added to the variance.</summary>
    public float Eps;
    /// <summary>1 when x is gated by SiLU(z) before normalizing.</summary>
    public int HasZ;
    /// <summary>1 when a weight multiplies the normalized value.</summary>
    public int HasWeight;
    /// <summary>1 when a bias is added.</summary>
    public int HasBias;
    /// <summary>1 for LayerNorm (subtract the mean), 0 for the RMS norms.</summary>
    public int Center;
}
