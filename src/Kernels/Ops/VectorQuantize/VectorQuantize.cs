namespace Ssm.Kernels;

// Vector quantization with an EMA-learned codebook (van den Oord et al., "Neural Discrete Representation Learning",
// 2017, appendix A.1; Razavi et al., VQ-VAE-2; as used for keys by Transformer-VQ, Lingle 2023,
// transformer-vq/transformer_vq src/transformer_vq/nn/vq.py, and by LongVQ):
//   nearest codeword      z = argmin_s ‖k − c_s‖² = argmin_s (‖c_s‖² − 2·k·c_s)   (ties → the lowest s),  k̂ = c_z
//   per-code aggregation  n[g, r, s] = #{j in block r of row g : z_j = s},   m[g, r, s, :] = Σ_{j in block r: z_j = s} v_j
//   EMA codebook update   N_s ← γ·N_s + (1−γ)·n_s,   M_s ← γ·M_s + (1−γ)·m_s,
//                         Ñ_s = (N_s + ε)/(Σ_s' N_s' + S·ε) · Σ_s' N_s'   (Laplace smoothing),   c_s = M_s / Ñ_s

/// <summary>Where a key row finds its codebook: one codebook [S, D] for all rows, or one per head [H, S, D].</summary>
internal readonly struct VqLayout
{
    public readonly int Rows, Dim, Codes, Heads, RowsPerHead;

    public VqLayout(int rows, int dim, int codes, int heads, int rowsPerHead)
    {
        Rows = rows; Dim = dim; Codes = codes; Heads = heads; RowsPerHead = rowsPerHead;
    }

    /// <summary>The codebook (head) of key row <paramref name="n"/>.</summary>
    public int Group(int n) => Heads == 1 ? 0 : n / RowsPerHead % Heads;
}

/// <summary>Sizes of a per-code aggregation: rows g of N positions, split into blocks of L, S codes, value width V.</summary>
internal readonly struct AggregateDims
{
    public readonly int Rows, Length, Block, Blocks, Codes, Width;

    public AggregateDims(int rows, int length, int block, int codes, int width)
    {
        Rows = rows; Length = length; Block = block; Codes = codes; Width = width;
        Blocks = (length + block - 1) / block;
    }

    /// <summary>Offset of counts[g, r, 0] (times <see cref="Width"/> for sums[g, r, 0, 0]).</summary>
    public int Slot(int g, int r) => (g * Blocks + r) * Codes;
}

/// <summary>
/// Vector-quantization kernels: the nearest codeword of each key (<see cref="Nearest"/>), per-code counts and value sums
/// (<see cref="AggregateByCode"/>, the scatter-add behind codebook attention caches and EMA updates) and the in-place
/// EMA codebook update (<see cref="EmaUpdate"/>). A codebook is [S, D] (shared by all keys) or [H, S, D] (one per head,
/// for keys [B, H, T, D]). CPU: rows in parallel with TensorPrimitives dot products; the aggregation is parallel over
/// (row, block) and adds in position order (deterministic). ILGPU: a thread per key row for the search, a thread per
/// value element with Atomic.Add for the aggregation (order of additions not deterministic), a group per codebook for
/// the EMA update.
/// </summary>
public static class VectorQuantize
{
    /// <summary>
    /// The nearest codeword of each key: codes z (int32, keys' shape without D) and the quantized keys k̂ = c_z (keys'
    /// shape). <paramref name="keys"/> [..., D] with <paramref name="codebook"/> [S, D], or keys [B, H, T, D] with a
    /// per-head codebook [H, S, D]. Distances are ‖c_s‖² − 2·k·c_s; ties go to the lowest code index.
    /// </summary>
    public static (Tensor Codes, Tensor Quantized) Nearest(Tensor keys, Tensor codebook)
    {
        const string op = "VectorQuantize.Nearest";
        var layout = CheckKeys(op, keys, codebook);
        var codes = Tensor.Empty(keys.Shape[..^1], DType.Int32, keys.Device);
        var quantized = Tensor.Empty(keys.Shape, DType.Float32, keys.Device);
        if (layout.Rows == 0) return (codes, quantized);
        if (keys.Device.IsIlgpu) VectorQuantizeGpu.Nearest(keys, codebook, codes, quantized, layout);
        else VectorQuantizeCpu.Nearest(keys, codebook, codes, quantized, layout);
        return (codes, quantized);
    }

