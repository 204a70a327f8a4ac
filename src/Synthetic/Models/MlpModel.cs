using Ssm.Kernels;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Models;

/// <summary>
/// The smallest baseline (<c>--model mlp</c>): embedding → residual GELU MLP blocks → RMSNorm → head, applied to each
/// token independently (no mixing across positions). It shows what a task needs beyond per-token statistics.
/// </summary>
public sealed class MlpModel : TrainableModel
{
    private readonly Net _net;

    /// <summary>Builds the model.</summary>
    public MlpModel(ModelSpec spec, Rng rng, Device device)
    {
        Spec = spec;
        _net = new Net(spec, rng, device);
    }

    /// <inheritdoc />
    public override Module Module => _net;

    /// <inheritdoc />
    public override ModelSpec Spec { get; }

    /// <inheritdoc />
    public override Variable Logits(TokenBatch batch, Device device) => Readout(_net.Forward(Ids(batch, device)), batch);

    private sealed class Net : Module
    {
        private readonly Embedding _embedding;
        private readonly ModuleList<Linear> _up, _down;
        private readonly RmsNorm _norm;
        private readonly Linear _head;

        public Net(ModelSpec s, Rng rng, Device d)
        {
            _embedding = RegisterModule("embedding", new Embedding(s.Vocab, s.DModel, rng, 0.02, d));
            _up = RegisterModule("up", new ModuleList<Linear>(Enumerable.Range(0, s.Layers).Select(_ => new Linear(s.DModel, 4 * s.DModel, true, rng, d)).ToList()));
            _down = RegisterModule("down", new ModuleList<Linear>(Enumerable.Range(0, s.Layers).Select(_ => new Linear(4 * s.DModel, s.DModel, true, rng, d)).ToList()));
            _norm = RegisterModule("norm_f", new RmsNorm(s.DModel, 1e-5f, d));
            _head = RegisterModule("lm_head", new Linear(s.DModel, s.Outputs, false, rng, d));
        }

        public Variable Forward(Tensor ids)
        {
            var h = _embedding.Forward(ids);
            for (int i = 0; i < _up.Count; i++) h = F.Add(h, _down[i].Forward(F.Gelu(_up[i].Forward(h))));
            return _head.Forward(_norm.Forward(h));
        }
    }
}
