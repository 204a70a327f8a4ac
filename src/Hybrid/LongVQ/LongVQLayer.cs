using Ssm.Kernels;

namespace Ssm.Hybrid.LongVQ;

/// <summary>One LongVQ layer: <c>mixer</c> (<see cref="LongVQBlock"/>) then <c>ffn</c> (<see cref="FeedForward"/>, when configured).</summary>
public sealed class LongVQLayer : Module
{
    /// <summary>Creates the layer.</summary>
    public LongVQLayer(LongVQConfig config, bool causal, Rng rng, Device device)
    {
        Mixer = RegisterModule("mixer", new LongVQBlock(config.BlockConfig, causal, rng, device));
        if (config.FfnExpand > 0)
            Ffn = RegisterModule("ffn", new FeedForward(config.DModel, config.FfnExpand * config.DModel, (float)config.NormEps, rng, device));
    }

    /// <summary>The LongVQ block.</summary>
    public LongVQBlock Mixer { get; }
    /// <summary>The feed-forward network, or null.</summary>
    public FeedForward? Ffn { get; }

    /// <summary>Parallel form over x [batch, length, d_model].</summary>
    public Variable Forward(Variable x)
    {
        var y = Mixer.Forward(x);
        return Ffn is null ? y : Ffn.Forward(y);
    }

    /// <summary>Recurrent form for xt [batch, d_model] (no autograd).</summary>
    public Tensor Step(LongVQBlockState state, Tensor xt)
    {
        var y = Mixer.Step(state, xt);
        if (Ffn is null) return y;
        using var noGrad = Autograd.NoGrad();
        return Ffn.Forward(new Variable(y)).Data;
    }

    /// <summary>Σ over <paramref name="layers"/> of their blocks' commitment losses from the last forward pass.</summary>
    internal static Variable? CommitmentLosses(IEnumerable<LongVQLayer> layers)
    {
        Variable? total = null;
        foreach (var layer in layers)
            if (layer.Mixer.CommitmentLoss is { } loss) total = total is null ? loss : F.Add(total, loss);
        return total;
    }

    /// <summary>True for parameters that get no weight decay: the EMA branch, norms, biases, κ/μ of q and k.</summary>
    public static bool IsNoDecayParameter(string name) =>
        DampedEma.IsEmaParameter(name) || name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("norm_f.weight", StringComparison.Ordinal)
        || name.EndsWith(".bias", StringComparison.Ordinal) || name.EndsWith("qk_gamma", StringComparison.Ordinal) || name.EndsWith("qk_beta", StringComparison.Ordinal);
}
