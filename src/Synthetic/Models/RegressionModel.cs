using Ssm.Kernels;
using Ssm.Mamba;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Models;

/// <summary>
/// In-context regression model (Garg et al.): a linear read-in of the (d+1)-dimensional tokens, a sequence backbone
/// (any model with a hidden-state forward), and a linear read-out whose value at each x-token predicts its y.
/// </summary>
public sealed class RegressionModel : Module
{
    private readonly Func<Variable, Variable> _backbone;

    /// <summary>Wraps <paramref name="backbone"/> (registered as a child) whose hidden forward is <paramref name="forwardHidden"/>.</summary>
    public RegressionModel(int tokenDim, int dModel, Module backbone, Func<Variable, Variable> forwardHidden, Rng rng, Device device)
    {
        ReadIn = RegisterModule("read_in", new Linear(tokenDim, dModel, true, rng, device));
        RegisterModule("backbone", backbone);
        _backbone = forwardHidden;
        ReadOut = RegisterModule("read_out", new Linear(dModel, 1, true, rng, device));
    }

    /// <summary>Token → width projection.</summary>
    public Linear ReadIn { get; }
    /// <summary>Width → scalar projection.</summary>
    public Linear ReadOut { get; }

    /// <summary>Builds the model for an architecture name (mamba2; transformer once available).</summary>
    public static RegressionModel Create(ModelSpec spec, int tokenDim, Rng rng, Device device)
    {
        switch (spec.Name)
        {
            case "mamba2":
            {
                var lm = new MambaLMHeadModel(new MambaLMConfig
                {
                    DModel = spec.DModel, NLayer = spec.Layers, VocabSize = 1, PadVocabSizeMultiple = 1,
                    Mixer = new Mamba2Config { DModel = spec.DModel, DState = spec.DState, HeadDim = spec.HeadDim, ChunkSize = spec.Chunk },
                }, rng, device);
                return new RegressionModel(tokenDim, spec.DModel, lm, h => lm.ForwardHidden(h), rng, device);
            }
            default:
                if (ModelFactory.HiddenBackbones.TryGetValue(spec.Name, out var build))
                {
                    var (module, forward) = build(spec, rng, device);
                    return new RegressionModel(tokenDim, spec.DModel, module, forward, rng, device);
                }
                throw new ArgumentException($"--model: '{spec.Name}' has no regression (hidden-state) form; available: mamba2, {string.Join(", ", ModelFactory.HiddenBackbones.Keys)}.");
        }
    }

    /// <summary>Predictions ŷ [batch, points] at the x-tokens of a batch.</summary>
    public Variable Predict(RegressionBatch batch, Device device)
    {
        var x = new Variable(Tensor.From(batch.Inputs, new[] { batch.Batch, batch.Length, batch.TokenDim }, device));
        var y = ReadOut.Forward(_backbone(ReadIn.Forward(x)));                    // [B, 2K, 1]
        var pairs = F.Reshape(y, batch.Batch, batch.Points, 2);                    // (x-token, y-token) per point
        return F.Reshape(F.Narrow(pairs, 2, 0, 1), batch.Batch, batch.Points);
    }
}
