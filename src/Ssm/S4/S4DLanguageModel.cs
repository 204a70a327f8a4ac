using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.S4;

/// <summary>Hyper-parameters of an <see cref="S4DLanguageModel"/>.</summary>
public sealed record S4DLanguageModelConfig
{
    /// <summary>Vocabulary size (logit width).</summary>
    public int VocabSize { get; init; }
    /// <summary>Model width H.</summary>
    public int DModel { get; init; } = 128;
    /// <summary>Number of residual blocks.</summary>
    public int NLayers { get; init; } = 4;
    /// <summary>State size N of each S4D layer.</summary>
    public int DState { get; init; } = 64;
    /// <summary>Dropout inside each layer and on each block's output.</summary>
    public float Dropout { get; init; }
    /// <summary>S4D initialization of A.</summary>
    public S4DInit Init { get; init; } = S4DInit.Lin;
    /// <summary>S4D discretization.</summary>
    public Discretization Discretization { get; init; } = Discretization.Zoh;
    /// <summary>Smallest initial Δ.</summary>
    public double DtMin { get; init; } = 0.001;
    /// <summary>Largest initial Δ.</summary>
    public double DtMax { get; init; } = 0.1;
    /// <summary>Share the embedding matrix with the output projection.</summary>
    public bool TieEmbeddings { get; init; } = true;

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        void Need(bool ok, string what) { if (!ok) throw new ArgumentException($"S4DLanguageModelConfig: {what}."); }
        Need(VocabSize > 0, $"vocab_size must be positive, got {VocabSize}");
        Need(DModel > 0, $"d_model must be positive, got {DModel}");
        Need(NLayers >= 0, $"n_layers must be non-negative, got {NLayers}");
        Need(Dropout >= 0 && Dropout < 1, $"dropout must be in [0, 1), got {Dropout}");
    }

    internal S4DConfig Layer => new()
    {
        DModel = DModel, DState = DState, DtMin = DtMin, DtMax = DtMax, Init = Init, Discretization = Discretization,
        Dropout = Dropout, Transposed = false,
    };
}

/// <summary>One pre-norm residual block of an <see cref="S4DLanguageModel"/>: <c>norm</c> (LayerNorm) and <c>mixer</c> (causal <see cref="S4D"/>).</summary>
public sealed class S4DLanguageModelBlock : Module
{
    internal S4DLanguageModelBlock(S4DLanguageModelConfig config, Rng rng, Device device)
    {
        Norm = RegisterModule("norm", new LayerNorm(config.DModel, device: device));
        Mixer = RegisterModule("mixer", new S4D(config.Layer, rng, device));
        Dropout = RegisterModule("dropout", new Dropout(config.Dropout, rng));
    }

    /// <summary>Pre-norm.</summary>
    public LayerNorm Norm { get; }
    /// <summary>The causal S4D layer (batch-first).</summary>
    public S4D Mixer { get; }
    /// <summary>Dropout on the block's output before the residual sum.</summary>
    public Dropout Dropout { get; }
}

/// <summary>Per-layer recurrent states of an <see cref="S4DLanguageModel"/>.</summary>
public sealed class S4DCache : LayerCache<S4DState>
{
    internal S4DCache(IEnumerable<S4DState> layers, int batch) : base(layers, batch)
    {
    }
}

/// <summary>
/// A causal S4D language model: embedding → blocks [h += dropout(S4D(LayerNorm(h)))] → LayerNorm → LM head (tied to the
/// embedding by default). Parameter names: <c>embedding.weight</c>, <c>layers.{i}.norm.*</c>, <c>layers.{i}.mixer.*</c>
/// (s4d.py names inside), <c>norm_f.*</c>, <c>lm_head.weight</c> when untied. Implements
/// <see cref="IRecurrentLanguageModel"/>: the convolutional <see cref="Forward(Tensor, S4DCache?)"/> (chunked prefill
/// with a cache) and the recurrent <see cref="Step(S4DCache, Tensor)"/>, so <see cref="Generator"/> works with it; and
/// <see cref="IStateTracedLanguageModel"/> for <see cref="StateDiagnostics"/>, a head being a channel (its N/2 complex
/// modes as N reals) and the first token's retention that of the channel's slowest mode.
/// </summary>
public sealed class S4DLanguageModel : Module, IStateTracedLanguageModel
{
    private readonly ModuleList<S4DLanguageModelBlock> _layers;

    /// <summary>Creates the model (embedding N(0, 0.02²)) from <paramref name="rng"/>.</summary>
    public S4DLanguageModel(S4DLanguageModelConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        EmbeddingLayer = RegisterModule("embedding", new Embedding(config.VocabSize, config.DModel, rng, std: 0.02, device: d));
        _layers = RegisterModule("layers", new ModuleList<S4DLanguageModelBlock>(
            Enumerable.Range(0, config.NLayers).Select(_ => new S4DLanguageModelBlock(config, rng, d)).ToList()));
        NormF = RegisterModule("norm_f", new LayerNorm(config.DModel, device: d));
        if (!config.TieEmbeddings) LmHead = RegisterModule("lm_head", new Linear(config.DModel, config.VocabSize, bias: false, rng, d));
    }

