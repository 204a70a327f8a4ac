using Ssm.Hybrid.LongVQ;
using Ssm.Kernels;

namespace Ssm.Hybrid.Tests;

public sealed class DampedEmaTests
{
    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>MEGA's EMA by its definition in double: the kernel K[d, l] = Σ_n p·β·η/√N·q^l of parameter rows [row0, row0 + D).</summary>
    private static double[,] NaiveKernel(DampedEma ema, int row0, int length)
    {
        float[] delta = ema.Delta.Data.ToArray(), alpha = ema.Alpha.Data.ToArray(), beta = ema.Beta.Data.ToArray(), gamma = ema.Gamma.Data.ToArray();
        int D = ema.Dim, N = ema.EmaDim;
        var k = new double[D, length];
        for (int d = 0; d < D; d++)
            for (int n = 0; n < N; n++)
            {
                int i = (row0 + d) * N + n;
                double p = Sigmoid(delta[i]), q = 1 - p * Sigmoid(alpha[i]);
                for (int l = 0; l < length; l++) k[d, l] += p * beta[i] * gamma[i] / Math.Sqrt(N) * Math.Pow(q, l);
            }
        return k;
    }

    private static float[] Naive(DampedEma ema, float[] x, int B, int T)
    {
        int D = ema.Dim;
        var forward = NaiveKernel(ema, 0, T);
        var backward = ema.Bidirectional ? NaiveKernel(ema, D, T) : null;
        var omega = ema.Omega.Data.ToArray();
        var y = new float[B * T * D];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                {
                    double acc = omega[d] * x[(b * T + t) * D + d];
                    for (int s = 0; s <= t; s++) acc += forward[d, t - s] * x[(b * T + s) * D + d];
                    if (backward is not null)
                        for (int s = t; s < T; s++) acc += backward[d, s - t] * x[(b * T + s) * D + d];
                    y[(b * T + t) * D + d] = (float)(acc * Sigmoid(acc));
                }
        return y;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ForwardMatchesTheDefinition(bool bidirectional)
    {
        var ema = new DampedEma(3, 4, bidirectional, new Rng(1), Device.Cpu);
        var x = Data.Normal(2 * 13 * 3, 2);
        using var noGrad = Autograd.NoGrad();
        var y = ema.Forward(new Variable(Tensor.From(x, 2, 13, 3))).Data.ToArray();
        Close.All(Naive(ema, x, 2, 13), y, 1e-4, 1e-5, bidirectional ? "bidirectional" : "causal");
    }

    [Fact]
    public void StepMatchesForward()
    {
        var ema = new DampedEma(5, 3, false, new Rng(3), Device.Cpu);
        var x = Tensor.From(Data.Normal(2 * 9 * 5, 4), 2, 9, 5);
        using var noGrad = Autograd.NoGrad();
        var full = ema.Forward(new Variable(x)).Data.ToArray();
        using var state = ema.AllocateState(2);
        for (int t = 0; t < 9; t++)
        {
            var yt = ema.Step(state, Layout.Narrow(x, 1, t, 1).Reshape(2, 5)).ToArray();
            for (int b = 0; b < 2; b++)
                Close.All(full.AsSpan((b * 9 + t) * 5, 5), yt.AsSpan(b * 5, 5), 1e-4, 1e-5, $"t = {t}, b = {b}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GradientsMatchFiniteDifferences(bool bidirectional)
    {
        var ema = new DampedEma(2, 3, bidirectional, new Rng(5), Device.Cpu);
        var x = new Variable(new Rng(6).Normal(new[] { 2, 7, 2 }), requiresGrad: true);
        var inputs = new List<Variable> { x };
        inputs.AddRange(ema.Parameters());
        GradCheck.Assert(v => ema.Forward(v[0]), inputs.ToArray(), eps: 1e-2, atol: 2e-3, rtol: 2e-2);
    }

    [Fact]
    public void BadInputsAreRejected()
    {
        var ema = new DampedEma(3, 2, true, new Rng(7), Device.Cpu);
        Assert.Contains("x has shape [1, 4, 2], expected [*, *, 3] [batch, length, 3]", Assert.Throws<ArgumentException>(() => ema.Forward(new Variable(Tensor.Zeros(new[] { 1, 4, 2 })))).Message);
        Assert.Throws<InvalidOperationException>(() => ema.AllocateState(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DampedEma(0, 2, false, new Rng(1)));
    }
}
