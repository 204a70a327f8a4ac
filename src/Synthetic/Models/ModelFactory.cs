using Ssm.Inference;
using Ssm.Kernels;
using Ssm.Hybrid;
using Ssm.Hybrid.LongVQ;
using Ssm.Hybrid.Titans;
using Ssm.S4;
using Ssm.Mamba;

namespace Ssm.Synthetic.Models;

/// <summary>Builds the models the CLI can train, by <c>--model</c> name.</summary>
public static class ModelFactory
{
    private static readonly Dictionary<string, (string Description, Func<ModelSpec, Rng, Device, TrainableModel> Build)> Builders = new()
    {
        ["mlp"] = ("per-token MLP baseline (no sequence mixing)", (s, r, d) => new MlpModel(s, r, d)),
        ["mamba2"] = ("Mamba-2 language model (mamba_ssm layout)", BuildMamba2),
        ["s4d"] = ("S4D (diagonal SSM, FFT convolution): causal LM for token tasks, bidirectional classifier for classification", (s, r, d) => BuildS4(s, r, d, S4LayerKind.S4D)),
        ["s4"] = ("S4 (DPLR HiPPO-LegS, Cauchy + Woodbury kernel): classifier for classification tasks", (s, r, d) => BuildS4(s, r, d, S4LayerKind.S4)),
        ["titans-mac"] = ("Titans, memory as context (paper's update from the attention output)", (s, r, d) => BuildTitans(s, r, d, TitansVariant.Mac)),
        ["titans-mag"] = ("Titans, memory as gate (sliding-window attention ⊗ neural memory)", (s, r, d) => BuildTitans(s, r, d, TitansVariant.Mag)),
        ["titans-mal"] = ("Titans, memory as layer (neural memory then sliding-window attention)", (s, r, d) => BuildTitans(s, r, d, TitansVariant.Mal)),
        ["transformer"] = ("Transformer LM (pre-norm, RoPE, SwiGLU, mamba_ssm MHA layout) / mean-pooled classifier", BuildTransformer),
        ["hybrid"] = ("Jamba-style hybrid: Mamba-2 layers with attention as the last of every 4 (MMMA…; with fewer than 4 layers, the last layer)", BuildHybrid),
        ["longvq"] = ("LongVQ: damped-EMA SSM branch + linear-time VQ codebook attention (MEGA-style gated blocks)", BuildLongVQ),
    };

    /// <summary>
    /// Architectures usable as a hidden-state backbone (embeddings in, hidden states out) besides Mamba-2, for
    /// real-valued tasks such as in-context regression: name → (module, forward).
    /// </summary>
    public static Dictionary<string, Func<ModelSpec, Rng, Device, (Module Module, Func<Variable, Variable> ForwardHidden)>> HiddenBackbones { get; } = new()
    {
        ["transformer"] = (s, rng, device) =>
        {
            var lm = new TransformerLM(TransformerFor(s with { Vocab = 1, Outputs = 1 }), rng, device);
            return (lm, h => lm.ForwardHidden(h));
        },
    };

    /// <summary>Model names with one-line descriptions.</summary>
    public static IReadOnlyDictionary<string, string> Names => Builders.ToDictionary(kv => kv.Key, kv => kv.Value.Description);

    /// <summary>Builds the model named in <paramref name="spec"/>.</summary>
    public static TrainableModel Create(ModelSpec spec, Rng rng, Device device)
    {
        if (!Builders.TryGetValue(spec.Name, out var b))
            throw new ArgumentException($"--model: unknown model '{spec.Name}'; available: {string.Join(", ", Builders.Keys)}.");
        if (spec.DModel <= 0 || spec.Layers <= 0) throw new ArgumentException($"--d-model and --layers must be positive (got {spec.DModel}, {spec.Layers}).");
        return b.Build(spec, rng, device);
    }

    /// <summary>S4/S4D kernel parameters that train at their own learning rate without weight decay (as the s4 reference).</summary>
    private static bool IsS4SsmParameter(string name)
    {
        if (!name.Contains("kernel.", StringComparison.Ordinal)) return false;
        var last = name[(name.LastIndexOf('.') + 1)..];
        return last is "log_dt" or "inv_dt" or "log_A_real" or "A_imag" or "A_real" or "P" or "B";
    }

    private static TrainableModel BuildS4(ModelSpec s, Rng rng, Device device, S4LayerKind kind)
    {
        if (s.PerSequence)
        {
            var config = new S4ClassifierConfig
            {
                DModel = s.DModel, NLayers = s.Layers, NumClasses = s.Outputs, VocabSize = s.Vocab, Layer = kind, DState = s.DState, Bidirectional = true,
            };
            return new ClassifierAdapter(s, new S4Classifier(config, rng, device), (m, batch, ids) =>
            {
                var lengths = batch.Lengths is null ? null : Tensor.From(batch.Lengths, new[] { batch.Batch }, device);
                return ((S4Classifier)m).Forward(ids, lengths);
            }, IsS4SsmParameter);
        }
        if (kind == S4LayerKind.S4)
            throw new ArgumentException("--model s4: the DPLR S4 layer is offered as a classifier; use --model s4d for language-model (per-token) tasks.");
        var lm = new S4DLanguageModel(new S4DLanguageModelConfig { VocabSize = Math.Max(s.Vocab, s.Outputs), DModel = s.DModel, NLayers = s.Layers, DState = s.DState }, rng, device);
        return new LanguageModelAdapter(s, lm, IsS4SsmParameter);
    }

