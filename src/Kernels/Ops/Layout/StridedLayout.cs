namespace Ssm.Kernels;

/// <summary>
/// A strided copy of up to six dimensions: element (c0..c5) of the iteration space is read from
/// <c>srcBase + Σ c_k·S_k</c> and written to <c>dstBase + Σ c_k·T_k</c>. Permute, narrow and concatenation are all
/// such copies. A flat struct so it can be passed to ILGPU kernels; leading unit dimensions pad the rank to six.
/// </summary>
internal struct StridedLayout
{
    public const int MaxRank = 6;
    public int D0, D1, D2, D3, D4, D5;   // iteration sizes
    public int S0, S1, S2, S3, S4, S5;   // source strides
    public int T0, T1, T2, T3, T4, T5;   // destination strides
    public int SrcBase, DstBase;

    public void Offsets(int i, out int src, out int dst)
    {
        int c = i % D5; i /= D5; src = SrcBase + c * S5; dst = DstBase + c * T5;
        c = i % D4; i /= D4; src += c * S4; dst += c * T4;
        c = i % D3; i /= D3; src += c * S3; dst += c * T3;
        c = i % D2; i /= D2; src += c * S2; dst += c * T2;
        c = i % D1; i /= D1; src += c * S1; dst += c * T1;
        src += i * S0; dst += i * T0;
    }

    public int Count => D0 * D1 * D2 * D3 * D4 * D5;

    /// <summary>Builds a layout from per-dimension (size, src stride, dst stride), merging dimensions contiguous in both.</summary>
    public static StridedLayout Create(ReadOnlySpan<int> sizes, ReadOnlySpan<int> src, ReadOnlySpan<int> dst, int srcBase, int dstBase, string op)
    {
        var dims = new List<(int n, int s, int t)>();
        for (int d = 0; d < sizes.Length; d++)
        {
            if (sizes[d] == 1) continue;
            if (dims.Count > 0 && dims[^1].s == src[d] * sizes[d] && dims[^1].t == dst[d] * sizes[d])
                dims[^1] = (dims[^1].n * sizes[d], src[d], dst[d]);
            else dims.Add((sizes[d], src[d], dst[d]));
        }
        if (dims.Count > MaxRank)
            throw new ArgumentException($"{op}: the copy needs {dims.Count} non-mergeable dimensions; at most {MaxRank} are supported.");
        while (dims.Count < MaxRank) dims.Insert(0, (1, 0, 0));
        return new StridedLayout
        {
            D0 = dims[0].n, D1 = dims[1].n, D2 = dims[2].n, D3 = dims[3].n, D4 = dims[4].n, D5 = dims[5].n,
            S0 = dims[0].s, S1 = dims[1].s, S2 = dims[2].s, S3 = dims[3].s, S4 = dims[4].s, S5 = dims[5].s,
            T0 = dims[0].t, T1 = dims[1].t, T2 = dims[2].t, T3 = dims[3].t, T4 = dims[4].t, T5 = dims[5].t,
            SrcBase = srcBase, DstBase = dstBase,
        };
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int stride = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { s[d] = stride; stride *= shape[d]; }
        return s;
    }
}
