namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class GluTests
{
    public static TheoryData<int[], int, bool> Cases => new()
    {
        { new[] { 3, 5, 8 }, -1, true },   // batch-first projection output: gate along the last dimension
        { new[] { 2, 6, 7 }, 1, true },    // channel-first: gate along the channels
        { new[] { 4, 6 }, 0, false },
        { new[] { 10 }, 0, true },
    };

    private static (double[] Y, double[] Dx, double[] DBias) Reference(float[] x, float[]? bias, float[] dy, int[] shape, int dim)
    {
        int d = dim < 0 ? dim + shape.Length : dim, half = shape[d] / 2;
        int outer = shape.Take(d).Aggregate(1, (p, q) => p * q), inner = shape.Skip(d + 1).Aggregate(1, (p, q) => p * q);
        var y = new double[outer * half * inner];
        var dx = new double[x.Length];
        var db = new double[2 * half];
        for (int o = 0; o < outer; o++)
            for (int c = 0; c < half; c++)
                for (int i = 0; i < inner; i++)
                {
                    int ia = (o * 2 * half + c) * inner + i, ib = ia + half * inner, iy = (o * half + c) * inner + i;
                    double a = x[ia] + (bias?[c] ?? 0), b = x[ib] + (bias?[half + c] ?? 0), s = 1 / (1 + Math.Exp(-b));
                    y[iy] = a * s;
                    dx[ia] = dy[iy] * s;
                    dx[ib] = dy[iy] * a * s * (1 - s);
                    db[c] += dx[ia];
                    db[half + c] += dx[ib];
                }
        return (y, dx, db);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheDefinitionOnCpuAndIlgpu(int[] shape, int dim, bool withBias)
    {
        int d = dim < 0 ? dim + shape.Length : dim;
        var x = Data.Normal(Shapes.Numel(shape), 1, 3);
        var bias = withBias ? Data.Normal(shape[d], 2) : null;
        var outShape = (int[])shape.Clone();
        outShape[d] /= 2;
        var dy = Data.Normal(Shapes.Numel(outShape), 3);
        var (y, dx, db) = Reference(x, bias, dy, shape, dim);
        foreach (var device in new Device[] { Device.Cpu, TestDevices.Get("w4x4"), TestDevices.Get("w2x8") })
        {
            var xt = Tensor.From(x, shape, device);
            var bt = bias is null ? null : Tensor.From(bias, new[] { bias.Length }, device);
            var yt = Glu.Forward(xt, bt, dim);
            Assert.Equal(outShape, yt.ShapeArray());
            Close.All(y.Select(v => (float)v).ToArray(), yt.ToArray(), 1e-5, 1e-6, $"{device.Name} y");
            var (dxt, dbt) = Glu.Backward(xt, bt, dim, Tensor.From(dy, outShape, device));
            Close.All(dx.Select(v => (float)v).ToArray(), dxt.ToArray(), 1e-5, 1e-6, $"{device.Name} dx");
            if (withBias) Close.All(db.Select(v => (float)v).ToArray(), dbt!.ToArray(), 1e-5, 1e-5, $"{device.Name} dbias");
            else Assert.Null(dbt);
        }
    }

    [Fact]
    public void BadArgumentsAreReported()
    {
        var e = Assert.Throws<ArgumentException>(() => Glu.Forward(Tensor.Zeros(new[] { 2, 5 }), null, -1));
        Assert.Contains("odd size 5", e.Message);
        e = Assert.Throws<ArgumentException>(() => Glu.Forward(Tensor.Zeros(new[] { 2, 4 }), Tensor.Zeros(new[] { 2 }), -1));
        Assert.Contains("bias has shape [2], expected [4]", e.Message);
    }
}
