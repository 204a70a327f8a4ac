using Ssm.Kernels;
namespace Ssm.Testing;

/// <summary>Float comparisons with float32-appropriate tolerances: |a − e| ≤ atol + rtol·|e| element by element.</summary>
public static class Close
{
    public static void All(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol = 1e-5, double atol = 1e-6, string what = "")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length}, expected {expected.Length}");
        int bad = -1; double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            double err = Math.Abs(a - e);
            bool ok = err <= atol + rtol * Math.Abs(e) && !double.IsNaN(a) == !double.IsNaN(e);
            if (!ok && (bad < 0 || err > worst)) { bad = i; worst = err; }
        }
        if (bad >= 0)
            Assert.Fail($"{what}: element {bad}: actual {actual[bad]:G9}, expected {expected[bad]:G9} (|diff| {worst:G3}, rtol {rtol}, atol {atol})");
    }

    public static void All(Tensor expected, Tensor actual, double rtol = 1e-5, double atol = 1e-6, string what = "")
    {
        Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
        All(expected.ToArray(), actual.ToArray(), rtol, atol, what);
    }
}

/// <summary>Random test data.</summary>
public static class Data
{
    public static float[] Normal(int n, int seed, double std = 1)
    {
        var a = new float[n];
        new Rng(seed).FillNormal(a, 0, std);
        return a;
    }

    public static float[] Uniform(int n, int seed, double lo, double hi)
    {
        var a = new float[n];
        new Rng(seed).FillUniform(a, lo, hi);
        return a;
    }
}
