using ILGPU;
using ILGPU.Runtime;

namespace Ssm.Kernels;

/// <summary>
/// ILGPU kernels of <see cref="NeuralMemoryOps"/> (math at the top of NeuralMemoryOps.cs): one thread per element for the
/// curvature, the update and the elementwise part of its backward; one group per row for the per-row sums and the clamp factor
/// (shared-memory tree, <see cref="GroupSums"/>).
/// </summary>
internal static class NeuralMemoryOpsGpu
{
    [GpuKernel]
    internal static void CurvatureKernel(Index1D i, ArrayView<float> z, ArrayView<float> dy, ArrayView<float> g, ArrayView<float> dz, int op)
        => dz[i] = g[i] * dy[i] * CurvatureMath.SecondDerivative(op, z[i]);

    /// <summary>One thread per element i = r·n + j of M′ and S′.</summary>
    [GpuKernel]
    internal static void UpdateKernel(Index1D i, ArrayView<float> m, ArrayView<float> s, ArrayView<float> delta, ArrayView<float> keep,
        ArrayView<float> carry, ArrayView<float> momentumKeep, ArrayView<float> m2, ArrayView<float> s2, UpdateSpec spec)
    {
        int r = i / spec.Elements, j = i - r * spec.Elements, d = 2 * r * spec.Elements + j;
        float sv = s[i];
        m2[i] = keep[r] * m[i] + carry[r] * sv - delta[d];
        s2[i] = momentumKeep[r] * sv - delta[d + spec.Elements];
    }

    /// <summary>One thread per element: dM, dS and dΔ, from the upstream gradients scaled by the row's clamp factor.</summary>
    [GpuKernel]
    internal static void UpdateBackwardKernel(Index1D i, ArrayView<float> keep, ArrayView<float> carry, ArrayView<float> momentumKeep,
        ArrayView<float> gM, ArrayView<float> gS, ArrayView<float> scale, ArrayView<float> dm, ArrayView<float> ds, ArrayView<float> ddelta, UpdateSpec spec)
    {
        int r = i / spec.Elements, j = i - r * spec.Elements, d = 2 * r * spec.Elements + j;
        float f = scale[r], gm = f * gM[i], gs = f * gS[i];
        dm[i] = keep[r] * gm;
        ds[i] = carry[r] * gm + momentumKeep[r] * gs;
        ddelta[d] = -gm;
        ddelta[d + spec.Elements] = -gs;
    }

    /// <summary>
    /// One group per row r: the clamp factor f = min(1, c/‖(gM, gS)‖) of the row (1 without a clamp) into scale[r], and
    /// dkeep = f·Σ gM⊙M, dcarry = f·Σ gM⊙S, dmomentumKeep = f·Σ gS⊙S over the row.
    /// </summary>
    [GpuKernel(Grouped = true)]
    internal static void UpdateSumsKernel(ArrayView<float> m, ArrayView<float> s, ArrayView<float> gM, ArrayView<float> gS,
        ArrayView<float> scale, ArrayView<float> dkeep, ArrayView<float> dcarry, ArrayView<float> dmomentumKeep, UpdateSpec spec)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int r = Grid.IdxX, t = Group.IdxX, g = Group.DimX, row = r * spec.Elements;
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int j = t; j < spec.Elements; j += g)
        {
            float gm = gM[row + j], gs = gS[row + j], sv = s[row + j];
            a0 += gm * m[row + j];
            a1 += gm * sv;
            a2 += gs * sv;
            a3 += gm * gm + gs * gs;
        }
        shared[t] = a0;
        shared[g + t] = a1;
        shared[2 * g + t] = a2;
        shared[3 * g + t] = a3;
        GroupSums.Reduce(shared, 4);
        if (t == 0)
        {
            float f = ClampMath.Scale(spec.MaxNorm, shared[3 * g]);
            scale[r] = f;
            dkeep[r] = f * shared[0];
            dcarry[r] = f * shared[g];
            dmomentumKeep[r] = f * shared[2 * g];
        }
    }

    private static IlgpuDevice Dev(Tensor t) => (IlgpuDevice)t.Device;

    public static void Curvature(int op, Tensor z, Tensor dy, Tensor g, Tensor dz)
        => Dev(z).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>>(CurvatureKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(CurvatureKernel))
            (z.Length, z.View, dy.View, g.View, dz.View, op);

    public static void Update(UpdateSpec spec, Tensor m, Tensor s, Tensor delta, Tensor keep, Tensor carry, Tensor momentumKeep, Tensor m2, Tensor s2)
        => Dev(m).Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, UpdateSpec>>(UpdateKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, UpdateSpec>(UpdateKernel))
            (m.Length, m.View, s.View, delta.View, keep.View, carry.View, momentumKeep.View, m2.View, s2.View, spec);

    public static void UpdateBackward(UpdateSpec spec, Tensor m, Tensor s, Tensor keep, Tensor carry, Tensor momentumKeep,
        Tensor gM, Tensor gS, ChunkUpdateGradients r)
    {
        var dev = Dev(m);
        using var scale = Tensor.Empty(new[] { spec.Rows }, DType.Float32, dev);
        int groupSize = GroupSums.GroupSize(dev, 4);
        dev.Kernel<Action<KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, UpdateSpec>>(UpdateSumsKernel,
            a => a.LoadStreamKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, UpdateSpec>(UpdateSumsKernel))
            (GroupSums.PerItem(spec.Rows, groupSize, 4), m.View, s.View, gM.View, gS.View, scale.View, r.Dkeep.View, r.Dcarry.View, r.DmomentumKeep.View, spec);
        dev.Kernel<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, UpdateSpec>>(UpdateBackwardKernel,
            a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, UpdateSpec>(UpdateBackwardKernel))
            (m.Length, keep.View, carry.View, momentumKeep.View, gM.View, gS.View, scale.View, r.Dm.View, r.Ds.View, r.Ddelta.View, spec);
    }
}
