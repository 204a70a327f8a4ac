namespace Ssm.Kernels;

// Fused pieces of the Titans neural-memory update (Behrouz et al. 2024, "Titans: Learning to Memorize at Test Time",
// §3.1–3.2) that the chunked training form differentiates through:
//
// 1. Curvature of the memory MLP's activation σ (the second-order term of backpropagating through the inner gradient
//    step): the inner backward computes d = dy ⊙ σ′(z) (Elementwise.UnaryBackward); its own backward is
//    d(dy) = g ⊙ σ′(z) and dz = g ⊙ dy ⊙ σ″(z), with
//      SiLU: σ″(z) = s(1−s)(2 + z(1−2s)), s = sigmoid(z);   GELU (exact): σ″(z) = φ(z)(2 − z²), φ the normal density.
//
// 2. The chunk-end update of one memory weight matrix, per row r (batch·head) of R:
//      M′ = keep·M + carry·S − Δ_M,   S′ = momentumKeep·S − Δ_S
//    where, for a chunk of b tokens with momentum η_t and forgetting α_t, keep = Π(1−α_t), momentumKeep = Π η_t,
//    carry = the weight of the incoming momentum S in the chunk-end weights, and Δ = [Δ_M, Δ_S] the two weighted sums
//    of the per-token gradients (see Ssm.Hybrid.Titans.NeuralMemoryScan). Backward:
//      dM = keep·gM,  dS = carry·gM + momentumKeep·gS,  dΔ_M = −gM,  dΔ_S = −gS,
//      dkeep = Σ gM⊙M,  dcarry = Σ gM⊙S,  dmomentumKeep = Σ gS⊙S   (sums over the row's elements).
//    Optional backward clamp (a deliberately clipped backward, not the true gradient): with a bound c the upstream
//    gradient of the row's new state is first scaled, (gM, gS) ← min(1, c/‖(gM, gS)‖)·(gM, gS) with the Frobenius norm
//    over both, and the formulas above use the scaled pair. Over a chain of chunk updates this bounds the gradient that
//    reaches every earlier state, which the true gradient does not: it grows exponentially when the inner learning
//    rate puts the memory in a regime whose per-chunk Jacobian has norm > 1 (see Ssm.Hybrid.Titans.NeuralMemoryScan).

/// <summary>Gradients from <see cref="NeuralMemoryOps.ChunkUpdateBackward"/>.</summary>
/// <param name="Dm">dL/dM [R, ...].</param>
/// <param name="Ds">dL/dS [R, ...].</param>
/// <param name="Ddelta">dL/dΔ [R, 2, ...].</param>
/// <param name="Dkeep">dL/dkeep [R].</param>
/// <param name="Dcarry">dL/dcarry [R].</param>
/// <param name="DmomentumKeep">dL/dmomentumKeep [R].</param>
public sealed record ChunkUpdateGradients(Tensor Dm, Tensor Ds, Tensor Ddelta, Tensor Dkeep, Tensor Dcarry, Tensor DmomentumKeep);

/// <summary>
/// Fused kernels of the Titans neural memory's chunked update (math at the top of this file): the activation curvature
/// term and the chunk-end weight/momentum update with its backward. CPU: TensorPrimitives over rows in parallel. ILGPU:
/// one thread per element; the per-row sums of the update's backward use one group per row with a shared-memory tree.
/// </summary>
public static class NeuralMemoryOps
{
    /// <summary>The activations the memory MLP supports (smooth, so the second-order term exists): SiLU and exact GELU.</summary>
    public static bool SupportsActivation(UnaryOp activation) => activation is UnaryOp.Silu or UnaryOp.Gelu;

