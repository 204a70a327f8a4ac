using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ssm.Mamba;

/// <summary>
/// Hyper-parameters of one Mamba-2 mixer, with mamba_ssm's defaults (mamba_ssm/modules/mamba2.py): d_state 128,
/// d_conv 4, expand 2, headdim 64, ngroups 1, A ~ U[1, 16], Δ₀ ~ exp(U[ln 0.001, ln 0.1]) floored at 1e-4, chunk 256.
/// </summary>
public sealed record Mamba2Config
{
    /// <summary>Model width.</summary>
    public int DModel { get; init; }
    /// <summary>State size N per head.</summary>
    public int DState { get; init; } = 128;
    /// <summary>Causal depthwise convolution width.</summary>
    public int DConv { get; init; } = 4;
    /// <summary>d_inner = expand · d_model.</summary>
    public int Expand { get; init; } = 2;
    /// <summary>Head dimension P; nheads = d_inner / headdim.</summary>
    public int HeadDim { get; init; } = 64;
    /// <summary>Groups sharing B and C (and the gated-norm groups).</summary>
    public int NGroups { get; init; } = 1;
    /// <summary>SSD chunk length for the parallel form.</summary>
    public int ChunkSize { get; init; } = 256;
    /// <summary>Range of the initial A (A_log = ln A).</summary>
    public (double Min, double Max) AInitRange { get; init; } = (1, 16);
    /// <summary>Smallest initial Δ.</summary>
    public double DtMin { get; init; } = 0.001;
    /// <summary>Largest initial Δ.</summary>
    public double DtMax { get; init; } = 0.1;
    /// <summary>Floor of the initial Δ.</summary>
    public double DtInitFloor { get; init; } = 1e-4;
    /// <summary>Epsilon of the gated RMSNorm.</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary>expand · d_model.</summary>
    public int DInner => Expand * DModel;
    /// <summary>d_inner / headdim.</summary>
    public int NHeads => DInner / HeadDim;
    /// <summary>Channels of the convolution: x, B and C.</summary>
    public int ConvDim => DInner + 2 * NGroups * DState;
    /// <summary>Width of in_proj's output: z, xBC, dt.</summary>
    public int DInProj => 2 * DInner + 2 * NGroups * DState + NHeads;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"Mamba2Config: {what}."); }
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(DState > 0, $"d_state must be positive, got {DState}");
        Need(DConv > 0, $"d_conv must be positive, got {DConv}");
        Need(Expand > 0, $"expand must be positive, got {Expand}");
        Need(HeadDim > 0 && DInner % HeadDim == 0, $"d_inner = expand·d_model = {DInner} must be divisible by headdim {HeadDim}");
        Need(NGroups > 0 && NHeads % NGroups == 0, $"ngroups {NGroups} must divide nheads {NHeads}");
        Need(DInner % NGroups == 0, $"ngroups {NGroups} must divide d_inner {DInner}");
        Need(ChunkSize > 0, $"chunk_size must be positive, got {ChunkSize}");
        Need(AInitRange.Min > 0 && AInitRange.Max >= AInitRange.Min, $"A_init_range must satisfy 0 < min ≤ max, got ({AInitRange.Min}, {AInitRange.Max})");
        Need(DtMin > 0 && DtMax >= DtMin, $"dt range must satisfy 0 < dt_min ≤ dt_max, got ({DtMin}, {DtMax})");
    }
}

/// <summary>
/// A Mamba language model's configuration in mamba_ssm's <c>config.json</c> layout (<c>MambaConfig</c>):
/// d_model, n_layer, vocab_size, ssm_cfg {layer, d_state, headdim, expand, ngroups, d_conv, chunk_size}, rms_norm,
/// tie_embeddings, pad_vocab_size_multiple, residual_in_fp32, fused_add_norm.
/// </summary>
public sealed record MambaLMConfig
{
    /// <summary>Model width.</summary>
    public int DModel { get; init; }
    /// <summary>Number of blocks.</summary>
    public int NLayer { get; init; }
    /// <summary>Vocabulary size before padding.</summary>
    public int VocabSize { get; init; }
    /// <summary>The vocabulary is padded up to a multiple of this.</summary>
    public int PadVocabSizeMultiple { get; init; } = 8;
    /// <summary>Tie lm_head to the embedding.</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>RMSNorm (true) or LayerNorm (false) around blocks.</summary>
    public bool RmsNorm { get; init; } = true;
    /// <summary>Keep the residual stream in float32 (always the case here; kept for the file format).</summary>
    public bool ResidualInFp32 { get; init; } = true;
    /// <summary>mamba_ssm's fused add+norm flag (numerically the same computation here; kept for the file format).</summary>
    public bool FusedAddNorm { get; init; } = true;
    /// <summary>The mixer configuration (its DModel equals <see cref="DModel"/>).</summary>
    public Mamba2Config Mixer { get; init; } = new();

