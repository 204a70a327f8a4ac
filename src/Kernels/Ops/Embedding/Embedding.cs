namespace Ssm.Kernels;

/// <summary>
/// Embedding lookup: y[..., :] = weight[ids[...], :] for weight [V, D] and int32/int64 ids of any shape, and its
/// backward, the scatter-add dW[v, :] = Σ_{i: ids[i] = v} dy[i, :]. Ids outside [0, V) are rejected (see
/// <see cref="IndexValidation"/> for ILGPU devices, where unchecked bad ids give NaN rows and are skipped by the backward).
/// CPU: row copies parallel over ids; the backward groups positions by id (counting sort) and sums each dW row in
/// position order, parallel over V (no races, deterministic). ILGPU: one thread per output element; the backward
/// accumulates with Atomic.Add (order of additions not deterministic).
/// </summary>
public static class Embedding
{
    /// <summary>Gathers rows of <paramref name="weight"/> [V, D] by <paramref name="ids"/> (int32/int64, any shape) into [..., D].</summary>
    public static Tensor Forward(Tensor ids, Tensor weight)
    {
        const string op = "Embedding.Forward";
        IndexValidation.RequireIndexType(op, ids, "ids");
        Guard.DType(op, weight, "weight", DType.Float32);
        Guard.Rank(op, weight, "weight", 2, "[num_embeddings, embedding_dim]");
        Guard.SameDevice(op, weight, "weight", ids, "ids");
        int vocab = weight.Size(0), dim = weight.Size(1);
        IndexValidation.CheckRange(op, ids, "ids", vocab, null, $"num_embeddings of weight {Shapes.Format(weight.Shape)}");
        var y = Tensor.Empty([.. ids.Shape, dim], DType.Float32, weight.Device);
        if (y.Length == 0) return y;
        if (weight.Device.IsIlgpu) EmbeddingGpu.Forward(ids, weight, y, vocab, dim);
        else EmbeddingCpu.Forward(ids, weight, y, dim);
        return y;
    }

    /// <summary>dW [<paramref name="numEmbeddings"/>, D] from the upstream gradient <paramref name="dy"/> [..., D] (ids' shape plus D).</summary>
    public static Tensor Backward(Tensor ids, Tensor dy, int numEmbeddings)
    {
        const string op = "Embedding.Backward";
        IndexValidation.RequireIndexType(op, ids, "ids");
        Guard.DType(op, dy, "dy", DType.Float32);
        Guard.SameDevice(op, dy, "dy", ids, "ids");
        if (numEmbeddings < 0) throw new ArgumentOutOfRangeException(nameof(numEmbeddings), numEmbeddings, $"{op}: numEmbeddings must not be negative.");
        if (dy.Rank != ids.Rank + 1 || !Shapes.Equal(dy.Shape[..^1], ids.Shape))
        {
            var expected = string.Join(", ", ids.ShapeArray().Select(s => s.ToString()).Append("embedding_dim"));
            throw new ArgumentException($"{op}: dy has shape {Shapes.Format(dy.Shape)}, expected [{expected}] (the ids' shape plus the embedding dim).", nameof(dy));
        }
        int dim = dy.Size(-1);
        IndexValidation.CheckRange(op, ids, "ids", numEmbeddings, null, "numEmbeddings");
        var dw = Tensor.Zeros(new[] { numEmbeddings, dim }, DType.Float32, dy.Device);
        if (dy.Length == 0 || dw.Length == 0) return dw;
        if (dy.Device.IsIlgpu) EmbeddingGpu.Backward(ids, dy, dw, numEmbeddings, dim);
        else EmbeddingCpu.Backward(ids, dy, dw, numEmbeddings, dim);
        return dw;
    }
}
