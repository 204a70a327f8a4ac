using Ssm.Kernels;

namespace Ssm;

public static partial class F
{
    /// <summary>
    /// Gated linear unit along <paramref name="dim"/> with an optional fused input bias (see <see cref="Kernels.Glu"/>):
    /// x = [a, b] halves of size h, y = (a + bias[:h])·σ(b + bias[h:]); like <c>torch.nn.GLU(dim)</c> applied to x + bias.
    /// </summary>
    public static Variable Glu(Variable x, Variable? bias = null, int dim = -1)
    {
        Tensor xd = x.Data;
        Tensor? bd = bias?.Data;
        var inputs = bias is null ? new[] { x } : new[] { x, bias };
        return Autograd.Record(Kernels.Glu.Forward(xd, bd, dim), "Glu", inputs, g =>
        {
            var (dx, dBias) = Kernels.Glu.Backward(xd, bd, dim, g, bias is not null && bias.RequiresGrad);
            return bias is null ? new Tensor?[] { GradIfRequired(dx, x) } : new[] { GradIfRequired(dx, x), dBias };
        });
    }
}
