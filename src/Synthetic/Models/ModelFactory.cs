using Ssm.Kernels;
using Ssm.Hybrid.LongVQ;
using Ssm.Mamba;

namespace Ssm.Synthetic.Models;

/// <summary>Builds the models the CLI can train, by <c>--model</c> name.</summary>
public static class ModelFactory
{
    private static readonly Dictionary<string, (string Description, Func<ModelSpec, Rng, Device, TrainableModel> Build)> Builders = new()
    {
        ["mlp"] = ("per-token MLP baseline (no sequence mixing)", (s, r, d) => new MlpModel(s, r, d)),
        ["mamba2"] = ("Mamba-2 language model (mamba_ssm layout)", BuildMamba2),
        ["longvq"] = ("LongVQ: damped-EMA SSM branch + linear-time VQ codebook attention (MEGA-style gated blocks)", BuildLongVQ),
    };

    /// <summary>
    /// Architectures usable as a hidden-state backbone (embeddings in, hidden states out) besides Mamba-2, for
    /// real-valued tasks such as in-context regression: name → (module, forward).
    /// </summary>
    public static Dictionary<string, Func<ModelSpec, Rng, Device, (Module Module, Func<Variable, Variable> ForwardHidden)>> HiddenBackbones { get; } = new();

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

    private static TrainableModel BuildLongVQ(ModelSpec s, Rng rng, Device device)
    {
        var config = new LongVQConfig
        {
            DModel = s.DModel, NLayer = s.Layers, VocabSize = Math.Max(s.Vocab, s.Outputs),
            Block = new LongVQBlockConfig { ZDim = Math.Max(16, s.DModel / 2), EmaDim = s.DState, BlockLength = s.Chunk },
        };
        Func<string, bool> ssm = DampedEma.IsEmaParameter;
        if (s.PerSequence) return new ClassifierAdapter(s, new LongVQClassifier(config, s.Outputs, rng, device), (m, ids) => ((LongVQClassifier)m).Forward(ids), ssm);
        return new LanguageModelAdapter(s, new LongVQLM(config, rng, device), ssm);
    }

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
