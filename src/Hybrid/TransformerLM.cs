using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>
/// A decoder-only Transformer language model: embedding → <see cref="TransformerBlock"/>s (pre-norm attention + MLP)
/// → final norm → tied or untied head, in mamba_ssm's layout and initialization (<see cref="CausalLM"/>; a mamba_ssm
/// MambaLMHeadModel whose attn_layer_idx lists every layer). Attention masks must be causal (causal, sliding window,
/// causal block or Λ-shaped); decoding keeps a KV cache per layer (<see cref="HybridCache"/>).
/// </summary>
public sealed class TransformerLM : CausalLM
{
    /// <summary>Creates the model, drawing every initial value from <paramref name="rng"/>.</summary>
    public TransformerLM(TransformerConfig config, Rng rng, Device? device = null)
        : base("TransformerLM", Checked(config).PaddedVocabSize, config.DModel, config.TieEmbeddings, config.Block, config.NLayer,
            _ => new TransformerBlock(config.Attention, config.Block, rng, device), rng, device)
    {
        Config = config;
    }

    /// <summary>The configuration.</summary>
    public TransformerConfig Config { get; }

    private static TransformerConfig Checked(TransformerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        return config;
    }
}
