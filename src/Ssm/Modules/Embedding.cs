using Ssm.Kernels;

namespace Ssm;

/// <summary>A lookup table of <see cref="NumEmbeddings"/> rows of width <see cref="Dim"/> (parameter <c>weight</c>), like <c>torch.nn.Embedding</c>.</summary>
public sealed class Embedding : Module
{
    /// <summary>Creates the table initialized N(0, std²) (torch uses std 1; language models usually 0.02).</summary>
    public Embedding(int numEmbeddings, int dim, Rng rng, double std = 1.0, Device? device = null)
    {
        Guard.Positive("Embedding", nameof(numEmbeddings), numEmbeddings);
        Guard.Positive("Embedding", nameof(dim), dim);
        NumEmbeddings = numEmbeddings;
        Dim = dim;
        Weight = RegisterParameter("weight", new Parameter(Tensor.Empty(new[] { numEmbeddings, dim }, DType.Float32, device)));
        Init.Normal(Weight.Data, rng, 0, std);
    }

    /// <summary>Number of rows (vocabulary size).</summary>
    public int NumEmbeddings { get; }
    /// <summary>Row width.</summary>
    public int Dim { get; }
    /// <summary>The table [num_embeddings, dim].</summary>
    public Parameter Weight { get; }

    /// <summary>Rows for integer ids of any shape → [..., dim].</summary>
    public Variable Forward(Tensor ids) => F.Embedding(ids, Weight);

    /// <inheritdoc />
    public override string ToString() => $"Embedding({NumEmbeddings}, {Dim})";
}
