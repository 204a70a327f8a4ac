namespace Ssm.Benchmarks;

/// <summary>
/// Shape of the vector-quantization and codebook-attention benchmarks: keys/queries [Batch, Heads, Length, Dim], values
/// [Batch, Heads, Length, Dim], a per-head codebook [Heads, Codes, Dim], attention blocks of <see cref="Block"/> positions.
/// </summary>
public sealed record CodebookShape(int Batch, int Heads, int Length, int Dim, int Codes, int Block)
{
    /// <summary>Positions per call (batch × length), the unit of the Ktok/s column.</summary>
    public double Tokens => (double)Batch * Length;

    public override string ToString() => $"B{Batch} H{Heads} L{Length} D{Dim} S{Codes} blk{Block}";
}
