using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class AutogradTests
{
    private static Variable Leaf(int seed, params int[] shape) => new(new Rng(seed).Normal(shape), requiresGrad: true);

    public static TheoryData<string> Unary => new() { "Exp", "Sigmoid", "Silu", "Gelu", "Softplus", "Tanh", "Square", "Neg", "Affine" };

    [Theory]
    [MemberData(nameof(Unary))]
    public void UnaryGradientsMatchFiniteDifferences(string name)
    {
        Func<Variable, Variable> f = name switch
        {
            "Exp" => F.Exp, "Sigmoid" => F.Sigmoid, "Silu" => F.Silu, "Gelu" => F.Gelu, "Softplus" => F.Softplus,
            "Tanh" => F.Tanh, "Square" => F.Square, "Neg" => F.Neg, _ => v => F.Affine(v, 0.7f, 0.1f),
        };
        GradCheck.Assert(v => f(v[0]), new[] { Leaf(1, 3, 5) });
    }

    [Fact]
    public void LogAndSqrtGradientsOnPositiveInputs()
    {
        var x = new Variable(new Rng(2).Uniform(new[] { 4, 3 }, 0.5, 2), true);
        GradCheck.Assert(v => F.Log(v[0]), new[] { x });
        GradCheck.Assert(v => F.Sqrt(v[0]), new[] { x });
    }

    [Fact]
    public void BroadcastingArithmeticGradientsMatchFiniteDifferences()
    {
        var a = Leaf(3, 2, 3, 4);
        var b = Leaf(4, 3, 1);
        var c = new Variable(new Rng(5).Uniform(new[] { 4 }, 0.5, 2), true);
        GradCheck.Assert(v => v[0] + v[1], new[] { a, b });
        GradCheck.Assert(v => v[0] - v[1], new[] { a, b });
        GradCheck.Assert(v => v[0] * v[1], new[] { a, b });
        GradCheck.Assert(v => v[0] / v[1], new[] { a, c });
        GradCheck.Assert(v => F.Reshape(v[0] * v[1], 6, 4), new[] { a, b });
    }

    [Fact]
    public void GradientsAccumulateAcrossUsesAndBackwardCalls()
    {
        var x = new Variable(Tensor.From(new[] { 1f, 2f, 3f }, 3), true);
        var y = x * x + x;            // dy/dx = 2x + 1
        F.Reshape(y, 3).Backward(Tensor.From(new[] { 1f, 1f, 1f }, 3));
        Assert.Equal(new[] { 3f, 5f, 7f }, x.Grad!.ToArray());
        (x * 2f).Backward(Tensor.From(new[] { 1f, 1f, 1f }, 3));
        Assert.Equal(new[] { 5f, 7f, 9f }, x.Grad!.ToArray());
        x.ZeroGrad();
        Assert.Null(x.Grad);
    }

    [Fact]
    public void NoGradRecordsNothingAndBackwardNeedsAScalar()
    {
        var x = Leaf(6, 2, 2);
        using (Autograd.NoGrad())
        {
            var y = F.Exp(x);
            Assert.False(y.RequiresGrad);
        }
        var z = F.Exp(x);
        Assert.True(z.RequiresGrad);
        var e = Assert.Throws<InvalidOperationException>(() => z.Backward());
        Assert.Contains("[2, 2]", e.Message);
        Assert.Throws<InvalidOperationException>(() => new Variable(Tensor.Zeros(new[] { 1 })).Backward());
    }

    [Fact]
    public void GradCheckDetectsAWrongBackward()
    {
        // A deliberately wrong op: forward x², backward claims 3x.
        Variable Wrong(Variable x) => Autograd.Record(Elementwise.Unary(UnaryOp.Square, x.Data), "Wrong", new[] { x },
            g => new Tensor?[] { Elementwise.Mul(g, Elementwise.Scale(x.Data, 3f)) });
        Assert.Throws<InvalidOperationException>(() => GradCheck.Assert(v => Wrong(v[0]), new[] { Leaf(7, 4) }));
    }

    [Fact]
    public void ScopedTrainingStepKeepsLeafGradients()
    {
        var w = new Parameter(new Rng(8).Normal(new[] { 3 }));
        using (var scope = TensorScope.Begin())
        {
            var loss = F.Reshape(F.Square(w), 3);
            loss.Backward(Tensor.Ones(new[] { 3 }));
        }
        Assert.NotNull(w.Grad);
        Assert.False(w.Grad!.IsDisposed);
        Assert.False(w.Data.IsDisposed);
        var expected = w.Data.ToArray().Select(v => 2 * v).ToArray();
        Assert.Equal(expected, w.Grad.ToArray());
    }
}
