namespace Ssm.Kernels;

// Attention mask policies, evaluated on absolute positions (query i, key j; the query's absolute position is
// queryOffset + its row). Never materialized: kernels ask for the key range(s) a block of queries can see and skip
// everything outside them, so sliding-window, block and Λ-shaped attention cost O(visible keys), not O(L²).
//   Full                      every key
//   Causal                    j ≤ i
//   SlidingWindow(w)          j ≤ i ∧ i − j < w                                        (Longformer/Mistral local attention)
//   Block(b)                  ⌊i/b⌋ = ⌊j/b⌋, optionally ∧ j ≤ i                        (MASFormer block attention)
//   LambdaShaped(G, L)        j ≤ i ∧ (j < G ∨ i − j < L)                               (LM-Infinite, Han et al. 2023)
//   LambdaGlobalBranch(G, L)  j < G ∧ i − j ≥ L: the keys Λ sees only through its global branch, so that
//                             LambdaShaped(G, L) = SlidingWindow(L) ⊎ LambdaGlobalBranch(G, L) (disjoint). LM-Infinite
//                             scores this branch with its own query/key pair (the distance limit; see Attention.LambdaForward).

/// <summary>The kinds of <see cref="AttentionMask"/>.</summary>
public enum AttentionMaskKind
{
    /// <summary>Every query sees every key (non-causal).</summary>
    Full,
    /// <summary>Key j is visible to query i iff j ≤ i.</summary>
    Causal,
    /// <summary>j ≤ i ∧ i − j &lt; window.</summary>
    SlidingWindow,
    /// <summary>⌊i/b⌋ = ⌊j/b⌋ (and j ≤ i when causal within the block).</summary>
    Block,
    /// <summary>LM-Infinite's Λ shape: j ≤ i ∧ (j &lt; globalTokens ∨ i − j &lt; localWindow).</summary>
    LambdaShaped,
    /// <summary>The global branch of the Λ shape outside the local window: j &lt; globalTokens ∧ i − j ≥ localWindow.</summary>
    LambdaGlobalBranch,
}

/// <summary>A half-open range [<see cref="Start"/>, <see cref="End"/>) of positions (empty when End ≤ Start).</summary>
/// <param name="Start">First position.</param>
/// <param name="End">One past the last position.</param>
public readonly record struct PositionRange(int Start, int End)
{
    /// <summary>Number of positions (0 when empty).</summary>
    public int Length => End > Start ? End - Start : 0;

    /// <summary>True when the range holds no position.</summary>
    public bool IsEmpty => End <= Start;
}

/// <summary>Up to two disjoint key ranges, <see cref="First"/> before <see cref="Second"/> (either may be empty).</summary>
/// <param name="First">The first range.</param>
/// <param name="Second">The second range, after the first.</param>
public readonly record struct KeyRanges(PositionRange First, PositionRange Second)
{
    /// <summary>Total number of keys in both ranges.</summary>
    public int Count => First.Length + Second.Length;
}

