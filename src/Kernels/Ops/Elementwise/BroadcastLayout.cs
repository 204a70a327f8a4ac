namespace Ssm.Kernels;

/// <summary>
/// Up to six dimensions with per-operand element strides (0 on broadcast dimensions), as a flat struct so that it can be
/// passed to ILGPU kernels. Adjacent dimensions that are contiguous for every operand are merged first, so the innermost
/// run is as long as possible.
/// </summary>
internal struct BroadcastLayout
{
    public const int MaxRank = 6;
    public int D0, D1, D2, D3, D4, D5;   // sizes (leading ones padded with 1)
    public int A0, A1, A2, A3, A4, A5;   // strides of operand A
    public int B0, B1, B2, B3, B4, B5;   // strides of operand B

    public int Size(int d) => d switch { 0 => D0, 1 => D1, 2 => D2, 3 => D3, 4 => D4, _ => D5 };
    public int StrideA(int d) => d switch { 0 => A0, 1 => A1, 2 => A2, 3 => A3, 4 => A4, _ => A5 };
    public int StrideB(int d) => d switch { 0 => B0, 1 => B1, 2 => B2, 3 => B3, 4 => B4, _ => B5 };

    /// <summary>Offsets into A and B of output element <paramref name="i"/> (kernel-safe: no arrays, no loops over fields).</summary>
    public void Offsets(int i, out int a, out int b)
    {
        int c = i % D5; i /= D5; a = c * A5; b = c * B5;
        c = i % D4; i /= D4; a += c * A4; b += c * B4;
        c = i % D3; i /= D3; a += c * A3; b += c * B3;
        c = i % D2; i /= D2; a += c * A2; b += c * B2;
        c = i % D1; i /= D1; a += c * A1; b += c * B1;
        a += i * A0; b += i * B0;
    }

    /// <summary>
    /// Layout of <paramref name="outShape"/> where A has shape <paramref name="a"/> and B has shape <paramref name="b"/>
    /// (both broadcastable to outShape).
    /// </summary>
    public static BroadcastLayout Create(ReadOnlySpan<int> outShape, ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = outShape.Length;
        var dims = new List<(int size, int sa, int sb)>();
        var sa = Strides(outShape, a);
        var sb = Strides(outShape, b);
        for (int d = 0; d < rank; d++)
        {
            if (outShape[d] == 1) continue;
            if (dims.Count > 0)
            {
                var (size, pa, pb) = dims[^1];
                bool mergeA = pa == sa[d] * outShape[d];
                bool mergeB = pb == sb[d] * outShape[d];
                if (mergeA && mergeB)
                {
                    dims[^1] = (size * outShape[d], sa[d], sb[d]);
                    continue;
                }
            }
            dims.Add((outShape[d], sa[d], sb[d]));
        }
        if (dims.Count > MaxRank)
            throw new ArgumentException($"{op}: broadcasting {Shapes.Format(a)} with {Shapes.Format(b)} needs {dims.Count} non-mergeable dimensions; at most {MaxRank} are supported.");
        while (dims.Count < MaxRank) dims.Insert(0, (1, 0, 0));
        var l = new BroadcastLayout
        {
            D0 = dims[0].size, D1 = dims[1].size, D2 = dims[2].size, D3 = dims[3].size, D4 = dims[4].size, D5 = dims[5].size,
            A0 = dims[0].sa, A1 = dims[1].sa, A2 = dims[2].sa, A3 = dims[3].sa, A4 = dims[4].sa, A5 = dims[5].sa,
            B0 = dims[0].sb, B1 = dims[1].sb, B2 = dims[2].sb, B3 = dims[3].sb, B4 = dims[4].sb, B5 = dims[5].sb,
        };
        return l;
    }

    /// <summary>Element strides of a tensor of shape <paramref name="shape"/> seen through <paramref name="outShape"/> (0 where broadcast).</summary>
    private static int[] Strides(ReadOnlySpan<int> outShape, ReadOnlySpan<int> shape)
    {
        int rank = outShape.Length, off = rank - shape.Length;
        var s = new int[rank];
        int stride = 1;
        for (int d = rank - 1; d >= 0; d--)
        {
            int size = d < off ? 1 : shape[d - off];
            s[d] = size == 1 ? 0 : stride;
            stride *= size;
        }
        return s;
    }
}
