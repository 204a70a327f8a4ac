using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Synthetic.Models;

/// <summary>Builds the models the CLI can train, by <c>--model</c> name.</summary>
public static class ModelFactory
{
    private static readonly Dictionary<string, (string Description, Func<ModelSpec, Rng, Device, TrainableModel> Build)> Builders = new()
    {
        ["mlp"] = ("per-token MLP baseline (no sequence mixing)", (s, r, d) => new MlpModel(s, r, d)),
        ["mamba2"] = ("Mamba-2 language model (mamba_ssm layout)", BuildMamba2),
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

    /// <summary>
    /// The Mamba-2 language model inside <paramref name="model"/> (built with <c>--model mamba2</c>), for state
    /// diagnostics and mitigations; a clear error for any other model.
    /// </summary>
    public static MambaLMHeadModel Mamba2Of(TrainableModel model) =>
        model is LanguageModelAdapter { LanguageModel: MambaLMHeadModel lm } ? lm
            : throw new ArgumentException($"model '{model.Spec.Name}' is not a Mamba-2 language model; state diagnostics and --mitigation need --model mamba2.");

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
