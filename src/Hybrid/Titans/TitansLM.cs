using Ssm.Inference;
using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

// A Titans language model (Behrouz et al. 2024, §4 and §5.1): pre-norm residual blocks
//   h = h + mixer(RMSNorm(h));  h = h + SwiGLU(RMSNorm(h))     (mixer: MAC, MAG or MAL)
// between a token embedding and a tied output head behind a final RMSNorm.

/// <summary>SwiGLU feed-forward: down_proj(SiLU(gate_proj(x)) ⊙ up_proj(x)) (Llama's names and layout).</summary>
public sealed class SwiGlu : Module, IForward
{
    /// <summary>Creates the feed-forward with torch's default Linear initialization.</summary>
    public SwiGlu(int dModel, int hidden, Rng rng, Device? device = null)
    {
        GateProj = RegisterModule("gate_proj", new Linear(dModel, hidden, bias: false, rng, device));
        UpProj = RegisterModule("up_proj", new Linear(dModel, hidden, bias: false, rng, device));
        DownProj = RegisterModule("down_proj", new Linear(hidden, dModel, bias: false, rng, device));
    }

    /// <summary>d_model → hidden (gated by SiLU).</summary>
    public Linear GateProj { get; }
    /// <summary>d_model → hidden.</summary>
    public Linear UpProj { get; }
    /// <summary>hidden → d_model.</summary>
    public Linear DownProj { get; }

    /// <summary>Applies the feed-forward to x [..., d_model].</summary>
    public Variable Forward(Variable x) => DownProj.Forward(F.Mul(F.Silu(GateProj.Forward(x)), UpProj.Forward(x)));
}

/// <summary>One residual block: <c>norm</c>, <c>mixer</c> (MAC, MAG or MAL), and when configured <c>ffn_norm</c>, <c>ffn</c>.</summary>
public sealed class TitansBlock : Module
{
    /// <summary>Creates the block for <paramref name="config"/>'s variant.</summary>
    public TitansBlock(TitansConfig config, Rng rng, Device device)
    {
        Norm = RegisterModule("norm", new RmsNorm(config.DModel, config.NormEps, device));
        Mixer = RegisterModule<TitansMixer>("mixer", config.Variant switch
        {
            TitansVariant.Mac => new MacLayer(config, rng, device),
            TitansVariant.Mag => new MagLayer(config, rng, device),
            _ => new MalLayer(config, rng, device),
        });
        if (config.FfnHidden > 0)
        {
            FfnNorm = RegisterModule("ffn_norm", new RmsNorm(config.DModel, config.NormEps, device));
            Ffn = RegisterModule("ffn", new SwiGlu(config.DModel, config.FfnHidden, rng, device));
        }
    }

    /// <summary>Pre-norm of the mixer.</summary>
    public RmsNorm Norm { get; }
    /// <summary>The token mixer.</summary>
    public TitansMixer Mixer { get; }
    /// <summary>Pre-norm of the feed-forward (null without one).</summary>
    public RmsNorm? FfnNorm { get; }
    /// <summary>The feed-forward (null without one).</summary>
    public SwiGlu? Ffn { get; }

    /// <summary>h + mixer(norm(h)) (continuing <paramref name="cache"/> when given), then h + ffn(ffn_norm(h)).</summary>
    public Variable Forward(Variable h, TitansLayerCache? cache)
    {
        var normed = Norm.Forward(h);
        h = F.Add(h, cache is null ? Mixer.Forward(normed) : Mixer.Forward(normed, cache));
        return Ffn is null ? h : F.Add(h, Ffn.Forward(FfnNorm!.Forward(h)));
    }
}

/// <summary>Per-layer inference states of a <see cref="TitansLM"/>.</summary>
public sealed class TitansCache : LayerCache<TitansLayerCache>
{
    internal TitansCache(IEnumerable<TitansLayerCache> layers, int batch) : base(layers, batch)
    {
    }
}

