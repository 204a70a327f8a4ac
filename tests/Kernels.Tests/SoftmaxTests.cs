namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class SoftmaxTests
{
    /// <summary>Double-precision softmax or log-softmax of each row of length n.</summary>
    private static double[] Naive(float[] x, int n, bool log)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / n; r++)
        {
            double m = double.NegativeInfinity, s = 0;
            for (int k = 0; k < n; k++) m = Math.Max(m, x[r * n + k]);
            for (int k = 0; k < n; k++) s += Math.Exp(x[r * n + k] - m);
            for (int k = 0; k < n; k++)
                y[r * n + k] = log ? x[r * n + k] - m - Math.Log(s) : Math.Exp(x[r * n + k] - m) / s;
        }
        return y;
    }

    /// <summary>Double-precision backward from the double-precision forward y: per row y(dy − Σdy·y), or dy − e^y·Σdy.</summary>
    private static float[] NaiveBackward(double[] y, float[] dy, int n, bool log)
    {
        var dx = new float[y.Length];
        for (int r = 0; r < y.Length / n; r++)
        {
            double acc = 0;
            for (int k = 0; k < n; k++) acc += log ? dy[r * n + k] : dy[r * n + k] * y[r * n + k];
            for (int k = 0; k < n; k++)
            {
                int i = r * n + k;
                dx[i] = (float)(log ? dy[i] - Math.Exp(y[i]) * acc : y[i] * (dy[i] - acc));
            }
        }
        return dx;
    }

    /// <summary>Logits: normal, then with every third row pushed to ±80 and one huge entry, to exercise the max subtraction.</summary>
    private static float[] Logits(int rows, int n, int seed)
    {
        var x = Data.Normal(rows * n, seed, 3);
        for (int r = 0; r < rows; r += 3)
            for (int k = 0; k < n; k++) x[r * n + k] = k % 2 == 0 ? 80f - k % 7 : -80f + k % 5;
        if (rows > 1) x[n + n / 2] = 1e4f;
        return x;
    }

    public static TheoryData<int, int> Sizes => new() { { 1, 1 }, { 7, 5 }, { 3, 37 }, { 4, 1000 } };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void CpuForwardAndBackwardMatchDoubleReference(int rows, int n)
    {
        var x = Logits(rows, n, 1);
        var dy = Data.Normal(rows * n, 2);
        foreach (bool log in new[] { false, true })
        {
            var expected = Naive(x, n, log);
            var y = Softmax.Forward(Tensor.From(x, rows, n), log);
            Close.All(expected.Select(v => (float)v).ToArray(), y.ToArray(), 1e-5, log ? 1e-5 : 1e-7, log ? "log-softmax" : "softmax");
            var dx = Softmax.Backward(y, Tensor.From(dy, rows, n), log);
            Close.All(NaiveBackward(expected, dy, n, log), dx.ToArray(), 1e-4, 1e-5, log ? "log-softmax backward" : "softmax backward");
        }
    }

    [Fact]
    public void SoftmaxRowsSumToOneAndHigherRankUsesTheLastDim()
    {
        var x = Data.Normal(2 * 3 * 11, 3, 5);
        var y = Softmax.Forward(Tensor.From(x, 2, 3, 11)).ToArray();
        for (int r = 0; r < 6; r++) Assert.Equal(1.0, y.Skip(r * 11).Take(11).Sum(v => (double)v), 1e-6);
        Close.All(Naive(x, 11, false).Select(v => (float)v).ToArray(), y, 1e-5, 1e-7);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string deviceShape)
    {
        var dev = TestDevices.Get(deviceShape);
        foreach (var (rows, n) in new[] { (5, 3), (4, 37), (3, 200) })
        {
            var x = Tensor.From(Logits(rows, n, 4), rows, n);
            var dy = Tensor.From(Data.Normal(rows * n, 5), rows, n);
            foreach (bool log in new[] { false, true })
            {
                string what = $"{rows}x{n} log={log}";
                var cy = Softmax.Forward(x, log);
                var gy = Softmax.Forward(x.To(dev), log);
                Close.All(cy.ToArray(), gy.ToArray(), 1e-5, 1e-6, "forward " + what);
                Close.All(Softmax.Backward(cy, dy, log).ToArray(), Softmax.Backward(cy.To(dev), dy.To(dev), log).ToArray(), 1e-4, 1e-6, "backward " + what);
            }
        }
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        Assert.Contains("scalar", Assert.Throws<ArgumentException>(() => Softmax.Forward(Tensor.Scalar(1f))).Message);
        Assert.Contains("dtype Int32", Assert.Throws<ArgumentException>(() => Softmax.Forward(Tensor.From(new[] { 1 }, new[] { 1 }))).Message);
        var e = Assert.Throws<ArgumentException>(() => Softmax.Backward(Tensor.Zeros(new[] { 2, 3 }), Tensor.Zeros(new[] { 3, 2 }), log: true));
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains("[2, 3]", e.Message);
    }
}
