using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ssm.Kernels;
using Ssm.Mamba;
using Ssm.S4;

namespace Ssm.Hybrid;

/// <summary>
/// A <see cref="HybridLM"/>'s configuration: the per-layer layout (<see cref="HybridPattern"/>: a pattern string such as
/// <c>"MMMAMMMA"</c>, Jamba's period/offset, or MASFormer's full/local attention layers), one config per mixer kind
/// (<see cref="Mamba"/>, <see cref="Attention"/>, <see cref="S4D"/>; an attention layer may override the mask) and the block settings shared
/// by every layer (norm, optional MLP as mamba_ssm's d_intermediate, dropout). <see cref="ToJson"/>/<see cref="FromJson"/>
/// use mamba_ssm's config.json (MambaConfig: attn_layer_idx lists the attention layers, attn_cfg holds MHA's settings);
/// settings mamba_ssm lacks (non-causal-default masks, S4D layers, GELU MLP, MLP bias, dropout, norm epsilon, landmarks) go into an
/// extra "ssm" object that is written only when used, so plain configurations stay loadable by mamba_ssm.
/// </summary>
public sealed record HybridConfig
{
    /// <summary>Model width.</summary>
    public int DModel { get; init; }
    /// <summary>Vocabulary size before padding.</summary>
    public int VocabSize { get; init; }
    /// <summary>The vocabulary is padded up to a multiple of this (mamba_ssm's pad_vocab_size_multiple).</summary>
    public int PadVocabSizeMultiple { get; init; } = 8;
    /// <summary>Tie the output projection to the embedding.</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>The layers, in order (see <see cref="HybridPattern"/>).</summary>
    public IReadOnlyList<HybridLayerSpec> Layers { get; init; } = Array.Empty<HybridLayerSpec>();
    /// <summary>The Mamba-2 mixer of every 'M' layer (its DModel equals <see cref="DModel"/>).</summary>
    public Mamba2Config Mamba { get; init; } = new();
    /// <summary>The attention of every 'A' layer (its DModel equals <see cref="DModel"/>; a layer's mask may override <see cref="AttentionConfig.Mask"/>).</summary>
    public AttentionConfig Attention { get; init; } = new();
    /// <summary>The S4D layer of every 'S' layer (its DModel equals <see cref="DModel"/>; batch-first and causal: Transposed and Bidirectional false).</summary>
    public S4DConfig S4D { get; init; } = new() { Transposed = false };
    /// <summary>Norm, MLP and dropout of every block.</summary>
    public BlockConfig Block { get; init; } = new();

    /// <summary>Number of layers.</summary>
    public int NLayer => Layers.Count;
    /// <summary>The layout as a pattern string ('M'/'A').</summary>
    public string Pattern => HybridPattern.Format(Layers);
    /// <summary>Vocabulary size after padding.</summary>
    public int PaddedVocabSize => PadVocabSizeMultiple <= 1 ? VocabSize
        : (VocabSize + PadVocabSizeMultiple - 1) / PadVocabSizeMultiple * PadVocabSizeMultiple;

    /// <summary>The attention config of layer <paramref name="layer"/> (with its mask override).</summary>
    public AttentionConfig LayerAttention(int layer)
    {
        var spec = Layers[layer];
        if (spec.Kind != HybridLayerKind.Attention)
            throw new ArgumentException($"HybridConfig.LayerAttention: layer {layer} is a {spec.Kind} layer, not attention.", nameof(layer));
        return spec.Mask is { } m ? Attention with { Mask = m } : Attention;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        if (DModel <= 0) throw new ArgumentException($"HybridConfig: d_model must be positive, got {DModel}.");
        if (VocabSize <= 0) throw new ArgumentException($"HybridConfig: vocab_size must be positive, got {VocabSize}.");
        if (Layers is null || Layers.Count == 0)
            throw new ArgumentException("HybridConfig: no layers; set Layers from HybridPattern.Parse(\"MMMA…\"), HybridPattern.Jamba or HybridPattern.MasFormer.");
        ArgumentNullException.ThrowIfNull(Mamba);
        ArgumentNullException.ThrowIfNull(Attention);
        ArgumentNullException.ThrowIfNull(S4D);
        ArgumentNullException.ThrowIfNull(Block);
        Block.Validate();
        if (Layers.Any(l => l.Kind == HybridLayerKind.S4D))
        {
            if (S4D.DModel != DModel) throw new ArgumentException($"HybridConfig: S4D d_model {S4D.DModel} differs from d_model {DModel}.");
            if (S4D.Transposed || S4D.Bidirectional)
                throw new ArgumentException("HybridConfig: the S4D layers must be batch-first and causal (Transposed = false, Bidirectional = false).");
            S4D.Validate();
        }
        if (Layers.Any(l => l.Kind == HybridLayerKind.Mamba))
        {
            if (Mamba.DModel != DModel) throw new ArgumentException($"HybridConfig: Mamba d_model {Mamba.DModel} differs from d_model {DModel}.");
            Mamba.Validate();
        }
        if (Layers.Any(l => l.Kind == HybridLayerKind.Attention))
        {
            if (Attention.DModel != DModel) throw new ArgumentException($"HybridConfig: attention d_model {Attention.DModel} differs from d_model {DModel}.");
            Attention.Validate();
        }
        for (int i = 0; i < Layers.Count; i++)
        {
            var l = Layers[i];
            if (l.Kind != HybridLayerKind.Attention && l.Mask is not null)
                throw new ArgumentException($"HybridConfig: layer {i} is a {(l.Kind == HybridLayerKind.Mamba ? "Mamba-2" : "S4D")} layer but has an attention mask ({l.Mask}).");
            if (l.Kind == HybridLayerKind.Attention && !AttentionCache.SupportsMask(LayerAttention(i).Mask))
                throw new ArgumentException($"HybridConfig: attention layer {i} has mask {LayerAttention(i).Mask}, which lets a token see later tokens; " +
                    "a causal language model needs Causal, SlidingWindow, Block(causal: true) or LambdaShaped.");
        }
    }

