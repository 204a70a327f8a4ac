using System.Text;
using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>The mixer of one layer of a hybrid stack.</summary>
public enum HybridLayerKind
{
    /// <summary>A Mamba-2 mixer ('M').</summary>
    Mamba,
    /// <summary>Multi-head attention ('A').</summary>
    Attention,
    /// <summary>A causal S4D layer ('S', <see cref="Ssm.S4.S4D"/>).</summary>
    S4D,
}

/// <summary>One layer of a hybrid stack: its mixer and, for attention, an optional mask overriding the attention config's.</summary>
/// <param name="Kind">Mamba-2 or attention.</param>
/// <param name="Mask">For attention layers: this layer's mask policy; null: the one of <see cref="HybridConfig.Attention"/>.</param>
public readonly record struct HybridLayerSpec(HybridLayerKind Kind, AttentionMask? Mask = null);

/// <summary>
/// Builders of a hybrid stack's per-layer layout: a pattern string (<c>"MMMAMMMA"</c>), Jamba's attention period and
/// offset (layer i is attention iff i mod period = offset; Lieber et al. 2024 use period 8, offset 4), or MASFormer's
/// full attention in a few layers and local (sliding-window or block) attention in the rest (Zhang et al. 2023).
/// </summary>
public static class HybridPattern
{
    /// <summary>
    /// Parses a pattern with one character per layer: 'M' (Mamba-2), 'A' (attention with the config's mask) or 'S'
    /// (S4D); case, spaces, commas and '-' are ignored (<c>"M M M A"</c>, <c>"mmma"</c>, <c>"SSAS"</c>).
    /// </summary>
    public static IReadOnlyList<HybridLayerSpec> Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var layers = new List<HybridLayerSpec>();
        for (int i = 0; i < pattern.Length; i++)
        {
            char ch = pattern[i];
            if (ch is ' ' or ',' or '-' or '\t') continue;
            layers.Add(char.ToUpperInvariant(ch) switch
            {
                'M' => new HybridLayerSpec(HybridLayerKind.Mamba),
                'A' => new HybridLayerSpec(HybridLayerKind.Attention),
                'S' => new HybridLayerSpec(HybridLayerKind.S4D),
                _ => throw new ArgumentException($"HybridPattern.Parse: character '{ch}' at index {i} of \"{pattern}\" is not a layer kind; " +
                    "expected 'M' (Mamba-2), 'A' (attention) or 'S' (S4D).", nameof(pattern)),
            });
        }
        if (layers.Count == 0) throw new ArgumentException($"HybridPattern.Parse: pattern \"{pattern}\" has no layers; expected e.g. \"MMMAMMMA\".", nameof(pattern));
        return layers;
    }

    /// <summary>
    /// Jamba's layout: <paramref name="nLayer"/> layers, layer i attention iff i mod <paramref name="attnLayerPeriod"/> =
    /// <paramref name="attnLayerOffset"/>, Mamba-2 elsewhere.
    /// </summary>
    public static IReadOnlyList<HybridLayerSpec> Jamba(int nLayer, int attnLayerPeriod, int attnLayerOffset)
    {
        const string op = "HybridPattern.Jamba";
        if (nLayer < 1) throw new ArgumentOutOfRangeException(nameof(nLayer), nLayer, $"{op}: nLayer is {nLayer}, expected ≥ 1.");
        if (attnLayerPeriod < 1)
            throw new ArgumentOutOfRangeException(nameof(attnLayerPeriod), attnLayerPeriod, $"{op}: attn_layer_period is {attnLayerPeriod}, expected ≥ 1.");
        if (attnLayerOffset < 0 || attnLayerOffset >= attnLayerPeriod)
            throw new ArgumentOutOfRangeException(nameof(attnLayerOffset), attnLayerOffset,
                $"{op}: attn_layer_offset is {attnLayerOffset}, expected in [0, {attnLayerPeriod}) (the period).");
        return Enumerable.Range(0, nLayer)
            .Select(i => new HybridLayerSpec(i % attnLayerPeriod == attnLayerOffset ? HybridLayerKind.Attention : HybridLayerKind.Mamba))
            .ToList();
    }

    /// <summary>
    /// MASFormer's layout: every layer is attention; the layers in <paramref name="fullAttentionLayers"/> use full
    /// (causal) attention and the others <paramref name="localMask"/> (a sliding window or causal block mask).
    /// </summary>
    public static IReadOnlyList<HybridLayerSpec> MasFormer(int nLayer, IEnumerable<int> fullAttentionLayers, AttentionMask localMask)
    {
        const string op = "HybridPattern.MasFormer";
        ArgumentNullException.ThrowIfNull(fullAttentionLayers);
        if (nLayer < 1) throw new ArgumentOutOfRangeException(nameof(nLayer), nLayer, $"{op}: nLayer is {nLayer}, expected ≥ 1.");
        if (localMask.Kind is not (AttentionMaskKind.SlidingWindow or AttentionMaskKind.Block))
            throw new ArgumentException($"{op}: localMask is {localMask}, expected a sliding window or block mask.", nameof(localMask));
        var full = new HashSet<int>();
        foreach (int i in fullAttentionLayers)
        {
            if (i < 0 || i >= nLayer)
                throw new ArgumentOutOfRangeException(nameof(fullAttentionLayers), i, $"{op}: full-attention layer {i} is outside [0, {nLayer}).");
            if (!full.Add(i)) throw new ArgumentException($"{op}: full-attention layer {i} is listed twice.", nameof(fullAttentionLayers));
        }
        return Enumerable.Range(0, nLayer)
            .Select(i => new HybridLayerSpec(HybridLayerKind.Attention, full.Contains(i) ? AttentionMask.Causal : localMask))
            .ToList();
    }

    /// <summary>The pattern string of a layout ('M' / 'A' / 'S' per layer; masks are not shown).</summary>
    public static string Format(IEnumerable<HybridLayerSpec> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var sb = new StringBuilder();
        foreach (var l in layers) sb.Append(l.Kind switch { HybridLayerKind.Mamba => 'M', HybridLayerKind.Attention => 'A', _ => 'S' });
        return sb.ToString();
    }
}
