using Ssm.Kernels;

namespace Ssm.Hybrid;

// Landmark attention (Mohtashami & Jaggi 2023, "Landmark Attention: Random-Access Infinite Context Length for
// Transformers"; epfml/landmark-attention models/landmark.py, landmark_grouped_softmax, and models/caches/mem_cache.py).
// The sequence is cut into blocks of b positions; the last position of every block (p mod b = b − 1) holds a landmark
// token. For query i in block g_i = ⌊i/b⌋ and scores s_ij = scale·q_i·k_j (RoPE at true positions):
//   top level:   one softmax over the current block's tokens j ≤ i (its own landmark excluded) and the landmarks ℓ_g of
//                the earlier blocks g < g_i:                                p_top(j), p_top(ℓ_g)
//   grouped:     token j of an earlier block g (not its landmark) gets     p_top(ℓ_g) · softmax_{j' ∈ g, regular}(s_ij')
//   output:      o_i = Σ_{j current} p_top(j) v_j + Σ_{g < g_i} p_top(ℓ_g) Σ_{j ∈ g} softmax_g(s_ij) v_j
// (landmark values are never read). Retrieval at inference (mem_cache.py): only the top-k earlier blocks by landmark
// score take part (the others' landmarks leave the top-level softmax); with k ≥ the number of earlier blocks this is the
// training form exactly.
// Computed here from differentiable ops over the materialized score matrix (O(Lq·Lk) memory, like the reference code):
//   P_top = softmax(S + M_top),  P_w = softmax_per_block(S + M_w),  W = P_top ⊙ C + P_w ⊙ gate(P_top at ℓ_g),  o = W·V
// with M_top/M_w the −∞-style masks of the two levels and C the indicator of the current block's regular tokens.

/// <summary>
/// Landmark attention (Mohtashami &amp; Jaggi 2023): block retrieval through a landmark token per block with the grouped
/// softmax, as a differentiable op, plus the top-k block retrieval used at inference, and helpers to lay out landmark
/// tokens. Positions p with p mod blockSize = blockSize − 1 hold landmarks (see <see cref="InsertLandmarks"/>). Memory
/// is O(Lq·Lk): the training form of the paper (short contexts), and O(Lk) per decoded token.
/// </summary>
public static class LandmarkAttention
{
    private const float Hidden = -1e30f;

    /// <summary>
    /// Grouped-softmax landmark attention of q [B, Hq, Lq, D] at positions <paramref name="queryOffset"/> + i over k, v
    /// [B, Hkv, Lk, D] at positions 0..Lk−1 (Hkv divides Hq) → [B, Hq, Lq, D]. <paramref name="topK"/>: only the k
    /// earlier blocks with the highest landmark scores take part (per batch, head and query; the selection itself has no
    /// gradient); null: every earlier block (training).
    /// </summary>
    public static Variable Forward(Variable q, Variable k, Variable v, int blockSize, float? scale = null, int queryOffset = 0, int? topK = null)
    {
        const string op = "LandmarkAttention.Forward";
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        Guard.Rank(op, q.Data, "q", 4, "[batch, query heads, query length, D]");
        Guard.Rank(op, k.Data, "k", 4, "[batch, kv heads, key length, D]");
        int b = q.Size(0), hq = q.Size(1), lq = q.Size(2), d = q.Size(3), hkv = k.Size(1), lk = k.Size(2);
        Guard.Shape(op, k.Data, "k", new[] { b, -1, -1, d }, $"[batch, kv heads, key length, D] (batch {b} and D {d} from q)");
        Guard.Shape(op, v.Data, "v", new[] { b, hkv, lk, d }, $"[{b}, {hkv}, {lk}, {d}] (like k)");
        Guard.That(hkv >= 1 && hq % hkv == 0, op, nameof(k), $"q has {hq} heads and k has {hkv}; the query heads must be a positive multiple of the kv heads.");
        if (blockSize < 2)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"{op}: blockSize is {blockSize}, expected ≥ 2 (regular tokens plus one landmark).");
        if (topK is < 1) throw new ArgumentOutOfRangeException(nameof(topK), topK, $"{op}: topK is {topK}, expected ≥ 1 (or null for every block).");
        if (queryOffset < 0 || queryOffset + lq > lk)
            throw new ArgumentOutOfRangeException(nameof(queryOffset), queryOffset,
                $"{op}: queries at positions [{queryOffset}, {queryOffset + lq}) need keys up to position {queryOffset + lq - 1}, but k has {lk}.");

        int blocks = (lk + blockSize - 1) / blockSize, padded = blocks * blockSize;
        var dev = q.Device;
        k = Pad(ExpandHeads(k, hq / hkv), padded);
        v = Pad(ExpandHeads(v, hq / hkv), padded);
        var scores = F.Scale(F.MatMul(q, k, transB: true), scale ?? Attention.DefaultScale(d)); // [B, Hq, Lq, P]

