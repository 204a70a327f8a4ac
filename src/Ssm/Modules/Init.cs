using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// Seeded parameter initializers (like <c>torch.nn.init</c>), in place on a float32 tensor of any device; each returns
/// the tensor. Values are drawn on the host from <see cref="Rng"/> in row-major order: same seed, same values, on every
/// device.
/// </summary>
public static class Init
{
    /// <summary>N(<paramref name="mean"/>, <paramref name="std"/>²).</summary>
    public static Tensor Normal(Tensor t, Rng rng, double mean = 0, double std = 1)
    {
        Check("Init.Normal", t, rng);
        if (!(std >= 0)) throw new ArgumentOutOfRangeException(nameof(std), std, $"Init.Normal: std must be non-negative, got {std}.");
        var host = new float[t.Length];
        rng.FillNormal(host, mean, std);
        t.CopyFromHost<float>(host);
        return t;
    }

    /// <summary>U[<paramref name="lo"/>, <paramref name="hi"/>).</summary>
    public static Tensor Uniform(Tensor t, Rng rng, double lo, double hi)
    {
        Check("Init.Uniform", t, rng);
        if (!(hi >= lo)) throw new ArgumentOutOfRangeException(nameof(hi), hi, $"Init.Uniform: hi must be at least lo = {lo}, got {hi}.");
        var host = new float[t.Length];
        rng.FillUniform(host, lo, hi);
        t.CopyFromHost<float>(host);
        return t;
    }

    /// <summary>
    /// Kaiming (He) uniform, fan-in mode, for a leaky-ReLU of negative slope <paramref name="a"/> (torch's
    /// <c>kaiming_uniform_</c>): U[−b, b] with b = √(2/(1+a²))·√(3/fan_in). With a = √5 (what torch.nn.Linear uses)
    /// b = 1/√fan_in.
    /// </summary>
    public static Tensor KaimingUniform(Tensor t, Rng rng, double a = 0)
    {
        Check("Init.KaimingUniform", t, rng);
        double bound = Math.Sqrt(2 / (1 + a * a)) * Math.Sqrt(3.0 / FanIn(t.Shape));
        return Uniform(t, rng, -bound, bound);
    }

    /// <summary>
    /// torch.nn.Linear's (and ConvNd's) default initialization: the weight (shape [out, in, kernel…]) Kaiming-uniform with
    /// a = √5, i.e. U[−1/√fan_in, 1/√fan_in], then the bias (if any) U[−1/√fan_in, 1/√fan_in].
    /// </summary>
    public static void LinearDefault(Tensor weight, Tensor? bias, Rng rng)
    {
        KaimingUniform(weight, rng, Math.Sqrt(5));
        if (bias is null) return;
        double bound = 1 / Math.Sqrt(FanIn(weight.Shape));
        Uniform(bias, rng, -bound, bound);
    }

    /// <summary>All zeros.</summary>
    public static Tensor Zeros(Tensor t) => Constant(t, 0f);

    /// <summary>All ones.</summary>
    public static Tensor Ones(Tensor t) => Constant(t, 1f);

    /// <summary>Every element <paramref name="value"/>.</summary>
    public static Tensor Constant(Tensor t, float value)
    {
        ArgumentNullException.ThrowIfNull(t);
        Elementwise.Fill(t, value);
        return t;
    }

    /// <summary>
    /// Fan-in of a weight of shape [out, in, kernel…]: in × Π kernel (torch's <c>_calculate_fan_in_and_fan_out</c>).
    /// Needs at least two dimensions.
    /// </summary>
    public static int FanIn(ReadOnlySpan<int> shape)
    {
        if (shape.Length < 2)
            throw new ArgumentException($"Init.FanIn: shape {Shapes.Format(shape)} has fewer than 2 dimensions, expected [out, in, kernel…].", nameof(shape));
        int fan = shape[1];
        for (int i = 2; i < shape.Length; i++) fan *= shape[i];
        if (fan <= 0) throw new ArgumentException($"Init.FanIn: shape {Shapes.Format(shape)} has fan-in 0.", nameof(shape));
        return fan;
    }

    private static void Check(string op, Tensor t, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(rng);
        Guard.DType(op, t, "t", DType.Float32);
    }
}
