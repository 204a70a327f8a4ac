namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class NeuralMemoryOpsTests
{
    /// <summary>σ″ by central differences of σ′ in float64 (σ′ from its closed form).</summary>
    private static double SecondDerivativeNumeric(UnaryOp op, double z)
    {
        static double Phi(double x) => 0.5 * (1 + Erf(x / Math.Sqrt(2)));
        static double Erf(double x)
        {
            // erf by its Taylor series (converged to float64 rounding on the test range |x| ≤ 4).
            double sum = 0, term = x;
            for (int n = 0; n < 80; n++)
            {
                sum += term / (2 * n + 1);
                term *= -x * x / (n + 1);
            }
            return 2 / Math.Sqrt(Math.PI) * sum;
        }
        double D1(double x) => op == UnaryOp.Silu
            ? 1 / (1 + Math.Exp(-x)) * (1 + x * (1 - 1 / (1 + Math.Exp(-x))))
            : Phi(x) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
        const double h = 1e-5;
        return (D1(z + h) - D1(z - h)) / (2 * h);
    }

    [Theory]
    [InlineData(UnaryOp.Silu)]
    [InlineData(UnaryOp.Gelu)]
    public void CurvatureMatchesTheSecondDerivative(UnaryOp op)
    {
        var z = Data.Uniform(64, 1, -4, 4);
        var dy = Data.Normal(64, 2);
        var g = Data.Normal(64, 3);
        var dz = NeuralMemoryOps.ActivationCurvature(op, Tensor.From(z, 8, 8), Tensor.From(dy, 8, 8), Tensor.From(g, 8, 8)).ToArray();
        var expected = z.Select((v, i) => (float)(g[i] * dy[i] * SecondDerivativeNumeric(op, v))).ToArray();
        Close.All(expected, dz, 1e-4, 1e-5, op.ToString());
    }

    [Fact]
    public void CurvatureRejectsOtherActivationsAndMismatchedShapes()
    {
        var t = Tensor.Zeros(new[] { 2, 3 });
        var e = Assert.Throws<ArgumentException>(() => NeuralMemoryOps.ActivationCurvature(UnaryOp.Tanh, t, t, t));
        Assert.Contains("activation Tanh is not supported", e.Message);
        e = Assert.Throws<ArgumentException>(() => NeuralMemoryOps.ActivationCurvature(UnaryOp.Silu, t, Tensor.Zeros(new[] { 3, 2 }), t));
        Assert.Contains("dy has shape [3, 2], expected [2, 3]", e.Message);
    }

    private sealed record UpdateCase(int R, int[] Inner, float[] M, float[] S, float[] Delta, float[] Keep, float[] Carry, float[] MomentumKeep, float[] GM, float[] GS)
    {
        public int N => Inner.Aggregate(1, (p, d) => p * d);
        public int[] Shape => new[] { R }.Concat(Inner).ToArray();
        public int[] DeltaShape => new[] { R, 2 }.Concat(Inner).ToArray();

        public static UpdateCase Make(int r, int[] inner, int seed)
        {
            int n = inner.Aggregate(1, (p, d) => p * d);
            return new(r, inner, Data.Normal(r * n, seed), Data.Normal(r * n, seed + 1), Data.Normal(2 * r * n, seed + 2),
                Data.Uniform(r, seed + 3, 0.5, 1), Data.Uniform(r, seed + 4, 0, 2), Data.Uniform(r, seed + 5, 0, 1),
                Data.Normal(r * n, seed + 6), Data.Normal(r * n, seed + 7));
        }
    }

    private static (Tensor m, Tensor s, ChunkUpdateGradients g) RunUpdate(UpdateCase k, Device dev, bool withGS = true, float? maxGradNorm = null)
    {
        Tensor T(float[] v, int[] shape) => Tensor.From(v, shape, dev);
        var m = T(k.M, k.Shape);
        var s = T(k.S, k.Shape);
        var delta = T(k.Delta, k.DeltaShape);
        var keep = T(k.Keep, new[] { k.R });
        var carry = T(k.Carry, new[] { k.R });
        var mk = T(k.MomentumKeep, new[] { k.R });
        var (m2, s2) = NeuralMemoryOps.ChunkUpdate(m, s, delta, keep, carry, mk);
        var g = NeuralMemoryOps.ChunkUpdateBackward(m, s, delta, keep, carry, mk, T(k.GM, k.Shape), withGS ? T(k.GS, k.Shape) : null, maxGradNorm);
        return (m2, s2, g);
    }

    [Fact]
    public void ChunkUpdateMatchesItsDefinitionAndGradients()
    {
        var k = UpdateCase.Make(3, new[] { 4, 5 }, seed: 1);
        var (m2, s2, g) = RunUpdate(k, Device.Cpu);
        int n = k.N;
        float[] em = new float[k.R * n], es = new float[k.R * n], edm = new float[k.R * n], eds = new float[k.R * n], edd = new float[2 * k.R * n];
        float[] ek = new float[k.R], ec = new float[k.R], ee = new float[k.R];
        for (int r = 0; r < k.R; r++)
            for (int j = 0; j < n; j++)
            {
                int i = r * n + j;
                em[i] = k.Keep[r] * k.M[i] + k.Carry[r] * k.S[i] - k.Delta[2 * r * n + j];
                es[i] = k.MomentumKeep[r] * k.S[i] - k.Delta[(2 * r + 1) * n + j];
                edm[i] = k.Keep[r] * k.GM[i];
                eds[i] = k.Carry[r] * k.GM[i] + k.MomentumKeep[r] * k.GS[i];
                edd[2 * r * n + j] = -k.GM[i];
                edd[(2 * r + 1) * n + j] = -k.GS[i];
                ek[r] += k.GM[i] * k.M[i];
                ec[r] += k.GM[i] * k.S[i];
                ee[r] += k.GS[i] * k.S[i];
            }
        Close.All(em, m2.ToArray(), 1e-5, 1e-6, "M'");
        Close.All(es, s2.ToArray(), 1e-5, 1e-6, "S'");
        Assert.Equal(k.Shape, m2.ShapeArray());
        Close.All(edm, g.Dm.ToArray(), 1e-5, 1e-6, "dM");
        Close.All(eds, g.Ds.ToArray(), 1e-5, 1e-6, "dS");
        Close.All(edd, g.Ddelta.ToArray(), 0, 0, "dDelta");
        Close.All(ek, g.Dkeep.ToArray(), 1e-4, 1e-5, "dkeep");
        Close.All(ec, g.Dcarry.ToArray(), 1e-4, 1e-5, "dcarry");
        Close.All(ee, g.DmomentumKeep.ToArray(), 1e-4, 1e-5, "dmomentumKeep");

        // A missing S′ gradient counts as zero.
        var (_, _, noS) = RunUpdate(k, Device.Cpu, withGS: false);
        Close.All(new float[k.R], noS.DmomentumKeep.ToArray(), 0, 0, "dmomentumKeep without gS");
        Close.All(g.Dm, noS.Dm, 0, 0, "dM without gS");
    }

    /// <summary>Per row, min(1, c/‖(gM, gS)‖) in float64.</summary>
    private static double[] ClampFactors(UpdateCase k, double c) => Enumerable.Range(0, k.R).Select(r =>
    {
        double sq = 0;
        for (int j = 0; j < k.N; j++) sq += (double)k.GM[r * k.N + j] * k.GM[r * k.N + j] + (double)k.GS[r * k.N + j] * k.GS[r * k.N + j];
        return Math.Min(1, c / Math.Sqrt(sq));
    }).ToArray();

    [Fact]
    public void ClampedBackwardScalesEachRowsUpstreamGradient()
    {
        var k = UpdateCase.Make(4, new[] { 3, 5 }, seed: 11);
        var (_, _, exact) = RunUpdate(k, Device.Cpu);
        // The upstream norms here are ~5–7 per row: a bound of 6 clamps some rows and leaves others exact.
        const float c = 6f;
        var f = ClampFactors(k, c);
        Assert.Contains(f, x => x < 0.95);
        Assert.Contains(f, x => x == 1);
        var (_, _, clamped) = RunUpdate(k, Device.Cpu, maxGradNorm: c);
        float[] Scaled(Tensor t, int perRow) => t.ToArray().Select((v, i) => (float)(v * f[i / perRow])).ToArray();
        Close.All(Scaled(exact.Dm, k.N), clamped.Dm.ToArray(), 1e-5, 1e-6, "dM");
        Close.All(Scaled(exact.Ds, k.N), clamped.Ds.ToArray(), 1e-5, 1e-6, "dS");
        Close.All(Scaled(exact.Ddelta, 2 * k.N), clamped.Ddelta.ToArray(), 1e-6, 1e-7, "dDelta");
        Close.All(Scaled(exact.Dkeep, 1), clamped.Dkeep.ToArray(), 1e-5, 1e-5, "dkeep");
        Close.All(Scaled(exact.Dcarry, 1), clamped.Dcarry.ToArray(), 1e-5, 1e-5, "dcarry");
        Close.All(Scaled(exact.DmomentumKeep, 1), clamped.DmomentumKeep.ToArray(), 1e-5, 1e-5, "dmomentumKeep");
        // The clamped rows' upstream pair now has norm c: ‖dΔ‖ of such a row is c.
        var dd = clamped.Ddelta.ToArray();
        for (int r = 0; r < k.R; r++)
            if (f[r] < 1)
                Assert.Equal(c, Math.Sqrt(dd.Skip(2 * r * k.N).Take(2 * k.N).Sum(x => (double)x * x)), 4);
        // A bound above every row's norm is exact.
        var (_, _, loose) = RunUpdate(k, Device.Cpu, maxGradNorm: 100f);
        Close.All(exact.Dm, loose.Dm, 0, 0, "dM under a loose bound");
        Close.All(exact.Dkeep, loose.Dkeep, 0, 0, "dkeep under a loose bound");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var (k, clamp) in new[] { (UpdateCase.Make(3, new[] { 4, 5 }, seed: 2), (float?)null), (UpdateCase.Make(2, new[] { 37 }, seed: 3), null),
                     (UpdateCase.Make(5, new[] { 1 }, seed: 4), null), (UpdateCase.Make(4, new[] { 3, 5 }, seed: 11), 6f), (UpdateCase.Make(2, new[] { 37 }, seed: 3), 2f) })
        {
            var (cm, cs, cg) = RunUpdate(k, Device.Cpu, maxGradNorm: clamp);
            var (gm, gs, gg) = RunUpdate(k, dev, maxGradNorm: clamp);
            Close.All(cm, gm, 1e-5, 1e-6, "M'");
            Close.All(cs, gs, 1e-5, 1e-6, "S'");
            Close.All(cg.Dm, gg.Dm, 1e-5, 1e-6, "dM");
            Close.All(cg.Ds, gg.Ds, 1e-5, 1e-6, "dS");
            Close.All(cg.Ddelta, gg.Ddelta, 0, 0, "dDelta");
            Close.All(cg.Dkeep, gg.Dkeep, 1e-5, 1e-5, "dkeep");
            Close.All(cg.Dcarry, gg.Dcarry, 1e-5, 1e-5, "dcarry");
            Close.All(cg.DmomentumKeep, gg.DmomentumKeep, 1e-5, 1e-5, "dmomentumKeep");
        }
        foreach (var op in new[] { UnaryOp.Silu, UnaryOp.Gelu })
        {
            var z = Data.Uniform(50, 5, -4, 4);
            var dy = Data.Normal(50, 6);
            var g = Data.Normal(50, 7);
            var cpu = NeuralMemoryOps.ActivationCurvature(op, Tensor.From(z, 5, 10), Tensor.From(dy, 5, 10), Tensor.From(g, 5, 10));
            var gpu = NeuralMemoryOps.ActivationCurvature(op, Tensor.From(z, new[] { 5, 10 }, dev), Tensor.From(dy, new[] { 5, 10 }, dev), Tensor.From(g, new[] { 5, 10 }, dev));
            Close.All(cpu, gpu, 1e-5, 1e-6, $"curvature {op}");
        }
    }

    [Fact]
    public void ChunkUpdateRejectsMismatchedShapes()
    {
        var m = Tensor.Zeros(new[] { 2, 3, 4 });
        var r = Tensor.Zeros(new[] { 2 });
        var e = Assert.Throws<ArgumentException>(() => NeuralMemoryOps.ChunkUpdate(m, m, Tensor.Zeros(new[] { 2, 3, 4 }), r, r, r));
        Assert.Contains("delta has shape [2, 3, 4], expected [2, 2, 3, 4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => NeuralMemoryOps.ChunkUpdate(m, m, Tensor.Zeros(new[] { 2, 2, 3, 4 }), r, Tensor.Zeros(new[] { 3 }), r));
        Assert.Contains("carry has shape [3], expected [2]", e.Message);
        var a = Assert.Throws<ArgumentOutOfRangeException>(() => NeuralMemoryOps.ChunkUpdateBackward(m, m, Tensor.Zeros(new[] { 2, 2, 3, 4 }), r, r, r, m, m, 0f));
        Assert.Contains("maxGradNorm is 0, expected a finite value > 0", a.Message);
    }
}