    /// <summary>The configuration.</summary>
    public S4DLanguageModelConfig Config { get; }
    /// <summary>Token embedding [vocab, d_model].</summary>
    public Embedding EmbeddingLayer { get; }
    /// <summary>The residual blocks.</summary>
    public IReadOnlyList<S4DLanguageModelBlock> Layers => _layers;
    /// <summary>Final LayerNorm.</summary>
    public LayerNorm NormF { get; }
    /// <summary>Separate output projection when embeddings are not tied; null when tied.</summary>
    public Linear? LmHead { get; }

    /// <inheritdoc />
    public int VocabSize => Config.VocabSize;

    /// <summary>AdamW groups: everything else (optimizer defaults), then Δ and A of every layer at <paramref name="ssmLr"/> with no weight decay.</summary>
    public IReadOnlyList<ParamGroup> ParameterGroups(double ssmLr = 1e-3) => S4ParamGroups.Create(this, ssmLr);

    /// <summary>Zero recurrent states for <paramref name="batch"/> sequences.</summary>
    public S4DCache AllocateCache(int batch) => new(Layers.Select(l => l.Mixer.AllocateState(batch)), batch);

    /// <inheritdoc />
    public IInferenceCache AllocateInferenceCache(int batch) => AllocateCache(batch);

    Variable IRecurrentLanguageModel.Forward(Tensor inputIds, IInferenceCache? cache) => Forward(inputIds, AsCache(cache));

    Tensor IRecurrentLanguageModel.Step(IInferenceCache cache, Tensor ids) => Step(AsCache(cache)!, ids);

    int IStateTracedLanguageModel.StateLayers => Layers.Count;

    int IStateTracedLanguageModel.StateHeads => Config.DModel;

    int IStateTracedLanguageModel.StateHeadSize => Layers.Count == 0 ? 0 : 2 * Layers[0].Mixer.Kernel.Modes;

    string IStateTracedLanguageModel.StateHeadUnit => "channel";

    string IStateTracedLanguageModel.StateMitigationName => "none";

    Tensor IStateTracedLanguageModel.TracedState(IInferenceCache cache, int layer)
    {
        var state = AsCache(cache)!.Layers[layer].State;
        return state.Reshape(state.Size(0), state.Size(1), state.Size(2) * 2);
    }

    /// <summary>ln α_{1:t} = t · max_n ln|Ā_n| for every sequence and channel (<see cref="S4D.SlowestLogDecay"/>).</summary>
    Tensor IStateTracedLanguageModel.TracedLogRetention(IInferenceCache cache, int layer)
    {
        var c = AsCache(cache)!;
        var perStep = Layers[layer].Mixer.SlowestLogDecay().ToArray();
        var retention = new float[c.Batch * perStep.Length];
        for (int b = 0; b < c.Batch; b++)
            for (int h = 0; h < perStep.Length; h++) retention[b * perStep.Length + h] = (float)((double)c.Position * perStep[h]);
        return Tensor.From(retention, new[] { c.Batch, perStep.Length }, EmbeddingLayer.Weight.Device);
    }

    private static S4DCache? AsCache(IInferenceCache? cache) => LanguageModelOps.AsCache<S4DCache>("S4DLanguageModel", cache);

    /// <summary>
    /// Logits [batch, length, vocab] for token ids [batch, length] (int32/int64). With a cache the sequences continue from
    /// it and the cache advances (chunked prefill).
    /// </summary>
    public Variable Forward(Tensor inputIds, S4DCache? cache = null)
    {
        LanguageModelOps.CheckForward("S4DLanguageModel.Forward", inputIds, cache);
        var h = EmbeddingLayer.Forward(inputIds);
        for (int i = 0; i < Layers.Count; i++)
        {
            var block = Layers[i];
            h = F.Add(h, block.Dropout.Forward(block.Mixer.Forward(block.Norm.Forward(h), cache?.Layers[i])));
        }
        if (cache is not null) cache.Position += inputIds.Size(1);
        return Head(NormF.Forward(h));
    }

    /// <summary>One recurrent step: logits [batch, vocab] for the next token after ids [batch] (int32/int64), advancing the cache.</summary>
    public Tensor Step(S4DCache cache, Tensor ids)
    {
        LanguageModelOps.CheckStep("S4DLanguageModel.Step", cache, ids);
        using var noGrad = Autograd.NoGrad();
        var h = EmbeddingLayer.Forward(ids).Data;
        for (int i = 0; i < Layers.Count; i++)
        {
            var block = Layers[i];
            h = Elementwise.Add(h, block.Mixer.Step(cache.Layers[i], block.Norm.Forward(new Variable(h)).Data));
        }
        cache.Position += 1;
        return Head(NormF.Forward(new Variable(h))).Data;
    }

    private Variable Head(Variable h) => LanguageModelOps.Head(h, EmbeddingLayer, LmHead);

    /// <inheritdoc />
    public override string ToString() => $"S4DLanguageModel(vocab={VocabSize}, d_model={Config.DModel}, layers={Config.NLayers}, d_state={Config.DState})";
}
