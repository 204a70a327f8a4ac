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
        var configPath = Path.Combine(directory, "config.json");
        var weightsPath = Path.Combine(directory, "model.safetensors");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"HybridLM.Load: no config.json in {directory}.", configPath);
        if (!File.Exists(weightsPath)) throw new FileNotFoundException($"HybridLM.Load: no model.safetensors in {directory}.", weightsPath);
        var model = new HybridLM(HybridConfig.FromJson(File.ReadAllText(configPath), configPath), new Rng(0), device);
        using var file = SafeTensorsFile.Open(weightsPath);
        using var scope = TensorScope.Begin();
        var state = new Dictionary<string, Tensor>();
        foreach (var name in file.Names) state[name] = file.Read(name, model.EmbeddingLayer.Weight.Device);
        if (model.Config.TieEmbeddings && state.Remove("lm_head.weight", out var head) && state.TryGetValue("backbone.embedding.weight", out var emb)
            && !head.ToArray().AsSpan().SequenceEqual(emb.ToArray()))
            throw new SafeTensorsFormatException($"{weightsPath}: lm_head.weight differs from backbone.embedding.weight but config.json has tie_embeddings = true.");
        try { model.LoadStateDict(state); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new SafeTensorsFormatException($"{weightsPath}: does not match config.json: {e.Message}", e);
        }
        return model;
    }

    /// <summary>Saves config.json and model.safetensors (atomically; a tied lm_head is not duplicated).</summary>
    public void Save(string directory, FloatStorage floats = FloatStorage.F32)
    {
        Directory.CreateDirectory(directory);
        SafeTensors.Save(Path.Combine(directory, "model.safetensors"), StateDict(), new Dictionary<string, string> { ["format"] = "pt" }, floats);
        var tmp = Path.Combine(directory, $".config.json.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(tmp, Config.ToJson());
        File.Move(tmp, Path.Combine(directory, "config.json"), overwrite: true);
    }
}
