using Ssm.Kernels;

namespace Ssm;

/// <summary>This file: embedding lookup.</summary>
public static partial class F
{
    /// <summary>
    /// Rows of <paramref name="weight"/> [num_embeddings, embedding_dim] gathered by <paramref name="ids"/> (int32 or
    /// int64, any shape) into [..., embedding_dim]; the backward scatter-adds into the weight gradient (repeated ids add up).
    /// </summary>
    public static Variable Embedding(Tensor ids, Variable weight)
    {
        int vocab = weight.Data.Rank == 2 ? weight.Size(0) : 0;
        return Autograd.Record(Kernels.Embedding.Forward(ids, weight.Data), "Embedding", new[] { weight },
            g => new Tensor?[] { Kernels.Embedding.Backward(ids, g, vocab) });
    }
}