    // ---- config.json ----------------------------------------------------------------------------------------------

    /// <summary>Writes mamba_ssm's config.json layout (plus the "ssm" object for settings mamba_ssm does not have).</summary>
    public string ToJson()
    {
        Validate();
        var m = Mamba;
        var a = Attention;
        var attnLayers = Enumerable.Range(0, NLayer).Where(i => Layers[i].Kind == HybridLayerKind.Attention).ToList();
        var root = new JsonObject
        {
            ["d_model"] = DModel,
            ["d_intermediate"] = Block.DIntermediate,
            ["n_layer"] = NLayer,
            ["vocab_size"] = VocabSize,
            ["ssm_cfg"] = new JsonObject
            {
                ["layer"] = "Mamba2", ["d_state"] = m.DState, ["headdim"] = m.HeadDim, ["expand"] = m.Expand, ["ngroups"] = m.NGroups,
                ["d_conv"] = m.DConv, ["chunk_size"] = m.ChunkSize, ["A_init_range"] = new JsonArray(m.AInitRange.Min, m.AInitRange.Max),
            },
            ["attn_layer_idx"] = new JsonArray(attnLayers.Select(i => (JsonNode)i).ToArray()),
            ["attn_cfg"] = attnLayers.Count == 0 ? new JsonObject() : new JsonObject
            {
                ["num_heads"] = a.NumHeads, ["num_heads_kv"] = a.KvHeads, ["head_dim"] = a.HeadDimension,
                ["qkv_proj_bias"] = a.QkvProjBias, ["out_proj_bias"] = a.OutProjBias,
                ["softmax_scale"] = a.SoftmaxScale is float sc ? sc : null, ["rotary_emb_dim"] = a.RotaryEmbDim,
                ["rotary_emb_base"] = a.RotaryEmbBase, ["rotary_emb_interleaved"] = a.RotaryEmbInterleaved, ["d_conv"] = a.DConv,
                ["causal"] = true,
            },
            ["rms_norm"] = Block.Norm == NormKind.RmsNorm,
            ["residual_in_fp32"] = true,
            ["fused_add_norm"] = true,
            ["pad_vocab_size_multiple"] = PadVocabSizeMultiple,
            ["tie_embeddings"] = TieEmbeddings,
        };
        var extra = new JsonObject();
        if (a.Mask != AttentionMask.Causal) extra["attn_mask"] = FormatMask(a.Mask);
        var overrides = new JsonObject();
        foreach (int i in attnLayers)
            if (Layers[i].Mask is { } mask && mask != a.Mask) overrides[i.ToString(CultureInfo.InvariantCulture)] = FormatMask(mask);
        if (overrides.Count > 0) extra["attn_layer_masks"] = overrides;
        var s4dLayers = Enumerable.Range(0, NLayer).Where(i => Layers[i].Kind == HybridLayerKind.S4D).ToList();
        if (s4dLayers.Count > 0)
        {
            var s = S4D;
            extra["s4d_layer_idx"] = new JsonArray(s4dLayers.Select(i => (JsonNode)i).ToArray());
            extra["s4d_cfg"] = new JsonObject
            {
                ["d_state"] = s.DState, ["dt_min"] = s.DtMin, ["dt_max"] = s.DtMax, ["init"] = s.Init.ToString(),
                ["discretization"] = s.Discretization.ToString(), ["dt_transform"] = s.DtTransform.ToString(), ["dropout"] = s.Dropout,
            };
        }
        if (a.LandmarkBlockSize > 0) extra["landmark_block_size"] = a.LandmarkBlockSize;
        if (a.LandmarkTopK is int topK) extra["landmark_top_k"] = topK;
        if (Block.Mlp != MlpKind.SwiGlu) extra["mlp"] = "gelu";
        if (Block.MlpBias) extra["mlp_bias"] = true;
        if (Block.Dropout > 0) extra["dropout"] = Block.Dropout;
        if (Block.NormEps != 1e-5) extra["norm_epsilon"] = Block.NormEps;
        if (m.NormEps != 1e-5) extra["ssm_norm_epsilon"] = m.NormEps;
        if (extra.Count > 0) root["ssm"] = extra;
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Parses mamba_ssm's config.json (Mamba2 layers; attention layers from attn_layer_idx/attn_cfg) and the optional "ssm" object.</summary>
    public static HybridConfig FromJson(string json, string source = "config.json")
    {
        JsonNode root;
        try { root = JsonNode.Parse(json) ?? throw new JsonException("empty document"); }
        catch (JsonException e) { throw new ArgumentException($"{source}: not valid JSON ({e.Message}).", e); }
        T Get<T>(JsonNode? n, string key, T fallback)
        {
            var v = n?[key];
            if (v is null) return fallback;
            try { return v.GetValue<T>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new ArgumentException($"{source}: '{key}' must be a {typeof(T).Name}, got {v.ToJsonString()}.", e);
            }
        }
        int Required(string key) => root[key] is null ? throw new ArgumentException($"{source}: missing required key '{key}'.") : Get(root, key, 0);

        int dModel = Required("d_model"), nLayer = Required("n_layer");
        var ssm = root["ssm_cfg"];
        var layer = Get(ssm, "layer", "Mamba1");
        var extra = root["ssm"];
        HashSet<int> Indices(JsonNode? n, string key)
        {
            var set = (n?[key] as JsonArray)?.Select(x => x!.GetValue<int>()).ToHashSet() ?? new HashSet<int>();
            foreach (int i in set)
                if (i < 0 || i >= nLayer) throw new ArgumentException($"{source}: {key} holds {i}, outside [0, {nLayer}).");
            return set;
        }
        var attnIdx = Indices(root, "attn_layer_idx");
        var s4dIdx = Indices(extra, "s4d_layer_idx");
        if (attnIdx.Overlaps(s4dIdx)) throw new ArgumentException($"{source}: a layer is listed in both attn_layer_idx and ssm.s4d_layer_idx.");
        if (attnIdx.Count + s4dIdx.Count < nLayer && layer != "Mamba2")
            throw new ArgumentException($"{source}: ssm_cfg.layer is '{layer}'; Ssm builds Mamba2 layers.");
        var s4dCfg = extra?["s4d_cfg"];
        TEnum Enum<TEnum>(string key, TEnum fallback) where TEnum : struct, System.Enum
        {
            var text = Get(s4dCfg, key, fallback.ToString());
            return System.Enum.TryParse<TEnum>(text, ignoreCase: true, out var value) ? value
                : throw new ArgumentException($"{source}: ssm.s4d_cfg.{key} is '{text}', expected one of {string.Join(", ", System.Enum.GetNames<TEnum>())}.");
        }
        var s4dDefaults = new S4DConfig { Transposed = false };
        var attn = root["attn_cfg"];
        if (attnIdx.Count > 0 && !Get(attn, "causal", false) && extra?["attn_mask"] is null)
            throw new ArgumentException($"{source}: attn_cfg.causal is not true; a causal language model needs causal attention.");
        var defaults = new Mamba2Config();
        var a = ssm?["A_init_range"] as JsonArray;
        var maskOverrides = extra?["attn_layer_masks"] as JsonObject;
        var config = new HybridConfig
        {
            DModel = dModel,
            VocabSize = Required("vocab_size"),
            PadVocabSizeMultiple = Get(root, "pad_vocab_size_multiple", 8),
            TieEmbeddings = Get(root, "tie_embeddings", true),
            Layers = Enumerable.Range(0, nLayer).Select(i => attnIdx.Contains(i)
                ? new HybridLayerSpec(HybridLayerKind.Attention,
                    maskOverrides?[i.ToString(CultureInfo.InvariantCulture)] is { } m ? ParseMask(m.GetValue<string>(), source) : null)
                : new HybridLayerSpec(s4dIdx.Contains(i) ? HybridLayerKind.S4D : HybridLayerKind.Mamba)).ToList(),
            S4D = s4dDefaults with
            {
                DModel = dModel,
                DState = Get(s4dCfg, "d_state", s4dDefaults.DState),
                DtMin = Get(s4dCfg, "dt_min", s4dDefaults.DtMin),
                DtMax = Get(s4dCfg, "dt_max", s4dDefaults.DtMax),
                Init = Enum("init", s4dDefaults.Init),
                Discretization = Enum("discretization", s4dDefaults.Discretization),
                DtTransform = Enum("dt_transform", s4dDefaults.DtTransform),
                Dropout = Get(s4dCfg, "dropout", s4dDefaults.Dropout),
            },
            Mamba = defaults with
            {
                DModel = dModel,
                DState = Get(ssm, "d_state", defaults.DState),
                DConv = Get(ssm, "d_conv", defaults.DConv),
                Expand = Get(ssm, "expand", defaults.Expand),
                HeadDim = Get(ssm, "headdim", defaults.HeadDim),
                NGroups = Get(ssm, "ngroups", defaults.NGroups),
                ChunkSize = Get(ssm, "chunk_size", defaults.ChunkSize),
                AInitRange = a is { Count: 2 } ? (a[0]!.GetValue<double>(), a[1]!.GetValue<double>()) : defaults.AInitRange,
                NormEps = Get(extra, "ssm_norm_epsilon", defaults.NormEps),
            },
            Attention = new AttentionConfig
            {
                DModel = dModel,
                NumHeads = Get(attn, "num_heads", 1),
                NumHeadsKv = attn?["num_heads_kv"] is null ? null : Get(attn, "num_heads_kv", 1),
                HeadDim = attn?["head_dim"] is null ? null : Get(attn, "head_dim", 1),
                QkvProjBias = Get(attn, "qkv_proj_bias", true),
                OutProjBias = Get(attn, "out_proj_bias", true),
                SoftmaxScale = attn?["softmax_scale"] is null ? null : Get(attn, "softmax_scale", 1f),
                RotaryEmbDim = Get(attn, "rotary_emb_dim", 0),
                RotaryEmbBase = Get(attn, "rotary_emb_base", 10000f),
                RotaryEmbInterleaved = Get(attn, "rotary_emb_interleaved", false),
                DConv = Get(attn, "d_conv", 0),
                Mask = extra?["attn_mask"] is { } mask ? ParseMask(mask.GetValue<string>(), source) : AttentionMask.Causal,
                LandmarkBlockSize = Get(extra, "landmark_block_size", 0),
                LandmarkTopK = extra?["landmark_top_k"] is null ? null : Get(extra, "landmark_top_k", 1),
            },
            Block = new BlockConfig
            {
                Norm = Get(root, "rms_norm", true) ? NormKind.RmsNorm : NormKind.LayerNorm,
                NormEps = Get(extra, "norm_epsilon", 1e-5),
                DIntermediate = Get(root, "d_intermediate", 0),
                Mlp = Get(extra, "mlp", "swiglu") == "gelu" ? MlpKind.Gelu : MlpKind.SwiGlu,
                MlpBias = Get(extra, "mlp_bias", false),
                Dropout = Get(extra, "dropout", 0f),
            },
        };
        try { config.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"{source}: {e.Message}", e); }
        return config;
    }

