using Ssm.Kernels;

namespace Ssm.Inference;

/// <summary>
/// Plumbing shared by the language models: the checks on token ids and caches, the cast of an
/// <see cref="IInferenceCache"/> to the model's own cache type, and the LM head (tied to the embedding or separate).
/// </summary>
internal static class LanguageModelOps
{
    /// <summary>Checks ids [batch, length] for a parallel forward pass and, when given, that the cache holds that batch.</summary>
    public static void CheckForward(string op, Tensor inputIds, IInferenceCache? cache)
    {
        Guard.Rank(op, inputIds, "input_ids", 2, "[batch, length]");
        if (cache is not null)
            Guard.That(cache.Batch == inputIds.Size(0), op, nameof(cache), $"cache holds {cache.Batch} sequences, expected {inputIds.Size(0)}.");
    }

    /// <summary>Checks ids [batch] (one token per sequence) for a recurrent step over <paramref name="cache"/>.</summary>
    public static void CheckStep(string op, IInferenceCache cache, Tensor ids)
    {
        ArgumentNullException.ThrowIfNull(cache);
        Guard.Shape(op, ids, "ids", new[] { cache.Batch }, $"[{cache.Batch}] (batch)");
    }

    /// <summary>
    /// <paramref name="cache"/> as the model's cache type <typeparamref name="TCache"/> (null stays null); any other
    /// cache is refused naming <paramref name="model"/>.
    /// </summary>
    public static TCache? AsCache<TCache>(string model, IInferenceCache? cache) where TCache : class, IInferenceCache => cache switch
    {
        null => null,
        TCache c => c,
        _ => throw new ArgumentException($"{model}: cache is a {cache.GetType().Name}, expected a {typeof(TCache).Name} from AllocateCache.", nameof(cache)),
    };

    /// <summary>Logits h·Eᵀ with the embedding matrix E when <paramref name="lmHead"/> is null (tied), else lm_head(h).</summary>
    public static Variable Head(Variable h, Embedding embedding, Linear? lmHead) => lmHead is null ? F.Linear(h, embedding.Weight) : lmHead.Forward(h);
}
