using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

// Titans (Behrouz et al., 2025), the output gate shared by MAC (§4.1) and MAG (§4.2):
//   out = out_proj(RMSNorm(y) ⊙ σ(RMSNorm(m)))      y: the attention branch, m: the memory read.

/// <summary>
/// A <see cref="TitansMixer"/> whose output gates the attention branch by the memory read (MAC and MAG): parameters
/// <c>attn_norm</c>, <c>memory_norm</c> and <c>out_proj</c> besides the shared ones.
/// </summary>
public abstract class GatedTitansMixer : TitansMixer
{
    /// <summary>Creates the shared parts and the gate.</summary>
    protected GatedTitansMixer(TitansConfig config, Rng rng, Device device) : base(config, rng, device)
    {
        var d = Memory.OutProj.Weight.Device;
        AttentionNorm = RegisterModule("attn_norm", new RmsNorm(config.DModel, config.NormEps, d));
        MemoryNorm = RegisterModule("memory_norm", new RmsNorm(config.DModel, config.NormEps, d));
        OutProj = RegisterModule("out_proj", new Linear(config.DModel, config.DModel, bias: false, rng, d));
    }

    /// <summary>Normalization of the attention branch.</summary>
    public RmsNorm AttentionNorm { get; }
    /// <summary>Normalization of the memory read (before the sigmoid).</summary>
    public RmsNorm MemoryNorm { get; }
    /// <summary>Output projection.</summary>
    public Linear OutProj { get; }

    /// <summary>out_proj(RMSNorm(<paramref name="y"/>) ⊙ σ(RMSNorm(<paramref name="m"/>))).</summary>
    protected Variable Gate(Variable y, Variable m) => OutProj.Forward(F.Mul(AttentionNorm.Forward(y), F.Sigmoid(MemoryNorm.Forward(m))));
}