    /// <summary>"causal", "sliding_window:W", "block:B" (causal within the block) or "lambda:G:L".</summary>
    private static string FormatMask(AttentionMask mask) => mask.Kind switch
    {
        AttentionMaskKind.Causal => "causal",
        AttentionMaskKind.SlidingWindow => $"sliding_window:{mask.Window}",
        AttentionMaskKind.Block when mask.CausalWithinBlock => $"block:{mask.BlockSize}",
        AttentionMaskKind.LambdaShaped => $"lambda:{mask.GlobalTokens}:{mask.Window}",
        _ => throw new ArgumentException($"HybridConfig: mask {mask} cannot be saved (not causal)."),
    };

    private static AttentionMask ParseMask(string text, string source)
    {
        var parts = text.Split(':');
        int Arg(int i) => parts.Length > i && int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v
            : throw new ArgumentException($"{source}: mask '{text}' needs an integer argument {i}.");
        return parts[0] switch
        {
            "causal" => AttentionMask.Causal,
            "sliding_window" => AttentionMask.SlidingWindow(Arg(1)),
            "block" => AttentionMask.Block(Arg(1), causal: true),
            "lambda" => AttentionMask.LambdaShaped(Arg(1), Arg(2)),
            _ => throw new ArgumentException($"{source}: unknown mask '{text}'; expected causal, sliding_window:W, block:B or lambda:G:L."),
        };
    }
}
