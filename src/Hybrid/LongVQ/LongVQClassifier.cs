using Ssm.Kernels;

namespace Ssm.Hybrid.LongVQ;

/// <summary>
/// A LongVQ sequence classifier: <c>embedding</c>, non-causal layers (full codebook attention, bidirectional EMA),
/// <c>norm_f</c>, mean pooling over the sequence, and <c>head</c> (Linear d_model → classes). All sequences of a batch
/// have the same length (no padding mask). Add <see cref="AuxiliaryLoss"/> to the training loss.
/// </summary>
public sealed class LongVQClassifier : Module, IAuxiliaryLoss
{
    /// <summary>Creates the classifier for <paramref name="numClasses"/> classes (the vocabulary is not padded).</summary>
    public LongVQClassifier(LongVQConfig config, int numClasses, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Guard.Positive("LongVQClassifier", nameof(numClasses), numClasses);
        Config = config;
        NumClasses = numClasses;
        var d = device ?? Device.Default;
        EmbeddingLayer = RegisterModule("embedding", new Embedding(config.VocabSize, config.DModel, rng, std: 0.02, device: d));
        Layers = RegisterModule("layers", new ModuleList<LongVQLayer>(
            Enumerable.Range(0, config.NLayer).Select(_ => new LongVQLayer(config, causal: false, rng, d)).ToList()));
        NormF = RegisterModule("norm_f", new LayerNorm(config.DModel, (float)config.NormEps, device: d));
        Head = RegisterModule("head", new Linear(config.DModel, numClasses, bias: true, rng, d));
    }

    /// <summary>The configuration.</summary>
    public LongVQConfig Config { get; }
    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }
    /// <summary>Token embedding [vocab, d_model].</summary>
    public Embedding EmbeddingLayer { get; }
    /// <summary>The layers.</summary>
    public ModuleList<LongVQLayer> Layers { get; }
    /// <summary>Final LayerNorm.</summary>
    public LayerNorm NormF { get; }
    /// <summary>The classification head.</summary>
    public Linear Head { get; }
    /// <summary>The sum of the layers' commitment losses from the last forward pass.</summary>
    public Variable? AuxiliaryLoss { get; private set; }

    /// <summary>Class logits [batch, classes] for token ids [batch, length] (int32 or int64).</summary>
    public Variable Forward(Tensor inputIds)
    {
        Guard.Rank("LongVQClassifier.Forward", inputIds, "input_ids", 2, "[batch, length]");
        Guard.Positive("LongVQClassifier.Forward", "input_ids length", inputIds.Size(1));
        var h = EmbeddingLayer.Forward(inputIds);
        foreach (var layer in Layers) h = layer.Forward(h);
        AuxiliaryLoss = LongVQLayer.CommitmentLosses(Layers);
        return Head.Forward(F.Mean(NormF.Forward(h), 1));
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"LongVQClassifier(d_model={Config.DModel}, n_layer={Config.NLayer}, classes={NumClasses}, codes={Config.BlockConfig.CodebookSize}, block={Config.BlockConfig.BlockLength})";
}
