using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>
/// A hybrid Mamba-2 / attention language model built from a per-layer layout (<see cref="HybridConfig.Layers"/>):
/// 'M' layers are Mamba-2 blocks, 'A' layers attention blocks, each a pre-norm <see cref="TransformerBlock"/>, in
/// mamba_ssm's MambaLMHeadModel layout with attn_layer_idx = the 'A' layers: <c>backbone.layers.{i}.mixer.*</c> holds
/// Mamba-2's parameters (a pure "MM…" model has exactly <see cref="Ssm.Mamba.MambaLMHeadModel"/>'s names and, from the
/// same seed, the same initial values) or MHA's <c>in_proj</c> (packed q, k, v), optional <c>conv1d</c>, <c>out_proj</c>.
/// One cache type (<see cref="HybridCache"/>) serves parallel prefill and step decoding.
/// </summary>
public sealed class HybridLM : CausalLM
{
    /// <summary>Creates the model, drawing every initial value from <paramref name="rng"/>.</summary>
    public HybridLM(HybridConfig config, Rng rng, Device? device = null)
        : base("HybridLM", Checked(config).PaddedVocabSize, config.DModel, config.TieEmbeddings, config.Block, config.NLayer,
            i => config.Layers[i].Kind == HybridLayerKind.Mamba
                ? new TransformerBlock(config.Mamba, config.Block, rng, device)
                : new TransformerBlock(config.LayerAttention(i), config.Block, rng, device), rng, device)
    {
        Config = config;
    }

    /// <summary>The configuration.</summary>
    public HybridConfig Config { get; }

    private static HybridConfig Checked(HybridConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return config;
    }
}
