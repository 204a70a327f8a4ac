using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class MatMulGradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);

    /// <summary>Stored shape of an operand: [batch.., rows, cols], swapped when transposed.</summary>
    private static int[] Stored(int[] batch, int rows, int cols, bool trans) => batch.Append(trans ? cols : rows).Append(trans ? rows : cols).ToArray();

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { false, true }, { true, false }, { true, true } };

    [Theory]
    [MemberData(nameof(Transposes))]
    public void TwoDimensionalGradients(bool ta, bool tb)
    {
        var a = Leaf(1, Stored(Array.Empty<int>(), 4, 5, ta));
        var b = Leaf(2, Stored(Array.Empty<int>(), 5, 3, tb));
        GradCheck.Assert(v => F.MatMul(v[0], v[1], ta, tb), new[] { a, b });
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void BatchedGradients(bool ta, bool tb)
    {
        var a = Leaf(3, Stored(new[] { 2, 2 }, 3, 4, ta));
        var b = Leaf(4, Stored(new[] { 2, 2 }, 4, 5, tb));
        GradCheck.Assert(v => F.MatMul(v[0], v[1], ta, tb), new[] { a, b });
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void SharedRightOperandGradientsSumOverTheBatch(bool ta, bool tb)
    {
        var a = Leaf(5, Stored(new[] { 3 }, 4, 5, ta));
        var w = Leaf(6, Stored(Array.Empty<int>(), 5, 3, tb));
        GradCheck.Assert(v => F.MatMul(v[0], v[1], ta, tb), new[] { a, w });
    }

    [Theory]
    [MemberData(nameof(Transposes))]
    public void SharedLeftOperandGradientsSumOverTheBatch(bool ta, bool tb)
    {
        var w = Leaf(7, Stored(Array.Empty<int>(), 3, 4, ta));
        var b = Leaf(8, Stored(new[] { 2, 2 }, 4, 5, tb));
        GradCheck.Assert(v => F.MatMul(v[0], v[1], ta, tb), new[] { w, b });
    }

    [Fact]
    public void GradientsOfLargerProductsUseTheBlockedKernel()
    {
        // 40·36·33 > 32K multiply-adds: the packed CPU path runs forward and backward.
        var a = Leaf(9, 2, 40, 33);
        var w = Leaf(10, 36, 33);
        GradCheck.Assert(v => F.MatMul(v[0], v[1], transB: true), new[] { a, w }, maxElements: 24);
    }

    [Fact]
    public void LinearWithBiasGradients()
    {
        var x = Leaf(11, 2, 3, 5);
        var w = Leaf(12, 4, 5);
        var b = Leaf(13, 4);
        GradCheck.Assert(v => F.Linear(v[0], v[1], v[2]), new[] { x, w, b });
    }

    [Fact]
    public void LinearWithoutBiasGradientsAndVectorInput()
    {
        GradCheck.Assert(v => F.Linear(v[0], v[1]), new[] { Leaf(14, 3, 5), Leaf(15, 4, 5) });
        GradCheck.Assert(v => F.Linear(v[0], v[1]), new[] { Leaf(16, 5), Leaf(17, 4, 5) });
    }

    [Fact]
    public void LinearMatchesMatMulPlusBias()
    {
        var x = Leaf(18, 2, 3, 5);
        var w = Leaf(19, 4, 5);
        var b = Leaf(20, 4);
        var y = F.Linear(x, w, b);
        Assert.Equal(new[] { 2, 3, 4 }, y.Data.ShapeArray());
        var expected = Elementwise.Add(MatMul.Compute(x.Data, w.Data, transB: true), b.Data).ToArray();
        Assert.Equal(expected, y.Data.ToArray());
    }

    [Fact]
    public void GradientsAreSkippedForInputsThatDoNotRequireThem()
    {
        var x = new Variable(new Rng(21).Normal(new[] { 3, 5 }));
        var w = Leaf(22, 4, 5);
        F.MatMul(x, w, transB: true).Backward(Tensor.Ones(new[] { 3, 4 }));
        Assert.Null(x.Grad);
        Assert.NotNull(w.Grad);
    }

    [Fact]
    public void LinearRejectsMismatchedShapes()
    {
        var e = Assert.Throws<ArgumentException>(() => F.Linear(Leaf(23, 3, 6), Leaf(24, 4, 5)));
        Assert.Contains("[3, 6]", e.Message);
        Assert.Contains("[4, 5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => F.Linear(Leaf(25, 3, 5), Leaf(26, 4, 5), Leaf(27, 3)));
        Assert.Contains("bias has shape [3]", e.Message);
    }
}
