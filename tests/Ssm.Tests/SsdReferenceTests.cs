using Ssm.Checkpoints;
using Ssm.Kernels;

namespace Ssm.Tests;

/// <summary>The SSD scan against reference tensors computed in float64 by a PyTorch implementation (tests/Data/ssd_scan.safetensors).</summary>
public sealed class SsdReferenceTests
{
    private static readonly string File = Path.Combine(AppContext.BaseDirectory, "Data", "ssd_scan.safetensors");

    private static void AssertClose(Tensor expected, Tensor actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
        float[] e = expected.ToArray(), a = actual.ToArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(a[i] - e[i]) <= atol + rtol * Math.Abs(e[i]),
                $"{what}[{i}]: {a[i]:G9}, expected {e[i]:G9} (rtol {rtol}, atol {atol})");
    }

    public static TheoryData<int> Chunks => new() { 16, 1, 5, 64, 128 };

    [Theory]
    [MemberData(nameof(Chunks))]
    public void ForwardAndGradientsMatchTheReference(int chunk)
    {
        using var file = SafeTensorsFile.Open(File);
        Assert.Equal("16", file.Metadata["chunk"]);
        var names = new[] { "x", "dt", "a", "B", "C", "h0" };
        var leaves = names.Select(n => new Variable(file.Read(n), requiresGrad: true)).ToArray();
        Variable x = leaves[0], dt = leaves[1], a = leaves[2], B = leaves[3], C = leaves[4], h0 = leaves[5];

        var (y, final) = F.SsdScan(x, dt, a, B, C, null, h0, chunk);
        AssertClose(file.Read("y"), y.Data, 1e-4, 1e-5, "y");
        AssertClose(file.Read("final_state"), final.Data, 1e-4, 1e-5, "final_state");

        // loss = Σ y·dy + Σ final·dfinal: backward from both outputs at once.
        var dy = file.ReadFloats("dy");
        var dFinal = file.ReadFloats("dfinal_state");
        var both = F.Concat(new[] { F.Reshape(y, -1), F.Reshape(final, -1) }, 0);
        both.Backward(Tensor.From(dy.Concat(dFinal).ToArray(), dy.Length + dFinal.Length));
        foreach (var (leaf, name) in new[] { (x, "x"), (dt, "dt"), (B, "B"), (C, "C"), (h0, "h0") })
            AssertClose(file.Read("grad." + name), leaf.Grad!, 1e-3, 1e-4, "grad." + name);
    }
}
