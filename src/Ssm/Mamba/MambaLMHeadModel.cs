using Ssm.Checkpoints;
using Ssm.Inference;
using Ssm.Kernels;

namespace Ssm.Mamba;

// Mamba language model in mamba_ssm's MambaLMHeadModel layout (mamba_ssm/models/mixer_seq_simple.py):
//   h = embedding(ids); residual = 0
//   per block i: residual = h + residual; h = mixer_i(RMSNorm_i(residual))        (pre-norm, residual in float32)
//   logits = lm_head(RMSNorm_f(h + residual)),  lm_head tied to the embedding by default.
// Initialization as mamba_ssm's _init_weights: embedding N(0, 0.02²); out_proj rescaled by 1/√n_layer.

/// <summary>One residual block: <c>norm</c> (RMSNorm) and <c>mixer</c> (<see cref="Mamba2"/>).</summary>
public sealed class MambaBlock : Module
{
    /// <summary>Creates the block.</summary>
    public MambaBlock(Mamba2Config config, Rng rng, Device device)
    {
        Norm = RegisterModule("norm", new RmsNorm(config.DModel, (float)config.NormEps, device));
        Mixer = RegisterModule("mixer", new Mamba2(config, rng, device));
    }

    /// <summary>Pre-norm.</summary>
    public RmsNorm Norm { get; }
    /// <summary>The Mamba-2 mixer.</summary>
    public Mamba2 Mixer { get; }
}

/// <summary>Per-layer inference states of a <see cref="MambaLMHeadModel"/>.</summary>
public sealed class MambaCache : LayerCache<Mamba2State>
{
    internal MambaCache(IEnumerable<Mamba2State> layers, int batch) : base(layers, batch)
    {
    }
}

/// <summary>
/// A Mamba-2 language model whose parameter names match mamba_ssm (<c>backbone.embedding.weight</c>,
/// <c>backbone.layers.{i}.norm.weight</c>, <c>backbone.layers.{i}.mixer.*</c>, <c>backbone.norm_f.weight</c>,
/// <c>lm_head.weight</c> when untied), so mamba_ssm checkpoints load and saved ones load back into mamba_ssm.
/// </summary>
public sealed class MambaLMHeadModel : Module, IStateTracedLanguageModel
{
    private readonly Backbone _backbone;

    /// <summary>Creates a model with mamba_ssm's initialization.</summary>
    public MambaLMHeadModel(MambaLMConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        _backbone = RegisterModule("backbone", new Backbone(config, rng, d));
        if (!config.TieEmbeddings)
            LmHead = RegisterModule("lm_head", new Linear(config.DModel, config.PaddedVocabSize, bias: false, rng, d));
        foreach (var block in _backbone.Layers)
        {
            var w = block.Mixer.OutProj.Weight.Data;
            w.CopyFrom(Elementwise.Scale(w, (float)(1 / Math.Sqrt(config.NLayer))));
        }
    }

    /// <summary>The configuration.</summary>
    public MambaLMConfig Config { get; }
    /// <summary>Token embedding [padded_vocab, d_model].</summary>
    public Embedding EmbeddingLayer => _backbone.Embedding;
    /// <summary>The residual blocks.</summary>
    public IReadOnlyList<MambaBlock> Layers => _backbone.Layers;
    /// <summary>Final RMSNorm.</summary>
    public RmsNorm NormF => _backbone.NormF;
    /// <summary>Separate output projection when embeddings are not tied; null when tied.</summary>
    public Linear? LmHead { get; }

