using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Hybrid;

// A causal language model in mamba_ssm's MambaLMHeadModel layout (mamba_ssm/models/mixer_seq_simple.py):
//   h = embedding(ids);  h = block_i(h) for each layer;  logits = lm_head(norm_f(h))   (lm_head tied to the embedding by default)
// with its initialization: embedding N(0, 0.02²), Linear biases 0, out_proj/fc2 scaled by 1/√(residuals per layer · n_layer).

/// <summary>
/// The common part of <see cref="TransformerLM"/> and <see cref="HybridLM"/>: <c>backbone.embedding.weight</c>,
/// <c>backbone.layers.{i}.*</c> (<see cref="TransformerBlock"/>s), <c>backbone.norm_f.*</c> and <c>lm_head.weight</c>
/// when untied. Implements <see cref="IRecurrentLanguageModel"/> with one cache type, <see cref="HybridCache"/>.
/// </summary>
public abstract class CausalLM : Module, IRecurrentLanguageModel
{
    private readonly Backbone _backbone;
    private readonly string _name;

    /// <summary>Builds the backbone (embedding, then <paramref name="nLayer"/> layers from <paramref name="layer"/>, then norm_f) and the head.</summary>
    private protected CausalLM(string name, int paddedVocab, int dModel, bool tieEmbeddings, BlockConfig block, int nLayer,
        Func<int, TransformerBlock> layer, Rng rng, Device? device)
    {
        ArgumentNullException.ThrowIfNull(rng);
        _name = name;
        var d = device ?? Device.Default;
        _backbone = RegisterModule("backbone", new Backbone(paddedVocab, dModel, block, nLayer, layer, rng, d));
        if (!tieEmbeddings) LmHead = RegisterModule("lm_head", new Linear(dModel, paddedVocab, bias: false, rng, d));
        _backbone.RescaleResidualProjections();
        foreach (var l in Layers)
            if (l.Attention is { } a && !AttentionCache.SupportsMask(a.Config.Mask))
                throw new ArgumentException($"{name}: an attention layer has mask {a.Config.Mask}, which lets a token see later tokens; a causal " +
                    "language model needs Causal, SlidingWindow, Block(causal: true) or LambdaShaped.");
    }

    /// <summary>Token embedding [padded vocab, d_model].</summary>
    public Embedding EmbeddingLayer => _backbone.Embedding;
    /// <summary>The residual blocks.</summary>
    public IReadOnlyList<TransformerBlock> Layers => _backbone.Layers;
    /// <summary>The final norm.</summary>
    public Module NormF => _backbone.NormF;
    /// <summary>The output projection when embeddings are not tied; null when tied.</summary>
    public Linear? LmHead { get; }

    /// <inheritdoc />
    public int VocabSize => EmbeddingLayer.NumEmbeddings;

    /// <summary>
    /// Zero inference states for <paramref name="batch"/> sequences; attention layers with a causal mask preallocate
    /// <paramref name="maxLength"/> key slots (else they grow), windowed ones keep O(window) slots.
    /// </summary>
    public HybridCache AllocateCache(int batch, int? maxLength = null) => _backbone.AllocateCache(batch, maxLength);

    /// <inheritdoc />
    public IInferenceCache AllocateInferenceCache(int batch) => AllocateCache(batch);

    /// <summary>
    /// Logits [batch, length, padded vocab] for token ids [batch, length] (int32 or int64). With a cache, the sequences
    /// continue from it and the cache advances (chunked prefill).
    /// </summary>
    public Variable Forward(Tensor inputIds, HybridCache? cache = null) => Head(_backbone.Forward($"{_name}.Forward", inputIds, cache));

    /// <summary>
    /// Normalized hidden states for given input embeddings [batch, length, d_model] (like Hugging Face's
    /// <c>inputs_embeds</c>), without the embedding lookup and the head.
    /// </summary>
    public Variable ForwardHidden(Variable embeddings, HybridCache? cache = null)
    {
        Guard.Shape($"{_name}.ForwardHidden", embeddings.Data, "embeddings", new[] { -1, -1, _backbone.Embedding.Dim }, $"[batch, length, {_backbone.Embedding.Dim}] (d_model)");
        return _backbone.ForwardHidden(embeddings, cache);
    }

    /// <summary>One recurrent step: logits [batch, padded vocab] for the next token after ids [batch].</summary>
    public Tensor Step(HybridCache cache, Tensor ids)
    {
        var h = _backbone.Step($"{_name}.Step", cache, ids);
        using var noGrad = Autograd.NoGrad();
        return Head(new Variable(h)).Data;
    }

    Variable IRecurrentLanguageModel.Forward(Tensor inputIds, IInferenceCache? cache) => Forward(inputIds, AsCache(cache));

    Tensor IRecurrentLanguageModel.Step(IInferenceCache cache, Tensor ids) => Step(AsCache(cache) ?? throw new ArgumentNullException(nameof(cache)), ids);

    private HybridCache? AsCache(IInferenceCache? cache) => LanguageModelOps.AsCache<HybridCache>(_name, cache);

    private Variable Head(Variable h) => LanguageModelOps.Head(h, EmbeddingLayer, LmHead);

    /// <summary>
    /// True for parameters that get no weight decay: Mamba's A_log, D, dt_bias, S4D's log_dt/inv_dt, log_A_real, A_imag
    /// (and D), every norm weight and every bias.
    /// </summary>
    public static bool IsNoDecayParameter(string name) =>
        Mamba2.IsSsmParameter(name) || name.EndsWith(".bias", StringComparison.Ordinal)
        || name.EndsWith("kernel.log_dt", StringComparison.Ordinal) || name.EndsWith("kernel.inv_dt", StringComparison.Ordinal)
        || name.EndsWith("kernel.log_A_real", StringComparison.Ordinal) || name.EndsWith("kernel.A_imag", StringComparison.Ordinal)
        || name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("norm2.weight", StringComparison.Ordinal)
        || name.EndsWith("norm_f.weight", StringComparison.Ordinal);
}
