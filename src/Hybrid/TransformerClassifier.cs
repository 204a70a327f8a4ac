using Ssm.Kernels;

namespace Ssm.Hybrid;

/// <summary>
/// A sequence classifier: embedding → <see cref="TransformerBlock"/>s → final norm → mean over positions → linear
/// (<c>backbone.*</c> as in <see cref="TransformerLM"/>, then <c>classifier.weight</c> / <c>classifier.bias</c>). Use a
/// full (bidirectional) attention mask for classification (<c>Attention.Mask = AttentionMask.Full</c>); every position
/// of the input is attended and pooled (no padding mask).
/// </summary>
public sealed class TransformerClassifier : Module
{
    private readonly Backbone _backbone;

    /// <summary>Creates the classifier for <paramref name="numClasses"/> classes, drawing every initial value from <paramref name="rng"/>.</summary>
    public TransformerClassifier(TransformerConfig config, int numClasses, Rng rng, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(rng);
        config.Validate();
        Guard.Positive("TransformerClassifier", nameof(numClasses), numClasses);
        Config = config;
        NumClasses = numClasses;
        var d = device ?? Device.Default;
        _backbone = RegisterModule("backbone", new Backbone(config.PaddedVocabSize, config.DModel, config.Block, config.NLayer,
            _ => new TransformerBlock(config.Attention, config.Block, rng, d), rng, d));
        _backbone.RescaleResidualProjections();
        Classifier = RegisterModule("classifier", new Linear(config.DModel, numClasses, bias: true, rng, d));
    }

    /// <summary>The configuration.</summary>
    public TransformerConfig Config { get; }
    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }
    /// <summary>Token embedding.</summary>
    public Embedding EmbeddingLayer => _backbone.Embedding;
    /// <summary>The residual blocks.</summary>
    public IReadOnlyList<TransformerBlock> Layers => _backbone.Layers;
    /// <summary>The final norm.</summary>
    public Module NormF => _backbone.NormF;
    /// <summary>The output layer d_model → classes.</summary>
    public Linear Classifier { get; }

    /// <summary>Class logits [batch, classes] for token ids [batch, length] (int32 or int64).</summary>
    public Variable Forward(Tensor inputIds)
    {
        var h = _backbone.Forward("TransformerClassifier.Forward", inputIds, null);
        return Classifier.Forward(F.Mean(h, 1));
    }
}