        var (top, within, current) = Masks(lq, padded, blockSize, queryOffset);
        Tensor topMask = topK is int kBlocks && HasEarlierBlocks(queryOffset, lq, blockSize, kBlocks)
            ? SelectTopK(scores.Data, top, b, hq, lq, padded, blockSize, queryOffset, kBlocks, dev)
            : Tensor.From(top, new[] { lq, padded }, dev);
        var pTop = F.Softmax(F.Add(scores, new Variable(topMask)));
        var pWithin = F.Softmax(F.Reshape(F.Add(scores, new Variable(Tensor.From(within, new[] { lq, padded }, dev))), b, hq, lq, blocks, blockSize));
        var gate = F.Narrow(F.Reshape(pTop, b, hq, lq, blocks, blockSize), 4, blockSize - 1, 1);
        var weights = F.Add(F.Mul(pTop, new Variable(Tensor.From(current, new[] { lq, padded }, dev))),
            F.Reshape(F.Mul(pWithin, gate), b, hq, lq, padded));
        return F.MatMul(weights, v);
    }

    /// <summary>
    /// Inserts a landmark token after every <paramref name="blockSize"/> − 1 tokens (so landmarks sit at positions p with
    /// p mod blockSize = blockSize − 1), as the reference inserts them into the input.
    /// </summary>
    public static int[] InsertLandmarks(ReadOnlySpan<int> tokens, int blockSize, int landmarkId)
    {
        if (blockSize < 2) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"LandmarkAttention.InsertLandmarks: blockSize is {blockSize}, expected ≥ 2.");
        var result = new List<int>(tokens.Length + tokens.Length / (blockSize - 1));
        for (int i = 0; i < tokens.Length; i++)
        {
            result.Add(tokens[i]);
            if ((i + 1) % (blockSize - 1) == 0) result.Add(landmarkId);
        }
        return result.ToArray();
    }

    /// <summary>True when position <paramref name="position"/> holds a landmark token.</summary>
    public static bool IsLandmarkPosition(int position, int blockSize) => position % blockSize == blockSize - 1;

    private static Variable ExpandHeads(Variable t, int group)
    {
        if (group == 1) return t;
        int b = t.Size(0), h = t.Size(1), l = t.Size(2), d = t.Size(3);
        var stacked = F.Concat(Enumerable.Repeat(F.Reshape(t, b, h, 1, l, d), group).ToList(), 2); // kv head g serves query heads g·group..
        return F.Reshape(stacked, b, h * group, l, d);
    }

    private static Variable Pad(Variable t, int length)
    {
        int extra = length - t.Size(2);
        if (extra == 0) return t;
        var zeros = new Variable(Tensor.Zeros(new[] { t.Size(0), t.Size(1), extra, t.Size(3) }, DType.Float32, t.Device));
        return F.Concat(new[] { t, zeros }, 2);
    }

    /// <summary>Host masks [Lq, P]: top level (0 visible, −1e30 hidden), within-block (same), current-block indicator (1/0).</summary>
    private static (float[] Top, float[] Within, float[] Current) Masks(int lq, int padded, int blockSize, int queryOffset)
    {
        var top = new float[lq * padded];
        var within = new float[lq * padded];
        var current = new float[lq * padded];
        for (int r = 0; r < lq; r++)
        {
            int i = queryOffset + r, gi = i / blockSize;
            for (int j = 0; j < padded; j++)
            {
                int g = j / blockSize;
                bool landmark = IsLandmarkPosition(j, blockSize);
                bool inCurrent = g == gi && j <= i && !landmark;
                bool earlier = g < gi;
                top[r * padded + j] = inCurrent || (earlier && landmark) ? 0f : Hidden;
                within[r * padded + j] = earlier && !landmark ? 0f : Hidden;
                current[r * padded + j] = inCurrent ? 1f : 0f;
            }
        }
        return (top, within, current);
    }

    private static bool HasEarlierBlocks(int queryOffset, int lq, int blockSize, int topK) => (queryOffset + lq - 1) / blockSize > topK;

    /// <summary>The top-level mask per batch, head and query with only the <paramref name="topK"/> best earlier landmarks visible.</summary>
    private static Tensor SelectTopK(Tensor scores, float[] top, int batch, int heads, int lq, int padded, int blockSize, int queryOffset, int topK, Device device)
    {
        var s = scores.ToArray();
        var mask = new float[batch * heads * lq * padded];
        var order = new List<int>();
        for (int bh = 0; bh < batch * heads; bh++)
            for (int r = 0; r < lq; r++)
            {
                int row = (bh * lq + r) * padded, gi = (queryOffset + r) / blockSize;
                Array.Copy(top, r * padded, mask, row, padded);
                if (gi <= topK) continue;
                order.Clear();
                order.AddRange(Enumerable.Range(0, gi));
                // Highest landmark score first; ties to the earlier block.
                order.Sort((x, y) => s[row + y * blockSize + blockSize - 1].CompareTo(s[row + x * blockSize + blockSize - 1]) is var c && c != 0 ? c : x.CompareTo(y));
                for (int n = topK; n < order.Count; n++) mask[row + order[n] * blockSize + blockSize - 1] = Hidden;
            }
        return Tensor.From(mask, new[] { batch, heads, lq, padded }, device);
    }
}
