using Ssm.Kernels;

namespace Ssm.Hybrid.Tests.Titans;

/// <summary>
/// The Titans memory by its definition, token by token in float64: for each token, at the chunk-start weights G,
/// y_t = M_G(q_t) and g_t = ∇_G ‖M_G(k_t) − v_t‖² (backpropagation written out), optionally clamped to norm c; then
/// S = η_t S − θ_t g_t, W = (1 − α_t) W + S; G ← W at every chunk boundary. Weights per row r as W[l][r][i, j] row-major.
/// </summary>
internal sealed class MemoryReference
{
    public required int Rows, Depth;
    public required int[] Dims;          // d_0 … d_D
    public required double[][] W, S, G;  // per layer: [rows · d_{l+1} · d_l]
    public required int Offset;
    public UnaryOp Activation = UnaryOp.Silu;
    public double? MaxGradNorm;

    private double Act(double z) => Activation == UnaryOp.Silu ? z / (1 + Math.Exp(-z)) : 0.5 * z * (1 + Erf(z / Math.Sqrt(2)));
    private double ActGrad(double z)
    {
        if (Activation == UnaryOp.Silu) { double s = 1 / (1 + Math.Exp(-z)); return s * (1 + z * (1 - s)); }
        return 0.5 * (1 + Erf(z / Math.Sqrt(2))) + z * Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);
    }

    private static double Erf(double x)
    {
        double sum = 0, term = x;
        for (int n = 0; n < 120; n++) { sum += term / (2 * n + 1); term *= -x * x / (n + 1); }
        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    /// <summary>Layer inputs a_0..a_{D−1} and pre-activations z_1..z_D of M_w(x) for row r.</summary>
    private (double[][] inputs, double[][] pre) Forward(double[][] w, int r, double[] x)
    {
        var inputs = new double[Depth][];
        var pre = new double[Depth][];
        var a = x;
        for (int l = 0; l < Depth; l++)
        {
            int din = Dims[l], dout = Dims[l + 1], off = r * dout * din;
            inputs[l] = a;
            var z = new double[dout];
            for (int i = 0; i < dout; i++)
                for (int j = 0; j < din; j++) z[i] += w[l][off + i * din + j] * a[j];
            pre[l] = z;
            a = l + 1 < Depth ? z.Select(Act).ToArray() : z;
        }
        return (inputs, pre);
    }

    public double[] Read(double[][] w, int r, double[] x) => Forward(w, r, x).pre[Depth - 1];

    /// <summary>Runs L tokens; q, k [rows, L, d_0], v [rows, L, d_D], lr/momentum/decay [rows, L]. Returns y [rows, L, d_D].</summary>
    public double[] Run(int length, int chunk, float[] q, float[] k, float[] v, float[] lr, float[] momentum, float[] decay)
    {
        int d0 = Dims[0], dD = Dims[Depth];
        var y = new double[Rows * length * dD];
        for (int r = 0; r < Rows; r++)
        {
            int pos = Offset;
            for (int t = 0; t < length; t++)
            {
                if (pos == 0)
                    for (int l = 0; l < Depth; l++)
                        Array.Copy(W[l], r * Size(l), G[l], r * Size(l), Size(l));
                double[] Vec(float[] src, int d) => Enumerable.Range(0, d).Select(i => (double)src[(r * length + t) * d + i]).ToArray();
                var yt = Read(G, r, Vec(q, d0));
                Array.Copy(yt, 0, y, (r * length + t) * dD, dD);

                // Gradient at G: δ_D = 2(z_D − v), δ_{l−1} = (W_lᵀ δ_l) ⊙ σ′(z_{l−1}); ∇W_l = δ_l a_{l−1}ᵀ.
                var (inputs, pre) = Forward(G, r, Vec(k, d0));
                var vt = Vec(v, dD);
                var grads = new double[Depth][];
                var delta = pre[Depth - 1].Select((z, i) => 2 * (z - vt[i])).ToArray();
                for (int l = Depth - 1; l >= 0; l--)
                {
                    int din = Dims[l], dout = Dims[l + 1], off = r * dout * din;
                    grads[l] = new double[dout * din];
                    for (int i = 0; i < dout; i++)
                        for (int j = 0; j < din; j++) grads[l][i * din + j] = delta[i] * inputs[l][j];
                    if (l == 0) break;
                    var back = new double[din];
                    for (int j = 0; j < din; j++)
                    {
                        for (int i = 0; i < dout; i++) back[j] += G[l][off + i * din + j] * delta[i];
                        back[j] *= ActGrad(pre[l - 1][j]);
                    }
                    delta = back;
                }
                double scale = 1;
                if (MaxGradNorm is double c)
                {
                    double norm = Math.Sqrt(grads.Sum(g => g.Sum(x => x * x)));
                    scale = Math.Min(1, c / norm);
                }
                double theta = lr[r * length + t] * scale, eta = momentum[r * length + t], keep = 1 - decay[r * length + t];
                for (int l = 0; l < Depth; l++)
                {
                    int off = r * Size(l);
                    for (int i = 0; i < Size(l); i++)
                    {
                        S[l][off + i] = eta * S[l][off + i] - theta * grads[l][i];
                        W[l][off + i] = keep * W[l][off + i] + S[l][off + i];
                    }
                }
                pos = (pos + 1) % chunk;
            }
            if (r == Rows - 1) Offset = pos;
        }
        if (Offset == 0)
            for (int l = 0; l < Depth; l++) Array.Copy(W[l], G[l], W[l].Length);
        return y;
    }

    private int Size(int l) => Dims[l] * Dims[l + 1];
}