    /// <summary>
    /// Per-code counts and value sums over blocks of positions: for <paramref name="codes"/> [..., N] (int32 in
    /// [0, <paramref name="numCodes"/>)) and <paramref name="values"/> [..., N, V], returns counts [..., R, S] (float32)
    /// and sums [..., R, S, V] with R = ⌈N / <paramref name="blockLength"/>⌉ (default N: one aggregate per row):
    /// counts[.., r, s] = #{j in block r : z_j = s}, sums[.., r, s, :] = Σ_{j in block r, z_j = s} v_j.
    /// </summary>
    public static (Tensor Counts, Tensor Sums) AggregateByCode(Tensor codes, Tensor values, int numCodes, int? blockLength = null)
    {
        const string op = "VectorQuantize.AggregateByCode";
        Guard.DType(op, codes, "codes", DType.Int32);
        Guard.DType(op, values, "values", DType.Float32);
        Guard.SameDevice(op, codes, "codes", values, "values");
        Guard.That(codes.Rank >= 1, op, nameof(codes), "codes is a scalar; expected [..., N].");
        if (values.Rank != codes.Rank + 1 || !Shapes.Equal(values.Shape[..^1], codes.Shape))
            throw new ArgumentException(
                $"{op}: values has shape {Shapes.Format(values.Shape)}, expected [{string.Join(", ", codes.ShapeArray())}, V] (the codes' shape plus the value width).",
                nameof(values));
        Guard.Positive(op, nameof(numCodes), numCodes);
        int n = codes.Size(-1), width = values.Size(-1);
        Guard.Positive(op, "values.Size(-1)", width);
        int block = blockLength ?? Math.Max(n, 1);
        Guard.Positive(op, nameof(blockLength), block);
        IndexValidation.CheckRange(op, codes, "codes", numCodes, null, "numCodes");
        var d = new AggregateDims(n == 0 ? 0 : codes.Length / n, n, block, numCodes, width);
        var lead = codes.Shape[..^1].ToArray();
        var counts = Tensor.Zeros([.. lead, d.Blocks, numCodes], DType.Float32, codes.Device);
        var sums = Tensor.Zeros([.. lead, d.Blocks, numCodes, width], DType.Float32, codes.Device);
        if (codes.Length == 0) return (counts, sums);
        if (codes.Device.IsIlgpu) VectorQuantizeGpu.Aggregate(codes, values, counts, sums, d);
        else VectorQuantizeCpu.Aggregate(codes, values, counts, sums, d);
        return (counts, sums);
    }

