using Ssm.Kernels;

namespace Ssm;

public static partial class F
{
    /// <summary>
    /// Dropout (like <c>torch.nn.functional.dropout</c>): when <paramref name="training"/>, zeroes each element with
    /// probability <paramref name="p"/> and scales the rest by 1/(1 − p); otherwise returns <paramref name="x"/>. The mask
    /// is a hash of a seed drawn from <paramref name="rng"/> (one draw per training call) and the element index; the
    /// backward pass regenerates it instead of storing it.
    /// </summary>
    public static Variable Dropout(Variable x, float p, bool training, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(rng);
        if (!(p >= 0f && p <= 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, $"F.Dropout: p must be in [0, 1], got {p}.");
        if (!training || p == 0f) return x;
        ulong seed = rng.NextUInt64();
        return Autograd.Record(DropoutOps.Apply(x.Data, p, seed), "Dropout", new[] { x },
            g => new Tensor?[] { DropoutOps.Apply(g, p, seed) });
    }
}
