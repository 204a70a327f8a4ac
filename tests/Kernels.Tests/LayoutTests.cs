namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class LayoutTests
{
    private static float[] Iota(int n) => Enumerable.Range(0, n).Select(i => (float)i).ToArray();

    private static float[] NaivePermute(float[] x, int[] shape, int[] dims)
    {
        int rank = shape.Length, n = x.Length;
        var outShape = dims.Select(d => shape[d]).ToArray();
        var y = new float[n];
        for (int i = 0; i < n; i++)
        {
            var oc = new int[rank];
            int rem = i;
            for (int k = rank - 1; k >= 0; k--) { oc[k] = rem % outShape[k]; rem /= outShape[k]; }
            var ic = new int[rank];
            for (int k = 0; k < rank; k++) ic[dims[k]] = oc[k];
            int off = 0;
            for (int k = 0; k < rank; k++) off = off * shape[k] + ic[k];
            y[i] = x[off];
        }
        return y;
    }

    public static TheoryData<int[], int[]> Permutations => new()
    {
        { new[] { 3, 4 }, new[] { 1, 0 } },
        { new[] { 2, 3, 5 }, new[] { 0, 2, 1 } },
        { new[] { 2, 3, 4, 5 }, new[] { 0, 2, 1, 3 } },
        { new[] { 2, 1, 3, 2, 2 }, new[] { 4, 3, 2, 1, 0 } },
        { new[] { 7 }, new[] { 0 } },
    };

    [Theory]
    [MemberData(nameof(Permutations))]
    public void PermuteMatchesNaiveOnCpuAndIlgpu(int[] shape, int[] dims)
    {
        var x = Iota(Shapes.Numel(shape));
        var expected = NaivePermute(x, shape, dims);
        Assert.Equal(expected, Layout.Permute(Tensor.From(x, shape, Device.Cpu), dims).ToArray());
        Assert.Equal(expected, Layout.Permute(Tensor.From(x, shape, TestDevices.Get("w2x8")), dims).ToArray());
    }

    [Fact]
    public void NarrowWriteSliceAndConcatAreConsistent()
    {
        foreach (var dev in new Device[] { Device.Cpu, TestDevices.Get("w4x4") })
        {
            var x = Tensor.From(Iota(2 * 5 * 3), new[] { 2, 5, 3 }, dev);
            var mid = Layout.Narrow(x, 1, 1, 3);
            Assert.Equal(new[] { 2, 3, 3 }, mid.ShapeArray());
            Assert.Equal(new float[] { 3, 4, 5, 6, 7, 8, 9, 10, 11, 18, 19, 20, 21, 22, 23, 24, 25, 26 }, mid.ToArray());
            var parts = new[] { Layout.Narrow(x, 1, 0, 1), mid, Layout.Narrow(x, -2, 4, 1) };
            Assert.Equal(x.ToArray(), Layout.Concat(parts, 1).ToArray());
            var ids = Tensor.From(new[] { 1, 2, 3, 4, 5, 6 }, new[] { 2, 3 }, dev);
            Assert.Equal(new[] { 1, 4, 2, 5, 3, 6 }, Layout.Transpose(ids, 0, 1).ToInt32Array());
        }
    }

    [Fact]
    public void BadRangesAndShapesAreClearErrors()
    {
        var x = Tensor.Zeros(new[] { 2, 5 });
        Assert.Contains("outside dimension 1 of size 5", Assert.Throws<ArgumentOutOfRangeException>(() => Layout.Narrow(x, 1, 3, 3)).Message);
        Assert.Contains("repeat", Assert.Throws<ArgumentException>(() => Layout.Permute(x, 0, 0)).Message);
        Assert.Throws<ArgumentException>(() => Layout.Concat(new[] { x, Tensor.Zeros(new[] { 3, 4 }) }, 1));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(-1)]
    public void FlipReversesOneDimensionOnCpuAndIlgpu(int dim)
    {
        int[] shape = { 2, 3, 5 };
        var x = Iota(30);
        int d = dim < 0 ? dim + 3 : dim;
        var expected = new float[30];
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                for (int k = 0; k < 5; k++)
                {
                    int[] c = { i, j, k };
                    c[d] = shape[d] - 1 - c[d];
                    expected[(i * 3 + j) * 5 + k] = x[(c[0] * 3 + c[1]) * 5 + c[2]];
                }
        foreach (var device in new Device[] { Device.Cpu, TestDevices.Get("w4x4"), TestDevices.Get("w2x8") })
        {
            using var t = Tensor.From(x, shape, device);
            using var y = Layout.Flip(t, dim);
            Assert.Equal(shape, y.ShapeArray());
            Assert.Equal(expected, y.ToArray());
        }
        Assert.Empty(Layout.Flip(Tensor.Zeros(new[] { 2, 0 }), 1).ToArray());
    }
}

