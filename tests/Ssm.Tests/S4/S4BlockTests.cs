using System.Numerics;
using Ssm.Checkpoints;
using Ssm.Kernels;
using Ssm.S4;
using static Ssm.Tests.S4.S4TestSupport;

namespace Ssm.Tests.S4;

[Collection("ilgpu")]
public sealed class S4BlockTests
{
    /// <summary>An H = 1 S4 kernel holding the DPLR form of hippo_legs_kernel's (A, B, C, Δ), with C not yet set up.</summary>
    private static (S4Kernel Kernel, float[] K) ReferenceKernel(Device device)
    {
        using var file = SafeTensorsFile.Open(DataFile("hippo_legs_kernel.safetensors"));
        int n = int.Parse(file.Metadata["N"]);
        float[] aRef = file.ReadFloats("A"), cRef = file.ReadFloats("C");
        double dt = file.ReadFloats("dt")[0];
        // The file's A is LegS transposed (see HippoTests); Aᵀ + PPᵀ is again −½I + skew, so it has a DPLR form. The
        // float64 matrix is rebuilt from its definition (checked against the file's float32 copy).
        var legs = Hippo.LegSA(n);
        var a = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
            {
                a[i, k] = legs[k, i];
                Assert.Equal((float)a[i, k], aRef[i * n + k]);
            }
        var dplr = Hippo.Diagonalize(a, Hippo.LegSP(n), Hippo.LegSB(n));
        int h2 = n / 2;
        var c = new Complex[h2];
        for (int j = 0; j < h2; j++)
            for (int i = 0; i < n; i++) c[j] += dplr.V[i, j] * cRef[i];
        float[] Half(Complex[] x) => x.SelectMany(v => new[] { (float)v.Real, (float)v.Imaginary }).ToArray();
        var kernel = new S4Kernel(new S4Config { DModel = 1, DState = n, BClip = null }, new Rng(0), device);
        kernel.InvDt.Set(Tensor.From(new[] { (float)Math.Log(dt) }, new[] { 1, 1 }, device));
        kernel.AReal.Set(Tensor.From(dplr.Lambda.Select(l => (float)Math.Log(-l.Real)).ToArray(), new[] { 1, h2 }, device));
        kernel.AImag.Set(Tensor.From(dplr.Lambda.Select(l => (float)-l.Imaginary).ToArray(), new[] { 1, h2 }, device));
        kernel.P.Set(Tensor.From(Half(dplr.P), new[] { 1, 1, h2, 2 }, device));
        kernel.B.Set(Tensor.From(Half(dplr.B), new[] { 1, 1, h2, 2 }, device));
        kernel.C.Set(Tensor.From(Half(c), new[] { 1, 1, h2, 2 }, device));
        return (kernel, file.ReadFloats("K"));
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("w4x4")]
    public void DplrKernelPathReproducesTheHippoLegSReferenceKernel(string deviceName)
    {
        var device = deviceName == "cpu" ? Device.Cpu : TestDevices.Get(deviceName);
        var (kernel, expected) = ReferenceKernel(device);
        int length = expected.Length;
        Assert.Equal(0, kernel.KernelLength);
        var k = kernel.Forward(length);
        Assert.Equal(length, kernel.KernelLength);
        Assert.Equal(new[] { 1, 1, length }, k.Data.ShapeArray());
        CloseToScale(expected, k.Data.ToArray(), 1e-4, "K (set up at L)");
        // A shorter kernel is the prefix of the set-up length's.
        CloseToScale(expected.Take(20).ToArray(), kernel.Forward(20).Data.ToArray(), 1e-4, "K[:20]");

        // Set up at L/4, then doubled twice to L: C̃ moves by (I + Ā^L)ᵀ, and the kernel is the same.
        var (doubled, _) = ReferenceKernel(device);
        doubled.Forward(length / 4);
        Assert.Equal(length / 4, doubled.KernelLength);
        var kd = doubled.Forward(length);
        Assert.Equal(length, doubled.KernelLength);
        CloseToScale(expected, kd.Data.ToArray(), 1e-4, "K (doubled twice)");
    }

