namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class EmbeddingTests
{
    private static float[] NaiveForward(float[] w, int[] ids, int dim)
        => ids.SelectMany(id => w.Skip(id * dim).Take(dim)).ToArray();

    private static float[] NaiveBackward(float[] dy, int[] ids, int vocab, int dim)
    {
        var dw = new double[vocab * dim];
        for (int i = 0; i < ids.Length; i++)
            for (int d = 0; d < dim; d++) dw[ids[i] * dim + d] += dy[i * dim + d];
        return dw.Select(v => (float)v).ToArray();
    }

    /// <summary>Ids with many repeats (ids[i] = i·7 mod vocab, then a few forced duplicates of id 1).</summary>
    private static int[] Ids(int n, int vocab) => Enumerable.Range(0, n).Select(i => i % 4 == 0 ? 1 % vocab : i * 7 % vocab).ToArray();

    public static TheoryData<int[], int, int> Cases => new()
    {
        { Array.Empty<int>(), 5, 3 }, { new[] { 6 }, 5, 3 }, { new[] { 4, 7 }, 5, 37 }, { new[] { 2, 3, 5 }, 11, 8 }, { new[] { 2000 }, 50, 16 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CpuForwardAndBackwardMatchNaiveWithRepeatedIds(int[] idShape, int vocab, int dim)
    {
        int n = Shapes.Numel(idShape);
        var ids = Ids(n, vocab);
        var w = Data.Normal(vocab * dim, 1);
        var dy = Data.Normal(n * dim, 2);
        var weight = Tensor.From(w, vocab, dim);
        foreach (var t in new[] { Tensor.From(ids, idShape), Tensor.From(ids.Select(v => (long)v).ToArray(), idShape) })
        {
            var y = Embedding.Forward(t, weight);
            Assert.Equal(idShape.Append(dim).ToArray(), y.ShapeArray());
            Assert.Equal(NaiveForward(w, ids, dim), y.ToArray());
            var dw = Embedding.Backward(t, Tensor.From(dy, idShape.Append(dim).ToArray(), Device.Cpu), vocab);
            Assert.Equal(new[] { vocab, dim }, dw.ShapeArray());
            Close.All(NaiveBackward(dy, ids, vocab, dim), dw.ToArray(), 1e-5, 1e-5, $"dW {t.DType}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string deviceShape)
    {
        var dev = TestDevices.Get(deviceShape);
        foreach (var (idShape, vocab, dim, int64) in new[] { (new[] { 4, 7 }, 5, 9, false), (new[] { 33 }, 40, 3, true), (new[] { 1 }, 1, 1, false) })
        {
            int n = Shapes.Numel(idShape);
            var idValues = Ids(n, vocab);
            var ids = int64 ? Tensor.From(idValues.Select(v => (long)v).ToArray(), idShape) : Tensor.From(idValues, idShape);
            var weight = Tensor.From(Data.Normal(vocab * dim, 3), vocab, dim);
            var dy = Tensor.From(Data.Normal(n * dim, 4), idShape.Append(dim).ToArray(), Device.Cpu);
            var gpuIds = ids.To(dev);
            Assert.Equal(Embedding.Forward(ids, weight).ToArray(), Embedding.Forward(gpuIds, weight.To(dev)).ToArray());
            Close.All(Embedding.Backward(ids, dy, vocab).ToArray(), Embedding.Backward(gpuIds, dy.To(dev), vocab).ToArray(), 1e-5, 1e-6, $"dW {Shapes.Format(idShape)}");
        }
    }

    [Fact]
    public void BadInputsAreRejectedWithClearMessages()
    {
        var weight = Tensor.Zeros(new[] { 10, 4 });
        Assert.Contains("ids has dtype Float32", Assert.Throws<ArgumentException>(() => Embedding.Forward(Tensor.Zeros(new[] { 3 }), weight)).Message);
        Assert.Contains("weight has shape [40]", Assert.Throws<ArgumentException>(() => Embedding.Forward(Tensor.From(new[] { 1 }, new[] { 1 }), Tensor.Zeros(new[] { 40 }))).Message);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(Tensor.From(new[] { 3, 10 }, new[] { 2 }), weight));
        Assert.Contains("ids[1]", range.Message);
        Assert.Contains("[0, 10)", range.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(Tensor.From(new[] { -1 }, new[] { 1 }), weight));
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(Tensor.From(new[] { 1L << 33 }, new[] { 1 }), weight));
        var shape = Assert.Throws<ArgumentException>(() => Embedding.Backward(Tensor.From(new[] { 1, 2 }, new[] { 2 }), Tensor.Zeros(new[] { 3, 4 }), 10));
        Assert.Contains("expected [2, embedding_dim]", shape.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Backward(Tensor.From(new[] { 1, 12 }, new[] { 2 }), Tensor.Zeros(new[] { 2, 4 }), 10));
    }

    [Fact]
    public void IlgpuOutOfRangeIdsThrowWhenCheckedAndGiveNaNRowsOtherwise()
    {
        var dev = TestDevices.Get("w2x8");
        var weight = Tensor.Ones(new[] { 10, 4 }, dev);
        var ids = Tensor.From(new[] { 3, 10, 2 }, new[] { 3 }, dev);
        bool saved = IndexValidation.CheckOnIlgpu;
        try
        {
            IndexValidation.CheckOnIlgpu = true;
            Assert.Contains("ids[1]", Assert.Throws<ArgumentOutOfRangeException>(() => Embedding.Forward(ids, weight)).Message);
            IndexValidation.CheckOnIlgpu = false;
            var y = Embedding.Forward(ids, weight).ToArray();
            Assert.All(y.Skip(4).Take(4), v => Assert.True(float.IsNaN(v)));
            Assert.All(y.Take(4).Concat(y.Skip(8)), v => Assert.Equal(1f, v));
            var dw = Embedding.Backward(ids, Tensor.Ones(new[] { 3, 4 }, dev), 10).ToArray();
            Assert.Equal(8f, dw.Sum());   // the out-of-range row is skipped
        }
        finally
        {
            IndexValidation.CheckOnIlgpu = saved;
        }
    }
}