    /// <summary>
    /// The inference-time state-collapse mitigation of the layers (see <see cref="Mamba2.Mitigation"/>); setting it sets
    /// every layer, reading it gives the first layer's.
    /// </summary>
    public StateMitigation Mitigation
    {
        get => Layers[0].Mixer.Mitigation;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            value.Validate();
            foreach (var block in Layers) block.Mixer.Mitigation = value;
        }
    }

    /// <summary>Zero inference states for <paramref name="batch"/> sequences.</summary>
    public MambaCache AllocateCache(int batch) => new(Layers.Select(l => l.Mixer.AllocateState(batch)), batch);

    /// <inheritdoc />
    public int VocabSize => Config.PaddedVocabSize;

    /// <inheritdoc />
    public IInferenceCache AllocateInferenceCache(int batch) => AllocateCache(batch);

    Variable IRecurrentLanguageModel.Forward(Tensor inputIds, IInferenceCache? cache) => Forward(inputIds, AsCache(cache));

    Tensor IRecurrentLanguageModel.Step(IInferenceCache cache, Tensor ids) => Step(AsCache(cache)!, ids);

    int IStateTracedLanguageModel.StateLayers => Layers.Count;

    int IStateTracedLanguageModel.StateHeads => Config.Mixer.NHeads;

    int IStateTracedLanguageModel.StateHeadSize => Config.Mixer.HeadDim * Config.Mixer.DState;

    string IStateTracedLanguageModel.StateHeadUnit => "head";

    string IStateTracedLanguageModel.StateMitigationName => Mitigation.ToString();

    Tensor IStateTracedLanguageModel.TracedState(IInferenceCache cache, int layer)
    {
        var state = AsCache(cache)!.Layers[layer];
        return state.ReadoutState().Reshape(state.Batch, Config.Mixer.NHeads, Config.Mixer.HeadDim * Config.Mixer.DState);
    }

    Tensor IStateTracedLanguageModel.TracedLogRetention(IInferenceCache cache, int layer) => AsCache(cache)!.Layers[layer].LogRetention;

    private static MambaCache? AsCache(IInferenceCache? cache) => LanguageModelOps.AsCache<MambaCache>("MambaLMHeadModel", cache);

    /// <summary>
    /// Logits [batch, length, padded_vocab] for token ids [batch, length] (int32 or int64). With a cache, the
    /// sequences continue from it and the cache advances (chunked prefill).
    /// </summary>
    public Variable Forward(Tensor inputIds, MambaCache? cache = null)
    {
        LanguageModelOps.CheckForward("MambaLMHeadModel.Forward", inputIds, cache);
        var normed = ForwardHidden(EmbeddingLayer.Forward(inputIds), cache);
        return Head(normed);
    }

    /// <summary>
    /// Runs the blocks and the final norm on given input embeddings [batch, length, d_model] (like Hugging Face's
    /// <c>inputs_embeds</c>; e.g. a linear read-in of real-valued inputs) and returns the normalized hidden states.
    /// </summary>
    public Variable ForwardHidden(Variable embeddings, MambaCache? cache = null)
    {
        Guard.Shape("MambaLMHeadModel.ForwardHidden", embeddings.Data, "embeddings", new[] { -1, -1, Config.DModel }, $"[batch, length, {Config.DModel}] (d_model)");
        var h = embeddings;
        Variable? residual = null;
        for (int i = 0; i < Layers.Count; i++)
        {
            residual = residual is null ? h : F.Add(h, residual);
            h = Layers[i].Mixer.Forward(Layers[i].Norm.Forward(residual), cache?.Layers[i]);
        }
        if (cache is not null) cache.Position += embeddings.Size(1);
        return NormF.Forward(residual is null ? h : F.Add(h, residual));
    }

    /// <summary>One recurrent step: logits [batch, padded_vocab] for the next token after ids [batch] (int32/int64).</summary>
    public Tensor Step(MambaCache cache, Tensor ids)
    {
        LanguageModelOps.CheckStep("MambaLMHeadModel.Step", cache, ids);
        using var noGrad = Autograd.NoGrad();
        var h = EmbeddingLayer.Forward(ids).Data;
        Tensor? residual = null;
        for (int i = 0; i < Layers.Count; i++)
        {
            residual = residual is null ? h : Elementwise.Add(h, residual);
            var normed = Layers[i].Norm.Forward(new Variable(residual)).Data;
            h = Layers[i].Mixer.Step(cache.Layers[i], normed);
        }
        var final = NormF.Forward(new Variable(residual is null ? h : Elementwise.Add(h, residual)));
        cache.Position += 1;
        return Head(final).Data;
    }

    private Variable Head(Variable h) => LanguageModelOps.Head(h, EmbeddingLayer, LmHead);

    /// <summary>True for parameters that get no weight decay (mamba_ssm's A_log, D, dt_bias, plus norms and biases by convention).</summary>
    public static bool IsNoDecayParameter(string name) =>
        Mamba2.IsSsmParameter(name) || name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("norm_f.weight", StringComparison.Ordinal)
        || name.EndsWith(".bias", StringComparison.Ordinal);

    // ---- checkpoints ----------------------------------------------------------------------------------------------

    /// <summary>
    /// Loads a mamba_ssm-style folder: <c>config.json</c> and <c>model.safetensors</c> (names as mamba_ssm; a tied
    /// <c>lm_head.weight</c> may be present and must equal the embedding). Missing, unexpected or mis-shaped tensors are
    /// refused with one message listing every problem.
    /// </summary>
    public static MambaLMHeadModel Load(string directory, Device? device = null)
    {
        var (json, configPath) = ModelFolder.ReadConfig("MambaLMHeadModel.Load", directory);
        var model = new MambaLMHeadModel(MambaLMConfig.FromJson(json, configPath), new Rng(0), device);
        ModelFolder.LoadWeights(model, directory, model.Config.TieEmbeddings, model.EmbeddingLayer.Weight.Device);
        return model;
    }

    /// <summary>Saves config.json and model.safetensors (atomically; tied lm_head not duplicated, as mamba_ssm saves).</summary>
    public void Save(string directory, FloatStorage floats = FloatStorage.F32) => ModelFolder.Save(this, directory, Config.ToJson(), floats);

    private sealed class Backbone : Module
    {
        public Backbone(MambaLMConfig config, Rng rng, Device device)
        {
            Embedding = RegisterModule("embedding", new Embedding(config.PaddedVocabSize, config.DModel, rng, std: 0.02, device));
            Layers = RegisterModule("layers", new ModuleList<MambaBlock>(
                Enumerable.Range(0, config.NLayer).Select(_ => new MambaBlock(config.Mixer, rng, device)).ToList()));
            NormF = RegisterModule("norm_f", new RmsNorm(config.DModel, (float)config.Mixer.NormEps, device));
        }

        public Embedding Embedding { get; }
        public IReadOnlyList<MambaBlock> Layers { get; }
        public RmsNorm NormF { get; }
    }
}
