namespace Ssm.Hybrid.LongVQ;

/// <summary>A model whose forward pass also produces a loss term to add to the task loss (e.g. VQ commitment losses).</summary>
public interface IAuxiliaryLoss
{
    /// <summary>The auxiliary loss of the last forward pass (a scalar), or null before the first.</summary>
    Variable? AuxiliaryLoss { get; }
}
