using Ssm.Inference;
using Ssm.Kernels;

namespace Ssm.Hybrid.LongVQ;

/// <summary>Per-layer inference states of a <see cref="LongVQLM"/>.</summary>
public sealed class LongVQCache : LayerCache<LongVQBlockState>
{
    internal LongVQCache(IEnumerable<LongVQBlockState> layers, int batch) : base(layers, batch)
    {
    }
}

/// <summary>
/// A causal LongVQ language model: <c>embedding</c> (N(0, 0.02²), padded vocabulary), <c>layers.{i}.mixer</c>
/// (<see cref="LongVQBlock"/>) and <c>layers.{i}.ffn</c>, <c>norm_f</c> (LayerNorm), and the output projection tied to
/// the embedding (or <c>lm_head</c>). <see cref="Forward(Tensor, LongVQCache?)"/> is the parallel form (linear in the
/// sequence length); <see cref="Step"/> the recurrent one over per-layer caches (EMA state, the exact previous and
/// current block, per-code counts and value sums). Add <see cref="AuxiliaryLoss"/> (the commitment losses) to the
/// training loss; in training mode with gradients enabled each forward pass also updates the codebooks by EMA.
/// </summary>
public sealed class LongVQLM : Module, IRecurrentLanguageModel, IAuxiliaryLoss
{
    /// <summary>Creates the model with parameters drawn from <paramref name="rng"/>.</summary>
    public LongVQLM(LongVQConfig config, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Config = config;
        var d = device ?? Device.Default;
        EmbeddingLayer = RegisterModule("embedding", new Embedding(config.PaddedVocabSize, config.DModel, rng, std: 0.02, device: d));
        Layers = RegisterModule("layers", new ModuleList<LongVQLayer>(
            Enumerable.Range(0, config.NLayer).Select(_ => new LongVQLayer(config, causal: true, rng, d)).ToList()));
        NormF = RegisterModule("norm_f", new LayerNorm(config.DModel, (float)config.NormEps, device: d));
        if (!config.TieEmbeddings)
            LmHead = RegisterModule("lm_head", new Linear(config.DModel, config.PaddedVocabSize, bias: false, rng, d));
    }

    /// <summary>The configuration.</summary>
    public LongVQConfig Config { get; }
    /// <summary>Token embedding [padded_vocab, d_model].</summary>
    public Embedding EmbeddingLayer { get; }
    /// <summary>The layers.</summary>
    public ModuleList<LongVQLayer> Layers { get; }
    /// <summary>Final LayerNorm.</summary>
    public LayerNorm NormF { get; }
    /// <summary>Separate output projection when embeddings are not tied; null when tied.</summary>
    public Linear? LmHead { get; }

    /// <inheritdoc />
    public int VocabSize => Config.PaddedVocabSize;

    /// <summary>The sum of the layers' commitment losses from the last parallel forward pass.</summary>
    public Variable? AuxiliaryLoss { get; private set; }

    /// <summary>Zero inference states for <paramref name="batch"/> sequences.</summary>
    public LongVQCache AllocateCache(int batch) => new(Layers.Select(l => l.Mixer.AllocateState(batch)), batch);

    /// <inheritdoc />
    public IInferenceCache AllocateInferenceCache(int batch) => AllocateCache(batch);

    Variable IRecurrentLanguageModel.Forward(Tensor inputIds, IInferenceCache? cache) => Forward(inputIds, AsCache(cache));

    Tensor IRecurrentLanguageModel.Step(IInferenceCache cache, Tensor ids) => Step(AsCache(cache)!, ids);

    private static LongVQCache? AsCache(IInferenceCache? cache) => LanguageModelOps.AsCache<LongVQCache>("LongVQLM", cache);

    /// <summary>
    /// Logits [batch, length, padded_vocab] for token ids [batch, length] (int32 or int64). With a cache, the sequences
    /// continue from it token by token through <see cref="Step"/> (no autograd) and the cache advances.
    /// </summary>
    public Variable Forward(Tensor inputIds, LongVQCache? cache = null)
    {
        Guard.Rank("LongVQLM.Forward", inputIds, "input_ids", 2, "[batch, length]");
        if (cache is not null) return Prefill(inputIds, cache);
        var h = EmbeddingLayer.Forward(inputIds);
        foreach (var layer in Layers) h = layer.Forward(h);
        AuxiliaryLoss = LongVQLayer.CommitmentLosses(Layers);
        return Head(NormF.Forward(h));
    }

    /// <summary>One recurrent step: logits [batch, padded_vocab] for the next token after ids [batch] (int32/int64).</summary>
    public Tensor Step(LongVQCache cache, Tensor ids)
    {
        LanguageModelOps.CheckStep("LongVQLM.Step", cache, ids);
        using var noGrad = Autograd.NoGrad();
        var h = EmbeddingLayer.Forward(ids).Data;
        for (int i = 0; i < Layers.Count; i++) h = Layers[i].Step(cache.Layers[i], h);
        cache.Position += 1;
        return Head(NormF.Forward(new Variable(h))).Data;
    }

    private Variable Prefill(Tensor inputIds, LongVQCache cache)
    {
        int batch = inputIds.Size(0), length = inputIds.Size(1);
        Guard.That(cache.Batch == batch, "LongVQLM.Forward", nameof(cache), $"cache holds {cache.Batch} sequences, expected {batch} (the batch of input_ids).");
        var ids = inputIds.DType == DType.Int64
            ? Tensor.From(Array.ConvertAll(inputIds.ToInt64Array(), v => checked((int)v)), inputIds.Shape, inputIds.Device)
            : inputIds;
        var logits = Tensor.Empty(new[] { batch, length, VocabSize }, DType.Float32, inputIds.Device);
        for (int t = 0; t < length; t++)
            Layout.WriteSlice(logits, 1, t, Step(cache, Layout.Narrow(ids, 1, t, 1).Reshape(batch)).Reshape(batch, 1, VocabSize));
        return new Variable(logits);
    }

    private Variable Head(Variable h) => LanguageModelOps.Head(h, EmbeddingLayer, LmHead);

    /// <inheritdoc />
    public override string ToString() =>
        $"LongVQLM(d_model={Config.DModel}, n_layer={Config.NLayer}, vocab={Config.PaddedVocabSize}, codes={Config.BlockConfig.CodebookSize}, block={Config.BlockConfig.BlockLength})";
}
