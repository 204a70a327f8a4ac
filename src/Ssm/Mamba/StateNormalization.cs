using Ssm.Kernels;

namespace Ssm.Mamba;

// State normalization (Stuffed Mamba, Section 5, the third training-free option): after every update
//   h̃_t = α_t h_{t−1} + Δ_t x_t B_tᵀ,   h_t = h̃_t · min(1, bound / ‖h̃_t‖_F)   per sequence and head,
//   y_t = h_t C_t + D x_t.
// The rescaling is not linear in the inputs, so the chunked scan cannot absorb it: the scan runs one token at a time
// (SSD with one step), y_t = s_t·(h̃_t C_t) + D x_t with the per-head scale s_t.

/// <summary>The Mamba-2 scan with the state normalized to a bounded norm after every token.</summary>
internal static class StateNormalization
{
    /// <summary>Shapes as <see cref="SsdScan.Forward"/>; returns y and the final (normalized) state.</summary>
    public static (Tensor Y, Tensor FinalState) Scan(Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor D, Tensor? initialState, double bound)
    {
        int batch = x.Size(0), length = x.Size(1), heads = x.Size(2), headdim = x.Size(3), state = B.Size(3);
        var h = initialState?.Clone() ?? Tensor.Zeros(new[] { batch, heads, headdim, state }, DType.Float32, x.Device);
        var y = Tensor.Empty(x.Shape, DType.Float32, x.Device);
        var dRow = D.Reshape(1, 1, heads, 1);
        var scale = new float[batch * heads];
        for (int t = 0; t < length; t++)
        {
            using var scope = TensorScope.Begin();
            var xt = Layout.Narrow(x, 1, t, 1);
            var (yt, next) = SsdScan.Forward(xt, Layout.Narrow(dt, 1, t, 1), a, Layout.Narrow(B, 1, t, 1), Layout.Narrow(C, 1, t, 1), null, h, 1);
            var squares = Reductions.Sum(Elementwise.Unary(UnaryOp.Square, next).Reshape(batch, heads, headdim * state), 2).ToArray();
            bool rescale = false;
            for (int i = 0; i < scale.Length; i++)
            {
                double norm = Math.Sqrt(squares[i]);
                scale[i] = norm > bound ? (float)(bound / norm) : 1f;
                rescale |= norm > bound;
            }
            if (rescale)
            {
                var s = Tensor.From(scale, new[] { batch, heads, 1, 1 }, x.Device);
                next = Elementwise.Mul(next, s);
                yt = Elementwise.Mul(yt, s.Reshape(batch, 1, heads, 1));
            }
            h.CopyFrom(next);
            Layout.WriteSlice(y, 1, t, Elementwise.Add(yt, Elementwise.Mul(xt, dRow)));
        }
        return (y, h);
    }
}