    private static TrainableModel BuildTitans(ModelSpec s, Rng rng, Device device, TitansVariant variant)
    {
        int heads = Math.Max(1, s.DModel / Math.Max(2, s.HeadDim));
        var config = TitansConfig.Create(variant, s.DModel, s.Layers, Math.Max(s.Vocab, s.Outputs), heads);
        return new LanguageModelAdapter(s, new TitansLM(config, rng, device), _ => false);
    }

    private static AttentionConfig AttentionFor(ModelSpec s) => new()
    {
        DModel = s.DModel, NumHeads = Math.Max(1, s.DModel / s.HeadDim), HeadDim = s.HeadDim, RotaryEmbDim = s.HeadDim,
    };

    private static TransformerConfig TransformerFor(ModelSpec s) => new()
    {
        DModel = s.DModel, NLayer = s.Layers, VocabSize = Math.Max(s.Vocab, s.Outputs), Attention = AttentionFor(s),
        Block = new BlockConfig { DIntermediate = 4 * s.DModel },
    };

    private static TrainableModel BuildTransformer(ModelSpec s, Rng rng, Device device)
    {
        var config = TransformerFor(s);
        if (s.PerSequence) return new ClassifierAdapter(s, new TransformerClassifier(config, s.Outputs, rng, device), (m, _, ids) => ((TransformerClassifier)m).Forward(ids), _ => false);
        return new LanguageModelAdapter(s, new TransformerLM(config, rng, device), _ => false);
    }

    private static TrainableModel BuildHybrid(ModelSpec s, Rng rng, Device device)
    {
        var config = new HybridConfig
        {
            DModel = s.DModel, VocabSize = Math.Max(s.Vocab, s.Outputs), Layers = HybridPattern.Jamba(s.Layers, Math.Min(4, s.Layers), Math.Min(4, s.Layers) - 1),
            Mamba = new Mamba2Config { DModel = s.DModel, DState = s.DState, HeadDim = s.HeadDim, ChunkSize = s.Chunk },
            Attention = AttentionFor(s),
        };
        return new LanguageModelAdapter(s, new HybridLM(config, rng, device), Mamba2.IsSsmParameter);
    }

    private static TrainableModel BuildLongVQ(ModelSpec s, Rng rng, Device device)
    {
        var config = new LongVQConfig
        {
            DModel = s.DModel, NLayer = s.Layers, VocabSize = Math.Max(s.Vocab, s.Outputs),
            Block = new LongVQBlockConfig { ZDim = Math.Max(16, s.DModel / 2), EmaDim = s.DState, BlockLength = s.Chunk },
        };
        Func<string, bool> ssm = DampedEma.IsEmaParameter;
        if (s.PerSequence) return new ClassifierAdapter(s, new LongVQClassifier(config, s.Outputs, rng, device), (m, _, ids) => ((LongVQClassifier)m).Forward(ids), ssm);
        return new LanguageModelAdapter(s, new LongVQLM(config, rng, device), ssm);
    }

    /// <summary>
    /// The Mamba-2 language model inside <paramref name="model"/> (built with <c>--model mamba2</c>), for state-collapse
    /// mitigations; a clear error for any other model.
    /// </summary>
    public static MambaLMHeadModel Mamba2Of(TrainableModel model) =>
        model is LanguageModelAdapter { LanguageModel: MambaLMHeadModel lm } ? lm
            : throw new ArgumentException($"model '{model.Spec.Name}' is not a Mamba-2 language model; --mitigation (other than none) needs --model mamba2.");

    /// <summary>
    /// The language model inside <paramref name="model"/> whose recurrent state the diagnostics can trace (built with
    /// <c>--model mamba2</c> or, for a token task, <c>--model s4d</c>); a clear error for any other model.
    /// </summary>
    public static IStateTracedLanguageModel StateTracedOf(TrainableModel model) =>
        model is LanguageModelAdapter { LanguageModel: IStateTracedLanguageModel lm } ? lm
            : throw new ArgumentException($"model '{model.Spec.Name}' has no traceable recurrent state; state diagnostics need a Mamba-2 or S4D language model (--model mamba2 or s4d on a token task).");

    private static TrainableModel BuildMamba2(ModelSpec s, Rng rng, Device device)
    {
        int vocab = Math.Max(s.Vocab, s.Outputs);
        var config = new MambaLMConfig
        {
            DModel = s.DModel,
            NLayer = s.Layers,
            VocabSize = vocab,
            PadVocabSizeMultiple = 8,
            Mixer = new Mamba2Config { DModel = s.DModel, DState = s.DState, HeadDim = s.HeadDim, ChunkSize = s.Chunk },
        };
        return new LanguageModelAdapter(s, new MambaLMHeadModel(config, rng, device), Mamba2.IsSsmParameter);
    }
}