    /// <summary>Vocabulary size after padding to <see cref="PadVocabSizeMultiple"/>.</summary>
    public int PaddedVocabSize => PadVocabSizeMultiple <= 1 ? VocabSize
        : (VocabSize + PadVocabSizeMultiple - 1) / PadVocabSizeMultiple * PadVocabSizeMultiple;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first inconsistent setting.</summary>
    public void Validate()
    {
        if (DModel <= 0) throw new ArgumentException($"MambaLMConfig: d_model must be positive, got {DModel}.");
        if (NLayer <= 0) throw new ArgumentException($"MambaLMConfig: n_layer must be positive, got {NLayer}.");
        if (VocabSize <= 0) throw new ArgumentException($"MambaLMConfig: vocab_size must be positive, got {VocabSize}.");
        if (Mixer.DModel != DModel) throw new ArgumentException($"MambaLMConfig: ssm_cfg d_model {Mixer.DModel} differs from d_model {DModel}.");
        Mixer.Validate();
    }

    /// <summary>Parses mamba_ssm's config.json (only Mamba2 layers are supported; attention layers are rejected clearly).</summary>
    public static MambaLMConfig FromJson(string json, string source = "config.json")
    {
        JsonNode root;
        try { root = JsonNode.Parse(json) ?? throw new JsonException("empty document"); }
        catch (JsonException e) { throw new ArgumentException($"{source}: not valid JSON ({e.Message}).", e); }
        int Int(JsonNode? n, string key, int? fallback = null)
        {
            var v = n?[key];
            if (v is null) return fallback ?? throw new ArgumentException($"{source}: missing required key '{key}'.");
            try { return v.GetValue<int>(); }
            catch (Exception e) when (e is FormatException or InvalidOperationException) { throw new ArgumentException($"{source}: '{key}' must be an integer, got {v.ToJsonString()}.", e); }
        }
        bool Bool(JsonNode? n, string key, bool fallback) => n?[key] is { } v ? v.GetValue<bool>() : fallback;

        var ssm = root["ssm_cfg"];
        var layer = ssm?["layer"]?.GetValue<string>() ?? "Mamba1";
        if (layer != "Mamba2") throw new ArgumentException($"{source}: ssm_cfg.layer is '{layer}'; Ssm loads Mamba2 models.");
        if (root["attn_layer_idx"] is JsonArray { Count: > 0 })
            throw new ArgumentException($"{source}: attn_layer_idx is not empty; hybrid attention layers are built with Ssm.Hybrid, not MambaLMHeadModel.");
        if (Int(root, "d_intermediate", 0) != 0)
            throw new ArgumentException($"{source}: d_intermediate > 0 (MLP blocks) is not supported by MambaLMHeadModel.");
        int dModel = Int(root, "d_model");
        var a = ssm?["A_init_range"] as JsonArray;
        var defaults = new Mamba2Config();
        var cfg = new MambaLMConfig
        {
            DModel = dModel,
            NLayer = Int(root, "n_layer"),
            VocabSize = Int(root, "vocab_size"),
            PadVocabSizeMultiple = Int(root, "pad_vocab_size_multiple", 8),
            TieEmbeddings = Bool(root, "tie_embeddings", true),
            RmsNorm = Bool(root, "rms_norm", true),
            ResidualInFp32 = Bool(root, "residual_in_fp32", true),
            FusedAddNorm = Bool(root, "fused_add_norm", true),
            Mixer = defaults with
            {
                DModel = dModel,
                DState = Int(ssm, "d_state", defaults.DState),
                DConv = Int(ssm, "d_conv", defaults.DConv),
                Expand = Int(ssm, "expand", defaults.Expand),
                HeadDim = Int(ssm, "headdim", defaults.HeadDim),
                NGroups = Int(ssm, "ngroups", defaults.NGroups),
                ChunkSize = Int(ssm, "chunk_size", defaults.ChunkSize),
                AInitRange = a is { Count: 2 } ? (a[0]!.GetValue<double>(), a[1]!.GetValue<double>()) : defaults.AInitRange,
            },
        };
        try { cfg.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"{source}: {e.Message}", e); }
        return cfg;
    }

    /// <summary>Writes mamba_ssm's config.json layout.</summary>
    public string ToJson()
    {
        var m = Mixer;
        var root = new JsonObject
        {
            ["d_model"] = DModel,
            ["d_intermediate"] = 0,
            ["n_layer"] = NLayer,
            ["vocab_size"] = VocabSize,
            ["ssm_cfg"] = new JsonObject
            {
                ["layer"] = "Mamba2", ["d_state"] = m.DState, ["headdim"] = m.HeadDim, ["expand"] = m.Expand,
                ["ngroups"] = m.NGroups, ["d_conv"] = m.DConv, ["chunk_size"] = m.ChunkSize,
                ["A_init_range"] = new JsonArray(m.AInitRange.Min, m.AInitRange.Max),
            },
            ["attn_layer_idx"] = new JsonArray(),
            ["attn_cfg"] = new JsonObject(),
            ["rms_norm"] = RmsNorm,
            ["residual_in_fp32"] = ResidualInFp32,
            ["fused_add_norm"] = FusedAddNorm,
            ["pad_vocab_size_multiple"] = PadVocabSizeMultiple,
            ["tie_embeddings"] = TieEmbeddings,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }
}