    /// <summary>
    /// EMA codebook update, in place: N ← γN + (1−γ)·<paramref name="batchCounts"/>, M ← γM + (1−γ)·<paramref name="batchSums"/>,
    /// then <paramref name="codebook"/>[s] = M_s/Ñ_s with the Laplace-smoothed counts Ñ_s = (N_s + ε)/(ΣN + S·ε)·ΣN (per
    /// codebook; a codebook whose counts sum to 0 is left unchanged). Counts are [S] or [H, S]; sums and the codebook
    /// [S, D] or [H, S, D]. <paramref name="decay"/> γ in [0, 1], <paramref name="epsilon"/> ε ≥ 0.
    /// </summary>
    public static void EmaUpdate(Tensor emaCounts, Tensor emaSums, Tensor batchCounts, Tensor batchSums, Tensor codebook,
        float decay = 0.99f, float epsilon = 1e-5f)
    {
        const string op = "VectorQuantize.EmaUpdate";
        foreach (var (t, name) in new[] { (emaCounts, "emaCounts"), (emaSums, "emaSums"), (batchCounts, "batchCounts"), (batchSums, "batchSums"), (codebook, "codebook") })
        {
            Guard.DType(op, t, name, DType.Float32);
            Guard.SameDevice(op, codebook, "codebook", t, name);
        }
        Guard.That(codebook.Rank is 2 or 3, op, nameof(codebook), $"codebook has shape {Shapes.Format(codebook.Shape)}, expected [S, D] or [H, S, D].");
        Guard.Shape(op, emaSums, "emaSums", codebook.Shape, "(the codebook's shape)");
        Guard.Shape(op, batchSums, "batchSums", codebook.Shape, "(the codebook's shape)");
        var countShape = codebook.Shape[..^1];
        Guard.Shape(op, emaCounts, "emaCounts", countShape, "(the codebook's shape without D)");
        Guard.Shape(op, batchCounts, "batchCounts", countShape, "(the codebook's shape without D)");
        if (!(decay >= 0 && decay <= 1)) throw new ArgumentOutOfRangeException(nameof(decay), decay, $"{op}: decay must be in [0, 1], got {decay}.");
        if (!(epsilon >= 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"{op}: epsilon must be non-negative, got {epsilon}.");
        int codes = codebook.Size(-2), dim = codebook.Size(-1), heads = codebook.Rank == 3 ? codebook.Size(0) : 1;
        if (codebook.Length == 0) return;
        if (codebook.Device.IsIlgpu) VectorQuantizeGpu.EmaUpdate(emaCounts, emaSums, batchCounts, batchSums, codebook, heads, codes, dim, decay, epsilon);
        else VectorQuantizeCpu.EmaUpdate(emaCounts, emaSums, batchCounts, batchSums, codebook, heads, codes, dim, decay, epsilon);
    }

    /// <summary>Checks keys against a codebook [S, D] (keys [..., D]) or [H, S, D] (keys [B, H, T, D]); returns the row layout.</summary>
    internal static VqLayout CheckKeys(string op, Tensor keys, Tensor codebook)
    {
        Guard.DType(op, keys, "keys", DType.Float32);
        Guard.DType(op, codebook, "codebook", DType.Float32);
        Guard.SameDevice(op, keys, "keys", codebook, "codebook");
        Guard.That(keys.Rank >= 1, op, nameof(keys), "keys is a scalar; expected [..., D].");
        if (codebook.Rank == 2)
        {
            Guard.Shape(op, codebook, "codebook", new[] { -1, keys.Size(-1) }, $"[S, {keys.Size(-1)}] (D of keys {Shapes.Format(keys.Shape)})");
        }
        else if (codebook.Rank == 3)
        {
            Guard.Rank(op, keys, "keys", 4, "[batch, heads, length, D] (a per-head codebook [H, S, D] needs keys with a head dimension)");
            Guard.Shape(op, codebook, "codebook", new[] { keys.Size(1), -1, keys.Size(3) },
                $"[{keys.Size(1)}, S, {keys.Size(3)}] (heads and D of keys {Shapes.Format(keys.Shape)})");
        }
        else throw new ArgumentException($"{op}: codebook has shape {Shapes.Format(codebook.Shape)}, expected [S, D] or [H, S, D].", nameof(codebook));
        int dim = keys.Size(-1), codes = codebook.Size(-2);
        Guard.Positive(op, "codebook size S", codes);
        Guard.Positive(op, "key dimension D", dim);
        int rows = keys.Length / dim;
        return codebook.Rank == 3 ? new VqLayout(rows, dim, codes, keys.Size(1), keys.Size(2)) : new VqLayout(rows, dim, codes, 1, Math.Max(rows, 1));
    }
}
