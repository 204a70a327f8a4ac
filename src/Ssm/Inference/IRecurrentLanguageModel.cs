using Ssm.Kernels;

namespace Ssm.Inference;

/// <summary>Per-layer recurrent state of a language model during inference (KV caches, SSM states, …).</summary>
public interface IInferenceCache : IDisposable
{
    /// <summary>Number of sequences.</summary>
    int Batch { get; }
    /// <summary>Tokens consumed so far.</summary>
    int Position { get; }
}

/// <summary>
/// A causal language model with both forms: the parallel <see cref="Forward"/> (training, chunked prefill when a
/// cache is given) and the recurrent <see cref="Step"/>. Mamba, attention and hybrid models implement it, so
/// generation and evaluation code serves all of them.
/// </summary>
public interface IRecurrentLanguageModel
{
    /// <summary>Logit width (the padded vocabulary).</summary>
    int VocabSize { get; }

    /// <summary>Zero inference state for <paramref name="batch"/> sequences.</summary>
    IInferenceCache AllocateInferenceCache(int batch);

    /// <summary>Logits [batch, length, vocab] for ids [batch, length]; with a cache, continues from it and advances it.</summary>
    Variable Forward(Tensor inputIds, IInferenceCache? cache = null);

    /// <summary>Logits [batch, vocab] for one token per sequence, advancing the cache.</summary>
    Tensor Step(IInferenceCache cache, Tensor ids);
}
