using Ssm.Kernels;

namespace Ssm.Hybrid;

// KV cache layout. Keys are cached after RoPE (rotated at their absolute positions), so a score q·k does not depend on
// where a key sits in the cache, only the mask does. Slots per mask policy (p = absolute position):
//   Causal                  linear: slot p; the buffer grows by doubling (or is preallocated to maxLength)
//   SlidingWindow(w)        ring of w slots: slot p mod w                        (memory O(w))
//   Block(b, causal)        ring of b slots: slot p mod b, the current block only (memory O(b))
//   LambdaShaped(G, L)      G global slots (slot p for p < G) + ring of L slots: G + (p − G) mod L   (memory O(G + L))
// Every slot of a ring holds the newest position with that residue, so after writing position p the visible keys of
// a query at p occupy a prefix of the slots: [0, n) with n = p+1 (causal), min(p+1, w), p mod b + 1, min(p+1, G+L).
// Decoding one token therefore runs attention over the whole buffer with the causal mask at query offset n − 1 (keys
// beyond the prefix are masked, and the kernel skips them) — no copy.
// Chunked prefill of queries at P..P+n−1 needs the cached keys they can see in temporal order: the global keys
// [0, min(P, G)) and the newest c ring keys (c = P, min(P−G, w−1 or L−1), or P mod b), concatenated before the new keys;
// the layer's own mask then applies with query offset = the context length. That is exact because the masks are
// shift-invariant (causal, sliding window), shifted by a multiple of b (block), or — for Λ when the global and local
// keys are not adjacent — every global key is visible to every query anyway (all queries are past G + L − 1).

/// <summary>
/// The key/value cache of one <see cref="MultiHeadAttention"/> layer for decoding: keys [B, Hkv, slots, D] (rotated by
/// RoPE at their positions) and values [B, Hkv, slots, D], plus the q/k/v convolution state when the layer has one. For
/// sliding-window, block and Λ-shaped masks the buffers are rings of fixed size, so memory stays O(window) however long
/// the sequence; for the causal mask the buffer grows (or is preallocated with <c>maxLength</c>). Owned by the caller
/// (outside tensor scopes); dispose when done.
/// </summary>
public sealed class AttentionCache : IDisposable
{
    private const int DefaultCausalCapacity = 256;
    private readonly int _global;   // G: slots kept forever (Λ's global tokens)
    private readonly int _ring;     // R: ring slots after the global ones; 0 = linear (causal)
    private readonly bool _blockwise;

    /// <summary>An empty cache for <paramref name="batch"/> sequences of a layer with <paramref name="config"/>.</summary>
    public AttentionCache(AttentionConfig config, int batch, Device? device = null, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Guard.Positive("AttentionCache", nameof(batch), batch);
        if (maxLength is not null) Guard.Positive("AttentionCache", nameof(maxLength), maxLength.Value);
        if (!SupportsMask(config.Mask))
            throw new ArgumentException($"AttentionCache: mask {config.Mask} lets a query see later keys; decoding with a KV cache needs a causal " +
                "mask (Causal, SlidingWindow, Block with causal: true, or LambdaShaped).", nameof(config));
        var d = device ?? Device.Default;
        Batch = batch;
        KvHeads = config.KvHeads;
        HeadDim = config.HeadDimension;
        Mask = config.Mask;
        switch (config.Mask.Kind)
        {
            case AttentionMaskKind.SlidingWindow: _ring = config.Mask.Window; break;
            case AttentionMaskKind.Block: _ring = config.Mask.BlockSize; _blockwise = true; break;
            case AttentionMaskKind.LambdaShaped: _global = config.Mask.GlobalTokens; _ring = config.Mask.Window; break;
        }
        int slots = _ring > 0 ? _global + _ring : maxLength ?? DefaultCausalCapacity;
        Keys = Alloc(slots, d);
        Values = Alloc(slots, d);
        if (config.DConv > 0)
            ConvState = Tensor.Zeros(new[] { batch, config.QkvDim, config.DConv }, DType.Float32, d).DetachFromScope();
    }

    /// <summary>True for the masks a KV cache can serve (no query sees a later key): causal, sliding window, causal block, Λ-shaped.</summary>
    public static bool SupportsMask(AttentionMask mask) => mask.Kind switch
    {
        AttentionMaskKind.Causal or AttentionMaskKind.SlidingWindow or AttentionMaskKind.LambdaShaped => true,
        AttentionMaskKind.Block => mask.CausalWithinBlock,
        _ => false,
    };

