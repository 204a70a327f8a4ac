namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class TensorTests
{
    [Fact]
    public void ViewsShareStorageAndCopiesDoNot()
    {
        var t = Tensor.From(Enumerable.Range(0, 12).Select(i => (float)i).ToArray(), 3, 4);
        var view = t.Reshape(2, -1);
        Assert.Equal(new[] { 2, 6 }, view.ShapeArray());
        var rows = t.Slice(1, 2);
        Assert.Equal(new float[] { 4, 5, 6, 7, 8, 9, 10, 11 }, rows.ToArray());
        var copy = t.Clone();
        Elementwise.Fill(rows, -1f);
        Assert.Equal(-1f, t.ToArray()[4]);
        Assert.Equal(4f, copy.ToArray()[4]);
        Assert.Throws<ArgumentException>(() => t.Reshape(5, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Slice(2, 2));
    }

    [Fact]
    public void HostAndDeviceTransfersRoundTripEveryDType()
    {
        var dev = TestDevices.Get("w4x4");
        var f = Tensor.From(new[] { 1.5f, -2f, 3f }, new[] { 3 }, dev);
        Assert.Equal(new[] { 1.5f, -2f, 3f }, f.To(Device.Cpu).ToArray());
        var i = Tensor.From(new[] { 7, -1 }, new[] { 2 }, dev);
        Assert.Equal(new[] { 7, -1 }, i.ToInt32Array());
        var l = Tensor.From(new[] { long.MaxValue, 3L }, new[] { 2 });
        Assert.Equal(new[] { long.MaxValue, 3L }, l.To(dev).ToInt64Array());
        Assert.Throws<ArgumentException>(() => i.ToArray());
    }

    [Fact]
    public void ScopeDisposesIntermediatesAndAllocatorReusesMemory()
    {
        var keep = Tensor.Zeros(new[] { 1000 });
        Tensor inner, moved;
        using (var scope = TensorScope.Begin())
        {
            inner = Tensor.Zeros(new[] { 1000 });
            moved = scope.MoveToOuter(Tensor.Ones(new[] { 10 }));
            Assert.Equal(1, scope.Count);
        }
        Assert.True(inner.IsDisposed);
        Assert.False(moved.IsDisposed);
        Assert.False(keep.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => inner.ToArray());
        // A view keeps storage alive after its base is disposed.
        var b = Tensor.Full(new[] { 4 }, 3f);
        var v = b.Reshape(2, 2);
        b.Dispose();
        Assert.Equal(3f, v.ToArray()[3]);
    }

    [Fact]
    public void SizeClassesBoundWaste()
    {
        foreach (var n in new[] { 1, 63, 65, 100, 1000, 4097, 1 << 20, (1 << 20) + 1, 123_456_789 })
        {
            int c = CachingAllocator.SizeClass(n);
            Assert.True(c >= n && c <= Math.Max(64, n * 1.25 + 1), $"size class {c} for {n}");
        }
    }

    [Fact]
    public void DeviceSelectionByName()
    {
        Assert.Same(Device.Cpu, Device.FromName("cpu"));
        Assert.Same(Device.Cpu, Device.FromName(null));
        Assert.Equal("ilgpu-cpu", Device.FromName("ilgpu-cpu").Name);
        var e = Assert.Throws<ArgumentException>(() => Device.FromName("tpu"));
        Assert.Contains("cpu, cuda, ilgpu-cpu", e.Message);
    }

    [Fact]
    public void AskingForCudaWithoutAGpuIsAClearError()
    {
        if (Environment.GetEnvironmentVariable("SSM_EXPECT_CUDA") == "1") return; // the GPU runner checks the opposite
        var e = Assert.Throws<InvalidOperationException>(() => Device.Cuda);
        Assert.Contains("cuda", e.Message);
    }

    [Fact]
    public void RngIsDeterministicAndRestorable()
    {
        var a = new Rng(42);
        var b = new Rng(42);
        Assert.Equal(Enumerable.Range(0, 5).Select(_ => a.NextUInt64()), Enumerable.Range(0, 5).Select(_ => b.NextUInt64()));
        var state = a.GetState();
        var x = a.Normal();
        a.SetState(state);
        Assert.Equal(x, a.Normal());
        var n = Enumerable.Range(0, 20000).Select(_ => new Rng(7).Next(0, 10)).Distinct().Count();
        Assert.Equal(1, n); // same seed same first draw
        var r = new Rng(3);
        var samples = Enumerable.Range(0, 20000).Select(_ => r.Normal()).ToArray();
        Assert.InRange(samples.Average(), -0.03, 0.03);
        Assert.InRange(samples.Select(s => s * s).Average(), 0.96, 1.04);
    }
}
