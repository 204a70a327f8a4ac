using Ssm.Checkpoints;
using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>
/// A hybrid Mamba-2 / attention (/ S4D) language model built from a per-layer layout (<see cref="HybridConfig.Layers"/>):
/// 'M' layers are Mamba-2 blocks, 'A' layers attention blocks, 'S' layers S4D blocks (s4d.py's parameter names under
/// <c>mixer.</c>), each a pre-norm <see cref="TransformerBlock"/>, in
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
            i => config.Layers[i].Kind switch
            {
                HybridLayerKind.Mamba => new TransformerBlock(config.Mamba, config.Block, rng, device),
                HybridLayerKind.S4D => new TransformerBlock(config.S4D, config.Block, rng, device),
                _ => new TransformerBlock(config.LayerAttention(i), config.Block, rng, device),
            }, rng, device)
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

    /// <summary>
    /// Loads a mamba_ssm-style folder: <c>config.json</c> (<see cref="HybridConfig.FromJson"/>; pure Mamba-2 and
    /// Mamba-2/attention models of mamba_ssm) and <c>model.safetensors</c>. A tied <c>lm_head.weight</c> may be present and
    /// must equal the embedding. Missing, unexpected or mis-shaped tensors are refused with one message listing every problem.
    /// </summary>
    public static HybridLM Load(string directory, Device? device = null)
    {
        var (json, configPath) = ModelFolder.ReadConfig("HybridLM.Load", directory);
        var model = new HybridLM(HybridConfig.FromJson(json, configPath), new Rng(0), device);
        ModelFolder.LoadWeights(model, directory, model.Config.TieEmbeddings, model.EmbeddingLayer.Weight.Device);
        return model;
    }

    /// <summary>Saves config.json and model.safetensors (atomically; a tied lm_head is not duplicated).</summary>
    public void Save(string directory, FloatStorage floats = FloatStorage.F32) => ModelFolder.Save(this, directory, Config.ToJson(), floats);
}