/// <summary>
/// A Titans language model (MAC, MAG or MAL by <see cref="TitansConfig.Variant"/>). Parameter names:
/// <c>embedding.weight</c>, <c>layers.{i}.norm.weight</c>, <c>layers.{i}.mixer.*</c> (<c>persistent.tokens</c>,
/// <c>attention.*</c>, <c>memory.*</c>, …), <c>layers.{i}.ffn_norm.weight</c>, <c>layers.{i}.ffn.*</c>, <c>norm_f.weight</c>,
/// and <c>lm_head.weight</c> when untied. The parallel <see cref="Forward(Tensor, TitansCache?)"/> and the recurrent
/// <see cref="Step"/> compute the same logits.
/// </summary>
public sealed class TitansLM : Module, IRecurrentLanguageModel
{
    /// <summary>Creates the model; the embedding is N(0, 0.02²), everything else as its module's default.</summary>
    public TitansLM(TitansConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        EmbeddingLayer = RegisterModule("embedding", new Embedding(config.PaddedVocabSize, config.DModel, rng, std: 0.02, d));
        Layers = RegisterModule("layers", new ModuleList<TitansBlock>(Enumerable.Range(0, config.NLayer).Select(_ => new TitansBlock(config, rng, d))));
        NormF = RegisterModule("norm_f", new RmsNorm(config.DModel, config.NormEps, d));
        if (!config.TieEmbeddings) LmHead = RegisterModule("lm_head", new Linear(config.DModel, config.PaddedVocabSize, bias: false, rng, d));
    }

    /// <summary>The configuration.</summary>
    public TitansConfig Config { get; }
    /// <summary>Token embedding [padded_vocab, d_model].</summary>
    public Embedding EmbeddingLayer { get; }
    /// <summary>The residual blocks.</summary>
    public ModuleList<TitansBlock> Layers { get; }
    /// <summary>Final RMSNorm.</summary>
    public RmsNorm NormF { get; }
    /// <summary>Separate output head when embeddings are untied; null when tied.</summary>
    public Linear? LmHead { get; }

    /// <inheritdoc />
    public int VocabSize => Config.PaddedVocabSize;

    /// <summary>The inference state at the start of <paramref name="batch"/> sequences (persistent tokens consumed).</summary>
    public TitansCache AllocateCache(int batch) => new(Layers.Select(l => l.Mixer.AllocateCache(batch)).ToList(), batch);

    /// <inheritdoc />
    public IInferenceCache AllocateInferenceCache(int batch) => AllocateCache(batch);

    Variable IRecurrentLanguageModel.Forward(Tensor inputIds, IInferenceCache? cache) => Forward(inputIds, AsCache(cache));

    Tensor IRecurrentLanguageModel.Step(IInferenceCache cache, Tensor ids) => Step(AsCache(cache)!, ids);

    private static TitansCache? AsCache(IInferenceCache? cache) => LanguageModelOps.AsCache<TitansCache>("TitansLM", cache);

    /// <summary>
    /// Logits [batch, length, padded_vocab] for ids [batch, length] (int32 or int64). With a cache the sequences continue
    /// from it and the cache advances (chunked prefill for inference: the cache's tensors are updated in place, so run it
    /// under <see cref="Autograd.NoGrad"/>; gradients through a cache are not supported).
    /// </summary>
    public Variable Forward(Tensor inputIds, TitansCache? cache = null)
    {
        LanguageModelOps.CheckForward("TitansLM.Forward", inputIds, cache);
        var h = EmbeddingLayer.Forward(inputIds);
        for (int i = 0; i < Layers.Count; i++) h = Layers[i].Forward(h, cache?.Layers[i]);
        if (cache is not null) cache.Position += inputIds.Size(1);
        return LanguageModelOps.Head(NormF.Forward(h), EmbeddingLayer, LmHead);
    }

    /// <summary>One recurrent step: logits [batch, padded_vocab] for the next token after ids [batch] (int32/int64).</summary>
    public Tensor Step(TitansCache cache, Tensor ids)
    {
        LanguageModelOps.CheckStep("TitansLM.Step", cache, ids);
        using var noGrad = Autograd.NoGrad();
        var logits = Forward(ids.Reshape(cache.Batch, 1), cache).Data;
        return logits.Reshape(cache.Batch, VocabSize);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"TitansLM({Config.Variant}, d_model={Config.DModel}, n_layer={Config.NLayer}, vocab={Config.PaddedVocabSize}, {ParameterCount()} parameters)";
}
