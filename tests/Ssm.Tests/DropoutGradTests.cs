using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class DropoutGradTests
{
    [Fact]
    public void GradientMatchesFiniteDifferencesWithAFixedSeed()
    {
        var x = new Variable(new Rng(1).Normal(new[] { 6, 7 }), requiresGrad: true);
        // The same seed for every evaluation: GradCheck calls f repeatedly, so each call gets a fresh Rng(11).
        GradCheck.Assert(v => F.Dropout(v[0], 0.4f, training: true, new Rng(11)), new[] { x });
    }

    [Fact]
    public void BackwardUsesTheForwardMask()
    {
        var x = new Variable(Tensor.Ones(new[] { 1000 }), requiresGrad: true);
        var y = F.Dropout(x, 0.3f, training: true, new Rng(2));
        y.Backward(Tensor.Ones(new[] { 1000 }));
        Assert.Equal(y.Data.ToArray(), x.Grad!.ToArray()); // dy = 1: dx = mask/(1−p) = y
        int kept = y.Data.ToArray().Count(v => v != 0f);
        Assert.InRange(kept, 700 - 5 * Math.Sqrt(1000 * 0.21), 700 + 5 * Math.Sqrt(1000 * 0.21));
    }

    [Fact]
    public void ModuleIsIdentityInEvalAndReproducibleFromItsSeed()
    {
        var x = new Variable(new Rng(3).Normal(new[] { 4, 50 }));
        var a = new Dropout(0.5f, seed: 9);
        var b = new Dropout(0.5f, seed: 9);
        var ya1 = a.Forward(x).Data.ToArray();
        var ya2 = a.Forward(x).Data.ToArray();
        Assert.Equal(ya1, b.Forward(x).Data.ToArray());
        Assert.NotEqual(ya1, ya2); // a new mask per call
        a.Eval();
        Assert.Same(x, a.Forward(x));
        Assert.Same(x, F.Dropout(x, 0f, training: true, new Rng(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.5f, seed: 1));
        // Forked generators: two layers built from one parent Rng get different masks.
        var parent = new Rng(4);
        var c = new Dropout(0.5f, parent);
        var d = new Dropout(0.5f, parent);
        Assert.NotEqual(c.Forward(x).Data.ToArray(), d.Forward(x).Data.ToArray());
    }
}
