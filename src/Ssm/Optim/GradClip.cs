using Ssm.Kernels;

namespace Ssm.Optim;

/// <summary>Gradient clipping (like <c>torch.nn.utils.clip_grad_norm_</c>).</summary>
public static class GradClip
{
    /// <summary>
    /// Scales the gradients of <paramref name="parameters"/> in place so that their global L2 norm (all gradients as one
    /// vector) is at most <paramref name="maxNorm"/>: each is multiplied by maxNorm/(norm + 1e-6) when that is below 1.
    /// Returns the norm before clipping (0 when no parameter has a gradient). Parameters without a gradient are skipped.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm >= 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, $"GradClip.ClipGradNorm: maxNorm must be non-negative, got {maxNorm}.");
        var grads = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        if (grads.Count == 0) return 0;
        var totals = new Dictionary<Device, Tensor>();
        try
        {
            foreach (var g in grads)
            {
                if (!totals.TryGetValue(g.Device, out var total))
                    totals[g.Device] = total = Tensor.Zeros(new[] { 1 }, DType.Float32, g.Device);
                OptimizerOps.AddSumOfSquares(g, total);
            }
            double norm = Math.Sqrt(totals.Values.Sum(t => (double)t.Item()));
            double coef = maxNorm / (norm + 1e-6);
            if (coef < 1)
                foreach (var g in grads) Elementwise.Unary(UnaryOp.Affine, g, (float)coef, 0f, output: g);
            return norm;
        }
        finally
        {
            foreach (var t in totals.Values) t.Dispose();
        }
    }
}