    /// <summary>dz = g ⊙ dy ⊙ σ″(z) for σ = <paramref name="activation"/> (SiLU or GELU); z, dy, g of one shape.</summary>
    public static Tensor ActivationCurvature(UnaryOp activation, Tensor z, Tensor dy, Tensor g)
    {
        const string op = "NeuralMemoryOps.ActivationCurvature";
        if (!SupportsActivation(activation))
            throw new ArgumentException($"{op}: activation {activation} is not supported; expected Silu or Gelu.", nameof(activation));
        foreach (var (t, name) in new[] { (z, "z"), (dy, "dy"), (g, "g") })
        {
            ArgumentNullException.ThrowIfNull(t, name);
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, z, "z", t, name);
            Guard.Shape(op, t, name, z.Shape, "(the shape of z)");
        }
        var dz = Tensor.Empty(z.Shape, DType.Float32, z.Device);
        if (dz.Length == 0) return dz;
        if (z.Device.IsIlgpu) NeuralMemoryOpsGpu.Curvature((int)activation, z, dy, g, dz);
        else NeuralMemoryOpsCpu.Curvature((int)activation, z, dy, g, dz);
        return dz;
    }

    /// <summary>
    /// M′ = keep·M + carry·S − Δ[:, 0], S′ = momentumKeep·S − Δ[:, 1] per row: m and s [R, ...], delta [R, 2, ...]
    /// (the trailing dimensions of m), keep, carry and momentumKeep [R]. Returns (M′, S′) shaped like m.
    /// </summary>
    public static (Tensor M, Tensor S) ChunkUpdate(Tensor m, Tensor s, Tensor delta, Tensor keep, Tensor carry, Tensor momentumKeep)
    {
        var spec = Check("NeuralMemoryOps.ChunkUpdate", m, s, delta, keep, carry, momentumKeep);
        var m2 = Tensor.Empty(m.Shape, DType.Float32, m.Device);
        var s2 = Tensor.Empty(m.Shape, DType.Float32, m.Device);
        if (m2.Length == 0) return (m2, s2);
        if (m.Device.IsIlgpu) NeuralMemoryOpsGpu.Update(spec, m, s, delta, keep, carry, momentumKeep, m2, s2);
        else NeuralMemoryOpsCpu.Update(spec, m, s, delta, keep, carry, momentumKeep, m2, s2);
        return (m2, s2);
    }

    /// <summary>
    /// Backward of <see cref="ChunkUpdate"/> for upstream gradients <paramref name="gM"/> and <paramref name="gS"/> (shaped
    /// like m; a null one counts as zero). Returns every input's gradient. With <paramref name="maxGradNorm"/> each row's
    /// upstream pair (gM, gS) is first scaled down to at most that Frobenius norm (a clipped backward; math at the top
    /// of this file).
    /// </summary>
    public static ChunkUpdateGradients ChunkUpdateBackward(Tensor m, Tensor s, Tensor delta, Tensor keep, Tensor carry, Tensor momentumKeep,
        Tensor? gM, Tensor? gS, float? maxGradNorm = null)
    {
        const string op = "NeuralMemoryOps.ChunkUpdateBackward";
        var spec = Check(op, m, s, delta, keep, carry, momentumKeep);
        if (maxGradNorm is float c && !(c > 0 && float.IsFinite(c)))
            throw new ArgumentOutOfRangeException(nameof(maxGradNorm), c, $"{op}: maxGradNorm is {c}, expected a finite value > 0 (or null for no clamp).");
        spec.MaxNorm = maxGradNorm ?? 0f;
        foreach (var (t, name) in new[] { (gM, "gM"), (gS, "gS") })
        {
            if (t is null) continue;
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, m, "m", t, name);
            Guard.Shape(op, t, name, m.Shape, "(the shape of m)");
        }
        var dev = m.Device;
        using var zeros = gM is null || gS is null ? Tensor.Zeros(m.Shape, DType.Float32, dev) : null;
        var r = new ChunkUpdateGradients(Tensor.Empty(m.Shape, DType.Float32, dev), Tensor.Empty(m.Shape, DType.Float32, dev),
            Tensor.Empty(delta.Shape, DType.Float32, dev), Tensor.Empty(keep.Shape, DType.Float32, dev),
            Tensor.Empty(keep.Shape, DType.Float32, dev), Tensor.Empty(keep.Shape, DType.Float32, dev));
        if (spec.Rows == 0) return r;
        if (spec.Elements == 0)
        {
            r.Dkeep.Zero();
            r.Dcarry.Zero();
            r.DmomentumKeep.Zero();
            return r;
        }
        if (dev.IsIlgpu) NeuralMemoryOpsGpu.UpdateBackward(spec, m, s, keep, carry, momentumKeep, gM ?? zeros!, gS ?? zeros!, r);
        else NeuralMemoryOpsCpu.UpdateBackward(spec, m, s, keep, carry, momentumKeep, gM ?? zeros!, gS ?? zeros!, r);
        return r;
    }

    private static UpdateSpec Check(string op, Tensor m, Tensor s, Tensor delta, Tensor keep, Tensor carry, Tensor momentumKeep)
    {
        ArgumentNullException.ThrowIfNull(m);
        Guard.DType(op, m, "m", DType.Float32);
        if (m.Rank < 1) throw new ArgumentException($"{op}: m has shape {Shapes.Format(m.Shape)}, expected [rows, ...].", nameof(m));
        int rows = m.Size(0), n = rows == 0 ? 0 : m.Length / rows;
        var deltaShape = new int[m.Rank + 1];
        deltaShape[0] = rows;
        deltaShape[1] = 2;
        m.Shape[1..].CopyTo(deltaShape.AsSpan(2));
        foreach (var (t, name, shape, layout) in new[]
        {
            (s, "s", m.ShapeArray(), "(the shape of m)"),
            (delta, "delta", deltaShape, "[rows, 2, ...] (Δ_M and Δ_S stacked after the rows of m)"),
            (keep, "keep", new[] { rows }, "[rows]"),
            (carry, "carry", new[] { rows }, "[rows]"),
            (momentumKeep, "momentumKeep", new[] { rows }, "[rows]"),
        })
        {
            ArgumentNullException.ThrowIfNull(t, name);
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, m, "m", t, name);
            Guard.Shape(op, t, name, shape, layout);
        }
        return new UpdateSpec { Rows = rows, Elements = n };
    }
}

/// <summary>
/// Sizes of a chunk update: rows R and elements per row n, and the backward clamp's bound (0: none); also an ILGPU
/// kernel parameter.
/// </summary>
internal struct UpdateSpec
{
    public int Rows, Elements;
    public float MaxNorm;
}

/// <summary>The backward clamp's factor (shared by the CPU path and the ILGPU kernels).</summary>
internal static class ClampMath
{
    /// <summary>min(1, c/√<paramref name="squaredNorm"/>) for a bound c &gt; 0; 1 when c is 0 (no clamp).</summary>
    public static float Scale(float maxNorm, float squaredNorm)
        => maxNorm > 0f && squaredNorm > maxNorm * maxNorm ? maxNorm / MathF.Sqrt(squaredNorm) : 1f;
}

/// <summary>Second derivatives of the memory MLP activations (shared by the CPU path and the ILGPU kernels).</summary>
internal static class CurvatureMath
{
    /// <summary>σ″(z) for σ = SiLU (op = UnaryOp.Silu) or exact GELU (UnaryOp.Gelu).</summary>
    public static float SecondDerivative(int op, float z)
    {
        if (op == (int)UnaryOp.Silu)
        {
            float s = ScalarMath.Sigmoid(z);
            return s * (1f - s) * (2f + z * (1f - 2f * s));
        }
        return ScalarMath.InvSqrt2Pi * MathF.Exp(-0.5f * z * z) * (2f - z * z);
    }
}
