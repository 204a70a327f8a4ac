using Ssm.Inference;
using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>
/// Token embedding → residual blocks → final norm, named as mamba_ssm's MixerModel (<c>embedding</c>, <c>layers.{i}</c>,
/// <c>norm_f</c>). Shared by the language models and the classifier.
/// </summary>
internal sealed class Backbone : Module
{
    /// <summary>Creates the embedding (N(0, 0.02²)), then the layers in order, then the final norm (the order of random draws).</summary>
    public Backbone(int vocab, int dModel, BlockConfig block, int nLayer, Func<int, TransformerBlock> layer, Rng rng, Device device)
    {
        Embedding = RegisterModule("embedding", new Embedding(vocab, dModel, rng, std: 0.02, device));
        Layers = RegisterModule("layers", new ModuleList<TransformerBlock>(Enumerable.Range(0, nLayer).Select(layer).ToList()));
        foreach (var l in Layers)
            if (l.DModel != dModel) throw new ArgumentException($"Backbone: a layer has d_model {l.DModel}, expected {dModel}.");
        NormF = RegisterModule("norm_f", TransformerBlock.MakeNorm(block, dModel, device));
    }

    public Embedding Embedding { get; }
    public ModuleList<TransformerBlock> Layers { get; }
    public Module NormF { get; }

    /// <summary>Normalized hidden states [batch, length, d_model] for ids [batch, length]; advances <paramref name="cache"/> when given.</summary>
    public Variable Forward(string op, Tensor ids, HybridCache? cache)
    {
        ArgumentNullException.ThrowIfNull(ids);
        Guard.Rank(op, ids, "input_ids", 2, "[batch, length]");
        if (cache is not null)
        {
            Guard.That(cache.Batch == ids.Size(0), op, nameof(cache), $"cache holds {cache.Batch} sequences, expected {ids.Size(0)} (the batch of input_ids).");
            Guard.That(cache.Layers.Count == Layers.Count, op, nameof(cache), $"cache has {cache.Layers.Count} layers, expected {Layers.Count}; use AllocateCache.");
        }
        return ForwardHidden(Embedding.Forward(ids), cache);
    }

    /// <summary>Normalized hidden states for given input embeddings [batch, length, d_model] (e.g. a read-in of real-valued inputs).</summary>
    public Variable ForwardHidden(Variable h, HybridCache? cache = null)
    {
        for (int i = 0; i < Layers.Count; i++) h = Layers[i].Forward(h, cache?.Layers[i]);
        if (cache is not null) cache.Position += h.Size(1);
        return ((IForward)NormF).Forward(h);
    }

    /// <summary>Normalized hidden states [batch, d_model] after one token per sequence, advancing the cache. No autograd.</summary>
    public Tensor Step(string op, HybridCache cache, Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(ids);
        LanguageModelOps.CheckStep(op, cache, ids);
        Guard.That(cache.Layers.Count == Layers.Count, op, nameof(cache), $"cache has {cache.Layers.Count} layers, expected {Layers.Count}; use AllocateCache.");
        using var noGrad = Autograd.NoGrad();
        var h = Embedding.Forward(ids).Data;
        for (int i = 0; i < Layers.Count; i++) h = Layers[i].Step(cache.Layers[i], h);
        cache.Position += 1;
        return ((IForward)NormF).Forward(new Variable(h)).Data;
    }

    /// <summary>A zero state per layer.</summary>
    public HybridCache AllocateCache(int batch, int? maxLength)
    {
        Guard.Positive("AllocateCache", nameof(batch), batch);
        var states = new List<IDisposable>();
        try
        {
            foreach (var l in Layers) states.Add(l.AllocateState(batch, maxLength));
        }
        catch
        {
            foreach (var s in states) s.Dispose();
            throw;
        }
        return new HybridCache(states, batch);
    }

    /// <summary>
    /// mamba_ssm's _init_weights on top of the modules' own initialization: Linear biases zeroed, and the projections
    /// that end a residual branch (<c>out_proj</c>, <c>fc2</c>) scaled by 1/√(residuals per layer · n_layer).
    /// </summary>
    public void RescaleResidualProjections()
    {
        int residuals = Layers.Any(l => l.Mlp is not null) ? 2 : 1;
        float scale = (float)(1 / Math.Sqrt(residuals * Layers.Count));
        foreach (var (_, m) in NamedModules())
            if (m is Linear { Bias: { } b }) b.Data.Zero();
        foreach (var (name, p) in NamedParameters())
            if (name.EndsWith("out_proj.weight", StringComparison.Ordinal) || name.EndsWith("fc2.weight", StringComparison.Ordinal))
                p.Data.CopyFrom(Elementwise.Scale(p.Data, scale));
    }
}