/// <summary>
/// An attention mask <i>policy</i> (never a materialized mask): which keys each query sees, evaluated on absolute
/// positions (query position = queryOffset + row, key position = key row). <see cref="KeyRange"/> gives the keys a block
/// of queries can see and <see cref="QueryRange"/> the queries that can see a block of keys, so tiled kernels visit only
/// those tiles (linear cost for sliding-window, block and Λ-shaped masks). <c>default</c> is <see cref="Full"/>.
/// </summary>
public readonly struct AttentionMask : IEquatable<AttentionMask>
{
    private AttentionMask(AttentionMaskKind kind, int window, int blockSize, int globalTokens, bool causalWithinBlock)
    {
        Kind = kind;
        Window = window;
        BlockSize = blockSize;
        GlobalTokens = globalTokens;
        _causalWithinBlock = causalWithinBlock ? 1 : 0;
    }

    private readonly int _causalWithinBlock; // int, not bool: the mask is an ILGPU kernel parameter and must be blittable

    /// <summary>The mask kind.</summary>
    public AttentionMaskKind Kind { get; }

    /// <summary>The window w of <see cref="AttentionMaskKind.SlidingWindow"/>, or the local window L of the Λ kinds (0 otherwise).</summary>
    public int Window { get; }

    /// <summary>The block size b of <see cref="AttentionMaskKind.Block"/> (0 otherwise).</summary>
    public int BlockSize { get; }

    /// <summary>The number of global (leading) tokens of the Λ kinds (0 otherwise).</summary>
    public int GlobalTokens { get; }

    /// <summary>For <see cref="AttentionMaskKind.Block"/>: whether keys after the query within its block are hidden.</summary>
    public bool CausalWithinBlock => _causalWithinBlock != 0;

    /// <summary>Every query sees every key.</summary>
    public static AttentionMask Full => default;

    /// <summary>Key j is visible to query i iff j ≤ i.</summary>
    public static AttentionMask Causal => new(AttentionMaskKind.Causal, 0, 0, 0, false);

    /// <summary>Causal sliding window: j ≤ i ∧ i − j &lt; <paramref name="window"/> (each query sees itself and the window − 1 keys before it).</summary>
    public static AttentionMask SlidingWindow(int window)
    {
        if (window < 1)
            throw new ArgumentOutOfRangeException(nameof(window), window, $"AttentionMask.SlidingWindow: window is {window}, expected ≥ 1.");
        return new(AttentionMaskKind.SlidingWindow, window, 0, 0, false);
    }

    /// <summary>
    /// Block-diagonal: ⌊i/b⌋ = ⌊j/b⌋ for <paramref name="blockSize"/> b; with <paramref name="causal"/> also j ≤ i.
    /// </summary>
    public static AttentionMask Block(int blockSize, bool causal = false)
    {
        if (blockSize < 1)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"AttentionMask.Block: blockSize is {blockSize}, expected ≥ 1.");
        return new(AttentionMaskKind.Block, 0, blockSize, 0, causal);
    }

    /// <summary>
    /// LM-Infinite's Λ-shaped mask: j ≤ i ∧ (j &lt; <paramref name="globalTokens"/> ∨ i − j &lt; <paramref name="localWindow"/>).
    /// The distance limit LM-Infinite applies to the positional encoding of the global branch is not part of the mask:
    /// see <see cref="Attention.LambdaForward"/>.
    /// </summary>
    public static AttentionMask LambdaShaped(int globalTokens, int localWindow)
    {
        CheckLambda("AttentionMask.LambdaShaped", globalTokens, localWindow);
        return new(AttentionMaskKind.LambdaShaped, localWindow, 0, globalTokens, false);
    }

    /// <summary>
    /// The keys the Λ mask sees only through its global branch: j &lt; <paramref name="globalTokens"/> ∧ i − j ≥
    /// <paramref name="localWindow"/>. LambdaShaped(G, L) is the disjoint union of SlidingWindow(L) and this mask.
    /// </summary>
    public static AttentionMask LambdaGlobalBranch(int globalTokens, int localWindow)
    {
        CheckLambda("AttentionMask.LambdaGlobalBranch", globalTokens, localWindow);
        return new(AttentionMaskKind.LambdaGlobalBranch, localWindow, 0, globalTokens, false);
    }

    private static void CheckLambda(string op, int globalTokens, int localWindow)
    {
        if (globalTokens < 0)
            throw new ArgumentOutOfRangeException(nameof(globalTokens), globalTokens, $"{op}: globalTokens is {globalTokens}, expected ≥ 0.");
        if (localWindow < 1)
            throw new ArgumentOutOfRangeException(nameof(localWindow), localWindow, $"{op}: localWindow is {localWindow}, expected ≥ 1.");
    }

    /// <summary>True when key position <paramref name="key"/> is visible to query position <paramref name="query"/>.</summary>
    public bool IsVisible(int query, int key)
    {
        long distance = (long)query - key;
        switch (Kind)
        {
            case AttentionMaskKind.Causal: return distance >= 0;
            case AttentionMaskKind.SlidingWindow: return distance >= 0 && distance < Window;
            case AttentionMaskKind.Block:
                return FloorDiv(query, BlockSize) == FloorDiv(key, BlockSize) && (!CausalWithinBlock || distance >= 0);
            case AttentionMaskKind.LambdaShaped: return distance >= 0 && (key < GlobalTokens || distance < Window);
            case AttentionMaskKind.LambdaGlobalBranch: return key < GlobalTokens && distance >= Window;
            default: return true;
        }
    }

    /// <summary>
    /// The keys in [0, <paramref name="keyLength"/>) visible to at least one query position in
    /// [<paramref name="queryStart"/>, <paramref name="queryEnd"/>), as at most two disjoint ranges. For one query row
    /// (queryEnd = queryStart + 1) these are exactly its visible keys: at most w for a sliding window, b for a block,
    /// G + L for the Λ shape.
    /// </summary>
    public KeyRanges KeyRange(int queryStart, int queryEnd, int keyLength)
    {
        var none = new PositionRange(0, 0);
        if (queryEnd <= queryStart || keyLength <= 0) return new KeyRanges(none, none);
        long start = 0, end = keyLength, start2 = 0, end2 = 0;
        switch (Kind)
        {
            case AttentionMaskKind.Causal: end = queryEnd; break;
            case AttentionMaskKind.SlidingWindow: start = (long)queryStart - Window + 1; end = queryEnd; break;
            case AttentionMaskKind.Block:
                start = (long)FloorDiv(queryStart, BlockSize) * BlockSize;
                end = CausalWithinBlock ? queryEnd : ((long)FloorDiv(queryEnd - 1, BlockSize) + 1) * BlockSize;
                break;
            case AttentionMaskKind.LambdaShaped:
                // Global [0, G) and local [queryStart − L + 1, queryEnd), merged when they touch.
                end = Math.Min(GlobalTokens, queryEnd);
                start2 = (long)queryStart - Window + 1;
                end2 = queryEnd;
                if (start2 <= end)
                {
                    end = end2;
                    end2 = start2 = 0;
                }
                break;
            case AttentionMaskKind.LambdaGlobalBranch: end = Math.Min(GlobalTokens, (long)queryEnd - Window); break;
        }
        return new KeyRanges(Clip(start, end, keyLength), Clip(start2, end2, keyLength));
    }

    /// <summary>
    /// The query positions (≥ 0) that see at least one key position in [<paramref name="keyStart"/>,
    /// <paramref name="keyEnd"/>); End is <see cref="int.MaxValue"/> when unbounded (e.g. causal).
    /// </summary>
    public PositionRange QueryRange(int keyStart, int keyEnd)
    {
        if (keyEnd <= keyStart) return new PositionRange(0, 0);
        long start = 0, end = int.MaxValue;
        switch (Kind)
        {
            case AttentionMaskKind.Causal: start = keyStart; break;
            case AttentionMaskKind.SlidingWindow: start = keyStart; end = (long)keyEnd - 1 + Window; break;
            case AttentionMaskKind.Block:
                start = CausalWithinBlock ? keyStart : (long)FloorDiv(keyStart, BlockSize) * BlockSize;
                end = ((long)FloorDiv(keyEnd - 1, BlockSize) + 1) * BlockSize;
                break;
            case AttentionMaskKind.LambdaShaped:
                start = keyStart;
                if (keyStart >= GlobalTokens) end = (long)keyEnd - 1 + Window;
                break;
            case AttentionMaskKind.LambdaGlobalBranch:
                start = (long)keyStart + Window;
                if (keyStart >= GlobalTokens) end = 0;
                break;
        }
        return Clip(start, end, int.MaxValue);
    }

    private static int FloorDiv(int a, int b)
    {
        int q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    private static PositionRange Clip(long start, long end, int limit)
    {
        long s = Math.Max(start, 0), e = Math.Min(end, limit);
        return s < e ? new PositionRange((int)s, (int)e) : new PositionRange(0, 0);
    }

    /// <inheritdoc />
    public bool Equals(AttentionMask other) => Kind == other.Kind && Window == other.Window && BlockSize == other.BlockSize &&
        GlobalTokens == other.GlobalTokens && CausalWithinBlock == other.CausalWithinBlock;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is AttentionMask m && Equals(m);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Kind, Window, BlockSize, GlobalTokens, CausalWithinBlock);

    /// <summary>Equality of two mask policies.</summary>
    public static bool operator ==(AttentionMask a, AttentionMask b) => a.Equals(b);

    /// <summary>Inequality of two mask policies.</summary>
    public static bool operator !=(AttentionMask a, AttentionMask b) => !a.Equals(b);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        AttentionMaskKind.SlidingWindow => $"SlidingWindow({Window})",
        AttentionMaskKind.Block => $"Block({BlockSize}{(CausalWithinBlock ? ", causal" : "")})",
        AttentionMaskKind.LambdaShaped => $"LambdaShaped(global {GlobalTokens}, local {Window})",
        AttentionMaskKind.LambdaGlobalBranch => $"LambdaGlobalBranch(global {GlobalTokens}, local {Window})",
        _ => Kind.ToString(),
    };
}