    [Fact]
    public void StepAndChunkedPrefillEqualTheConvolution()
    {
        const int batch = 2, h = 3, length = 29;
        foreach (var dtTransform in new[] { DtTransform.Exp, DtTransform.Softplus })
        {
            var config = new S4Config { DModel = h, DState = 8, Transposed = false, DtTransform = dtTransform, DtMin = 0.01, DtMax = 0.3, LMax = 16 };
            using var layer = new S4Block(config, new Rng(21));
            layer.Eval();
            var x = new Rng(22).Normal(new[] { batch, length, h });
            float[] full;
            using (Autograd.NoGrad()) full = layer.Forward(new Variable(x)).Data.ToArray();
            Assert.Equal(32, layer.Kernel.KernelLength); // set up for l_max = 16, doubled once for L = 29

            using var state = layer.AllocateState(batch);
            var steps = Enumerable.Range(0, length).Select(t => layer.Step(state, TimeStep(x, t))).ToList();
            CloseToScale(full, StackSteps(steps), 1e-4, $"{dtTransform} step-by-step");

            using var prefill = layer.AllocateState(batch);
            var chunks = new List<Tensor>();
            int at = 0;
            foreach (int piece in new[] { 3, 17, 9 })
            {
                using var noGrad = Autograd.NoGrad();
                chunks.Add(layer.Forward(new Variable(Layout.Narrow(x, 1, at, piece)), prefill).Data);
                at += piece;
            }
            CloseToScale(full, Layout.Concat(chunks, 1).ToArray(), 1e-4, $"{dtTransform} chunked prefill");
            CloseToScale(state.State.ToArray(), prefill.State.ToArray(), 1e-4, $"{dtTransform} final state");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BidirectionalOutputsDependOnTheFutureAndCausalOnesDoNot(bool bidirectional)
    {
        const int h = 2, length = 16, t0 = 9;
        using var layer = new S4Block(new S4Config { DModel = h, DState = 8, Bidirectional = bidirectional }, new Rng(23));
        Assert.Equal(new[] { bidirectional ? 2 : 1, h, 4, 2 }, layer.Kernel.C.Data.ShapeArray());
        var x = new Rng(24).Normal(new[] { 1, h, length }).ToArray();
        using var noGrad = Autograd.NoGrad();
        var y = layer.Forward(new Variable(Tensor.From(x, 1, h, length))).Data.ToArray();
        for (int t = t0 + 1; t < length; t++) x[length + t] += 1f; // channel 1, times after t0
        var y2 = layer.Forward(new Variable(Tensor.From(x, 1, h, length))).Data.ToArray();
        double past = 0, future = 0;
        for (int c = 0; c < h; c++)
            for (int t = 0; t < length; t++)
            {
                double d = Math.Abs(y2[c * length + t] - y[c * length + t]);
                if (t <= t0) past = Math.Max(past, d); else future = Math.Max(future, d);
            }
        Assert.True(future > 1e-3, "the perturbation must change later outputs");
        if (bidirectional) Assert.True(past > 1e-3, $"a bidirectional layer's output at t ≤ {t0} must depend on later inputs (max change {past:G3})");
        else Assert.True(past < 1e-5, $"a causal layer's output at t ≤ {t0} changed by {past:G3} when only later inputs changed");
        if (bidirectional) Assert.Throws<InvalidOperationException>(() => layer.AllocateState(1));
    }

    [Fact]
    public void GradientsOfEveryParameterAndTheInputMatchFiniteDifferences()
    {
        foreach (var config in new[]
        {
            new S4Config { DModel = 2, DState = 4, Transposed = false, DtMin = 0.05, DtMax = 0.5 },
            new S4Config { DModel = 2, DState = 4, DtTransform = DtTransform.Softplus, Bidirectional = true, DtMin = 0.05, DtMax = 0.5 },
        })
        {
            using var layer = new S4Block(config, new Rng(25));
            var x = new Variable(new Rng(26).Normal(config.Transposed ? new[] { 2, 2, 6 } : new[] { 2, 6, 2 }), requiresGrad: true);
            using (Autograd.NoGrad()) layer.Forward(x); // sets C̃ up (in place) before the check
            var inputs = new Variable[] { x }.Concat(layer.Parameters()).ToArray();
            Assert.Equal(10, inputs.Length); // x, D, inv_dt, C, B, A_real, A_imag, P, output weight and bias
            try { GradCheck.Assert(v => layer.Forward(v[0]), inputs, eps: 1e-3); }
            catch (InvalidOperationException e) { Assert.Fail($"{(config.Bidirectional ? "bidirectional" : "causal")}: {e.Message}"); }
        }
    }

    [Fact]
    public void NamesShapesAndParameterGroupsFollowS4Py()
    {
        using var layer = new S4Block(new S4Config { DModel = 4, DState = 8 }, new Rng(27));
        var state = layer.StateDict();
        Assert.Equal(new[] { "layer.D", "layer.kernel.inv_dt", "layer.kernel.C", "layer.kernel.B", "layer.kernel.A_real", "layer.kernel.A_imag",
            "layer.kernel.P", "layer.kernel.l_kernel", "output_linear.0.weight", "output_linear.0.bias" }, state.Keys);
        Assert.Equal(new[] { 1, 4 }, state["layer.D"].ShapeArray());
        Assert.Equal(new[] { 4, 1 }, state["layer.kernel.inv_dt"].ShapeArray());
        Assert.Equal(new[] { 1, 4, 4, 2 }, state["layer.kernel.P"].ShapeArray());
        Assert.Equal(DType.Int64, state["layer.kernel.l_kernel"].DType);
        Assert.Equal(new[] { 8, 4 }, state["output_linear.0.weight"].ShapeArray());
        var legs = Hippo.LegSDplr(8, 2.0);
        Assert.Equal(legs.Lambda.Select(l => (float)-l.Imaginary), layer.Kernel.AImag.Data.ToArray().Take(4));

        var groups = layer.ParameterGroups(ssmLr: 5e-4);
        Assert.Equal(new[] { "default", "ssm" }, groups.Select(g => g.Name));
        Assert.Equal(5e-4, groups[1].Lr);
        Assert.Equal(0.0, groups[1].WeightDecay);
        Assert.Equal(layer.Kernel.SsmParameters.ToHashSet(), groups[1].Parameters.ToHashSet());
        Assert.Equal(4, groups[0].Parameters.Count); // D, C, output weight and bias
        Assert.Contains(layer.Kernel.C, groups[0].Parameters);
        var opt = new Optim.AdamW(groups, lr: 1e-2, weightDecay: 0.1);
        Assert.Equal(1e-2, opt.Groups[0].Lr);
        Assert.Equal(0.1, opt.Groups[0].WeightDecay);
        Assert.Equal(0.0, opt.Groups[1].WeightDecay);
    }

    [Fact]
    public void CheckpointRoundTripKeepsTheSetUpKernel()
    {
        var x = new Rng(28).Normal(new[] { 1, 4, 10 });
        using var a = new S4Block(new S4Config { DModel = 4, DState = 8 }, new Rng(29));
        float[] ya;
        using (Autograd.NoGrad()) ya = a.Forward(new Variable(x)).Data.ToArray();
        using var b = new S4Block(new S4Config { DModel = 4, DState = 8 }, new Rng(30));
        b.LoadStateDict(a.StateDict());
        Assert.Equal(10, b.Kernel.KernelLength);
        using var noGrad = Autograd.NoGrad();
        Assert.Equal(ya, b.Forward(new Variable(x)).Data.ToArray());
    }

    [Fact]
    public void CpuAndIlgpuAgree()
    {
        var config = new S4Config { DModel = 2, DState = 8, Transposed = false };
        S4TestSupport.CpuAndIlgpuAgree(device => new S4Block(config, new Rng(32), device), new Rng(31).Normal(new[] { 2, 10, 2 }), 33,
            (layer, batch) => ((S4Block)layer).AllocateState(batch));
    }

    [Fact]
    public void BadInputIsReportedClearly()
    {
        var e = Assert.Throws<ArgumentException>(() => new S4Block(new S4Config { DModel = 2, DState = 5 }, new Rng(0)));
        Assert.Contains("d_state N must be a positive even number", e.Message);
        using var layer = new S4Block(new S4Config { DModel = 2, DState = 4, Transposed = false }, new Rng(0));
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 1, 6, 3 }))));
        Assert.Contains("x has shape [1, 6, 3], expected [batch, length, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 1, 0, 2 }))));
        Assert.Contains("sequence length must be at least 1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Kernel.Forward(0));
    }
}