    /// <summary>Number of sequences.</summary>
    public int Batch { get; }
    /// <summary>Key/value heads.</summary>
    public int KvHeads { get; }
    /// <summary>Head dimension.</summary>
    public int HeadDim { get; }
    /// <summary>The layer's mask policy.</summary>
    public AttentionMask Mask { get; }
    /// <summary>Tokens written so far (the absolute position of the next one).</summary>
    public int Position { get; private set; }
    /// <summary>Key slots currently allocated (fixed for ring caches; grows for causal ones).</summary>
    public int Capacity => Keys.Size(2);
    /// <summary>Cached keys [batch, kv heads, slots, head dim], rotated by RoPE at their positions.</summary>
    public Tensor Keys { get; private set; }
    /// <summary>Cached values [batch, kv heads, slots, head dim].</summary>
    public Tensor Values { get; private set; }
    /// <summary>The last d_conv inputs of the q/k/v convolution [batch, qkv dim, d_conv], or null without one.</summary>
    public Tensor? ConvState { get; }

    /// <summary>Releases the buffers.</summary>
    public void Dispose()
    {
        Keys.Dispose();
        Values.Dispose();
        ConvState?.Dispose();
    }

    /// <summary>
    /// The cached keys and values the next queries can see, in temporal order ([B, Hkv, n, D] copies), or null when
    /// there are none. Run the layer's mask over [context, new keys] with query offset n.
    /// </summary>
    internal (Tensor Keys, Tensor Values)? Context()
    {
        int p = Position;
        int global = Math.Min(p, _global);
        int recent = _ring == 0 ? p : _blockwise ? p % _ring : Math.Min(Math.Max(0, p - _global), _ring - 1);
        var runs = new List<(int Slot, int Length)>();
        if (global > 0) runs.Add((0, global));
        runs.AddRange(SlotRuns(p - recent, recent));
        if (runs.Count == 0) return null;
        return (Gather(Keys, runs), Gather(Values, runs));
    }

    /// <summary>Writes the keys and values [B, Hkv, n, D] of the next n positions and advances <see cref="Position"/>.</summary>
    internal void Append(Tensor keys, Tensor values)
    {
        int p = Position, n = keys.Size(2);
        if (_ring == 0)
        {
            EnsureCapacity(p + n);
            Layout.WriteSlice(Keys, 2, p, keys);
            Layout.WriteSlice(Values, 2, p, values);
        }
        else
        {
            int global = Math.Clamp(_global - p, 0, n); // new positions below G go to their own slots
            if (global > 0)
            {
                Write(keys, values, 0, p, global);
            }
            int start = Math.Max(p + global, p + n - _ring); // only the newest R positions survive in the ring
            int at = start - p;
            foreach (var (slot, length) in SlotRuns(start, p + n - start))
            {
                Write(keys, values, at, slot, length);
                at += length;
            }
        }
        Position = p + n;
    }

    /// <summary>After <see cref="Append"/> of one token: the number of slots, from 0, that hold the keys it can see.</summary>
    internal int VisibleSlots => _ring == 0 ? Position : _blockwise ? (Position - 1) % _ring + 1 : Math.Min(Position, _global + _ring);

    /// <summary>Contiguous slot runs holding positions [first, first + count) (all ≥ G), oldest first.</summary>
    private IEnumerable<(int Slot, int Length)> SlotRuns(int first, int count)
    {
        if (count <= 0) yield break;
        if (_ring == 0)
        {
            yield return (first, count);
            yield break;
        }
        int slot = (first - _global) % _ring;
        int head = Math.Min(count, _ring - slot);
        yield return (_global + slot, head);
        if (count > head) yield return (_global, count - head);
    }

    private void Write(Tensor keys, Tensor values, int from, int slot, int length)
    {
        bool whole = from == 0 && length == keys.Size(2);
        using var k = whole ? null : Layout.Narrow(keys, 2, from, length);
        using var v = whole ? null : Layout.Narrow(values, 2, from, length);
        Layout.WriteSlice(Keys, 2, slot, k ?? keys);
        Layout.WriteSlice(Values, 2, slot, v ?? values);
    }

    private static Tensor Gather(Tensor buffer, List<(int Slot, int Length)> runs)
    {
        if (runs.Count == 1) return Layout.Narrow(buffer, 2, runs[0].Slot, runs[0].Length);
        var pieces = runs.Select(r => Layout.Narrow(buffer, 2, r.Slot, r.Length)).ToList();
        var joined = Layout.Concat(pieces, 2);
        foreach (var piece in pieces) piece.Dispose();
        return joined;
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= Capacity) return;
        int slots = Math.Max(needed, 2 * Capacity);
        Keys = Grow(Keys, slots);
        Values = Grow(Values, slots);
    }

    private Tensor Grow(Tensor old, int slots)
    {
        var grown = Alloc(slots, old.Device);
        if (Position > 0)
        {
            using var kept = Layout.Narrow(old, 2, 0, Position);
            Layout.WriteSlice(grown, 2, 0, kept);
        }
        old.Dispose();
        return grown;
    }

    private Tensor Alloc(int slots, Device device) =>
        Tensor.Zeros(new[] { Batch, KvHeads, slots, HeadDim }, DType.Float32, device).DetachFromScope();
}
