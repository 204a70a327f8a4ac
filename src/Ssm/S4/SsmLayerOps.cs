using Ssm.Kernels;

namespace Ssm.S4;

/// <summary>Pieces shared by the S4D and S4 layers (see <see cref="ConvolutionalSsmLayer{TState}"/>): the (bidirectional) long convolution, tied dropout and the input check.</summary>
internal static class SsmLayerOps
{
    /// <summary>
    /// y = causal conv(u, k[0]) + D·u over u [B, H, L] with k [channels, H, L] and the skip D (H elements): D is folded
    /// into the causal kernel's lag-0 tap (k[0][h, 0] + D[h]), which is the same sum and saves the separate product,
    /// sum and their backward tensors. With a second kernel (bidirectional, as s4.py's FFTConv: k1 flipped and padded on
    /// the left) also the anti-causal part y[t] += Σ_{s&gt;t} k1[s − t − 1]·u[s], computed as
    /// flip(conv(flip(u), k1 shifted right by one)).
    /// </summary>
    public static Variable Convolve(Variable u, Variable k, Variable d)
    {
        int h = k.Size(1), length = k.Size(2);
        var tap = F.Reshape(d, h, 1);
        if (length > 1) tap = F.Concat(new[] { tap, new Variable(Tensor.Zeros(new[] { h, length - 1 }, DType.Float32, k.Device)) }, 1);
        var k0 = F.Add(F.Reshape(k.Size(0) == 1 ? k : F.Narrow(k, 0, 0, 1), h, length), tap);
        if (k.Size(0) == 1) return F.FftConv(u, k0);
        var k1 = F.Reshape(F.Narrow(k, 0, 1, 1), h, length);
        var zero = new Variable(Tensor.Zeros(new[] { h, 1 }, DType.Float32, k.Device));
        var shifted = length == 1 ? zero : F.Concat(new[] { zero, F.Narrow(k1, 1, 0, length - 1) }, 1);
        return F.Add(F.FftConv(u, k0), F.Flip(F.FftConv(F.Flip(u, 2), shifted), 2));
    }

    /// <summary>
    /// Dropout of whole (batch, channel) rows of y [B, H, L] (s4d.py's DropoutNd with tie=True): in training each row is
    /// zeroed with probability p and the rest scaled by 1/(1 − p); the identity otherwise.
    /// </summary>
    public static Variable TiedDropout(Variable y, float p, bool training, Rng rng)
    {
        if (!training || p == 0f) return y;
        int rows = y.Size(0) * y.Size(1);
        var mask = new float[rows];
        float scale = 1f / (1f - p);
        for (int i = 0; i < rows; i++) mask[i] = rng.NextDouble() < p ? 0f : scale;
        return F.Mul(y, new Variable(Tensor.From(mask, new[] { y.Size(0), y.Size(1), 1 }, y.Device)));
    }

    /// <summary>Checks a layer input: rank 3 with H channels in the layout's channel dimension and at least one step.</summary>
    public static (int Batch, int Length) CheckInput(string op, Variable x, int h, bool transposed)
    {
        string layout = transposed ? $"[batch, {h}, length] (channel-first: d_model = {h})" : $"[batch, length, {h}] (batch-first: d_model = {h})";
        if (x.Rank != 3 || x.Shape[transposed ? 1 : 2] != h)
            throw new ArgumentException($"{op}: x has shape {Shapes.Format(x.Shape)}, expected {layout}.", nameof(x));
        int length = x.Shape[transposed ? 2 : 1];
        if (length < 1)
            throw new ArgumentException($"{op}: x has shape {Shapes.Format(x.Shape)}: the sequence length must be at least 1, expected {layout}.", nameof(x));
        return (x.Shape[0], length);
    }
}
