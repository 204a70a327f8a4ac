using Ssm.Checkpoints;
using Ssm.Kernels;
using Ssm.S4;
using static Ssm.Tests.S4.S4TestSupport;

namespace Ssm.Tests.S4;

[Collection("ilgpu")]
public sealed class S4DLayerTests
{
    public static TheoryData<string> Devices => new() { "cpu", "w4x4" };

    private static Device Get(string name) => name == "cpu" ? Device.Cpu : TestDevices.Get(name);

    [Theory]
    [MemberData(nameof(Devices))]
    public void ReferenceLayerReproducesKernelOutputAndEveryGradient(string deviceName)
    {
        var device = Get(deviceName);
        using var file = SafeTensorsFile.Open(DataFile("s4d_layer.safetensors"));
        Assert.Contains("transposed", file.Metadata["what"]);
        var u0 = file.Read("u");
        int h = u0.Size(1), length = u0.Size(2), n = 2 * file.Info("kernel.A_imag").Shape[1];
        using var layer = new S4D(new S4DConfig { DModel = h, DState = n }, new Rng(0), device);
        var names = layer.StateDict().Keys.ToList();
        Assert.Equal(new[] { "D", "kernel.C", "kernel.log_dt", "kernel.log_A_real", "kernel.A_imag", "output_linear.0.weight", "output_linear.0.bias" }, names);
        layer.LoadStateDict(names.ToDictionary(x => x, x => file.Read(x, device)));

        var k = layer.Kernel.Forward(length);
        Assert.Equal(new[] { 1, h, length }, k.Data.ShapeArray());
        CloseToScale(file.ReadFloats("K"), k.Data.ToArray(), 1e-4, "K");

        var u = new Variable(file.Read("u", device), requiresGrad: true);
        var y = layer.Forward(u);
        Assert.Equal(u.Data.ShapeArray(), y.Data.ShapeArray());
        CloseToScale(file.ReadFloats("y"), y.Data.ToArray(), 1e-4, "y");
        y.Backward(file.Read("dy", device));
        foreach (var (name, p) in layer.NamedParameters())
            CloseToScale(file.ReadFloats("grad." + name), p.Grad!.ToArray(), 1e-3, "grad." + name);
        CloseToScale(file.ReadFloats("grad.u"), u.Grad!.ToArray(), 1e-3, "grad.u");
    }

    public static TheoryData<Discretization, S4DInit, DtTransform> StepCases => new()
    {
        { Discretization.Zoh, S4DInit.Lin, DtTransform.Exp },
        { Discretization.Bilinear, S4DInit.Lin, DtTransform.Exp },
        { Discretization.Zoh, S4DInit.Inv, DtTransform.Softplus },
        { Discretization.Bilinear, S4DInit.LegS, DtTransform.Exp },
        { Discretization.Zoh, S4DInit.Real, DtTransform.Exp },
    };

    [Theory]
    [MemberData(nameof(StepCases))]
    public void StepAndChunkedPrefillEqualTheConvolution(Discretization discretization, S4DInit init, DtTransform dt)
    {
        const int batch = 2, h = 3, length = 37;
        var config = new S4DConfig { DModel = h, DState = 8, Transposed = false, Discretization = discretization, Init = init, DtTransform = dt, DtMin = 0.01, DtMax = 0.5 };
        using var layer = new S4D(config, new Rng(3));
        layer.Eval();
        var x = new Rng(4).Normal(new[] { batch, length, h });
        float[] full;
        using (Autograd.NoGrad()) full = layer.Forward(new Variable(x)).Data.ToArray();

        using var state = layer.AllocateState(batch);
        var steps = Enumerable.Range(0, length).Select(t => layer.Step(state, TimeStep(x, t))).ToList();
        CloseToScale(full, StackSteps(steps), 1e-4, "step-by-step");

        using var prefill = layer.AllocateState(batch);
        var pieces = new List<float>();
        int at = 0;
        foreach (int piece in new[] { 5, 1, 20, 11 })
        {
            using var noGrad = Autograd.NoGrad();
            pieces.AddRange(layer.Forward(new Variable(Layout.Narrow(x, 1, at, piece)), prefill).Data.ToArray());
            at += piece;
        }
        // Chunks are [B, piece, H]; reassemble to [B, L, H].
        var chunked = new float[full.Length];
        int offset = 0;
        at = 0;
        foreach (int piece in new[] { 5, 1, 20, 11 })
        {
            for (int b = 0; b < batch; b++)
                Array.Copy(pieces.ToArray(), offset + b * piece * h, chunked, (b * length + at) * h, piece * h);
            offset += batch * piece * h;
            at += piece;
        }
        CloseToScale(full, chunked, 1e-4, "chunked prefill");
        CloseToScale(state.State.ToArray(), prefill.State.ToArray(), 1e-4, "final state");
    }

    [Fact]
    public void ChannelFirstAndBatchFirstLayoutsAgree()
    {
        var x = new Rng(5).Normal(new[] { 2, 4, 9 });
        using var first = new S4D(new S4DConfig { DModel = 4, DState = 6 }, new Rng(6));
        using var last = new S4D(new S4DConfig { DModel = 4, DState = 6, Transposed = false }, new Rng(6));
        using var noGrad = Autograd.NoGrad();
        var y1 = first.Forward(new Variable(x)).Data;
        var y2 = last.Forward(new Variable(Layout.Transpose(x, 1, 2))).Data;
        Close.All(y1.ToArray(), Layout.Transpose(y2, 1, 2).ToArray(), 1e-5, 1e-6, "layouts");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BidirectionalOutputsDependOnTheFutureAndCausalOnesDoNot(bool bidirectional)
    {
        const int h = 3, length = 16, t0 = 6;
        using var layer = new S4D(new S4DConfig { DModel = h, DState = 8, Transposed = false, Bidirectional = bidirectional }, new Rng(7));
        Assert.Equal(bidirectional ? new[] { 2, h, 4, 2 } : new[] { h, 4, 2 }, layer.Kernel.C.Data.ShapeArray());
        var x = new Rng(8).Normal(new[] { 1, length, h }).ToArray();
        using var noGrad = Autograd.NoGrad();
        var y = layer.Forward(new Variable(Tensor.From(x, 1, length, h))).Data.ToArray();
        Assert.Equal(length * h, y.Length);
        for (int t = t0 + 1; t < length; t++) x[t * h + 1] += 1f; // perturb only the future of t0
        var y2 = layer.Forward(new Variable(Tensor.From(x, 1, length, h))).Data.ToArray();
        double past = Enumerable.Range(0, (t0 + 1) * h).Max(i => Math.Abs(y2[i] - y[i]));
        double future = Enumerable.Range((t0 + 1) * h, (length - t0 - 1) * h).Max(i => Math.Abs(y2[i] - y[i]));
        Assert.True(future > 1e-3, "the perturbation must change later outputs");
        // A causal layer's earlier outputs change only by the FFT's rounding (~1e-7 of the output scale).
        if (bidirectional) Assert.True(past > 1e-3, $"a bidirectional layer's output at t ≤ {t0} must depend on later inputs (max change {past:G3})");
        else Assert.True(past < 1e-5, $"a causal layer's output at t ≤ {t0} changed by {past:G3} when only later inputs changed");
        if (bidirectional)
        {
            Assert.Throws<InvalidOperationException>(() => layer.AllocateState(1));
            Assert.Throws<InvalidOperationException>(() => layer.Step(null!, Tensor.Zeros(new[] { 1, h })));
        }
    }

    [Fact]
    public void GradientsOfEveryParameterAndTheInputMatchFiniteDifferences()
    {
        foreach (var (config, name) in new[]
        {
            (new S4DConfig { DModel = 2, DState = 4, Transposed = false, DtMin = 0.05, DtMax = 0.5 }, "zoh"),
            (new S4DConfig { DModel = 2, DState = 4, Discretization = Discretization.Bilinear, DtTransform = DtTransform.Softplus, Bidirectional = true, DtMin = 0.05, DtMax = 0.5 }, "bilinear bidirectional"),
        })
        {
            using var layer = new S4D(config, new Rng(9));
            var x = new Variable(new Rng(10).Normal(config.Transposed ? new[] { 2, 2, 7 } : new[] { 2, 7, 2 }), requiresGrad: true);
            var inputs = new Variable[] { x }.Concat(layer.Parameters()).ToArray();
            try { GradCheck.Assert(v => layer.Forward(v[0]), inputs, eps: 1e-3); }
            catch (InvalidOperationException e) { Assert.Fail($"{name}: {e.Message}"); }
        }
    }

    [Fact]
    public void CpuAndIlgpuAgree()
    {
        var config = new S4DConfig { DModel = 3, DState = 8, Transposed = false, Bidirectional = true };
        S4TestSupport.CpuAndIlgpuAgree(device => new S4D(config, new Rng(12), device), new Rng(11).Normal(new[] { 2, 12, 3 }), 13);
    }

    [Fact]
    public void BadInputIsReportedClearly()
    {
        var e = Assert.Throws<ArgumentException>(() => new S4D(new S4DConfig { DModel = 4, DState = 7 }, new Rng(0)));
        Assert.Contains("d_state N must be a positive even number", e.Message);
        using var layer = new S4D(new S4DConfig { DModel = 4, DState = 8 }, new Rng(0));
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 2, 5, 16 }))));
        Assert.Contains("x has shape [2, 5, 16], expected [batch, 4, length]", e.Message);
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 2, 4, 0 }))));
        Assert.Contains("sequence length must be at least 1", e.Message);
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 4, 16 }))));
        Assert.Contains("x has shape [4, 16]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => layer.Kernel.Forward(0));
        using var state = layer.AllocateState(2);
        e = Assert.Throws<ArgumentException>(() => layer.Step(state, Tensor.Zeros(new[] { 2, 5 })));
        Assert.Contains("xt has shape [2, 5], expected [2, 4]", e.Message);
        e = Assert.Throws<ArgumentException>(() => layer.Forward(new Variable(Tensor.Zeros(new[] { 3, 4, 5 })), state));
        Assert.Contains("state holds 2 sequences, expected 3", e.Message);
    }

    [Fact]
    public void InitializationsFollowTheS4DPaper()
    {
        const int n = 8;
        float[] AImag(S4DInit init) => new S4DKernel(new S4DConfig { DModel = 2, DState = n, Init = init }, new Rng(1)).AImag.Data.ToArray();
        float[] ALogReal(S4DInit init) => new S4DKernel(new S4DConfig { DModel = 2, DState = n, Init = init }, new Rng(1)).LogAReal.Data.ToArray();
        Assert.Equal(Enumerable.Range(0, n / 2).Select(k => (float)(Math.PI * k)), AImag(S4DInit.Lin).Take(n / 2));
        Assert.Equal(Enumerable.Range(0, n / 2).Select(k => (float)(n / Math.PI * (n / (2.0 * k + 1) - 1))), AImag(S4DInit.Inv).Take(n / 2));
        Assert.Equal(Enumerable.Range(0, n / 2).Select(k => (float)Math.Log(k + 1)), ALogReal(S4DInit.Real).Take(n / 2));
        Assert.All(AImag(S4DInit.Real), v => Assert.Equal(0f, v));
        Assert.All(ALogReal(S4DInit.Lin), v => Assert.Equal((float)Math.Log(0.5), v));
        var legs = Hippo.S4DLegS(n);
        Assert.Equal(legs.A.Select(a => (float)-a.Imaginary), AImag(S4DInit.LegS).Take(n / 2));
        var kernel = new S4DKernel(new S4DConfig { DModel = 64, DtTransform = DtTransform.Softplus }, new Rng(2));
        Assert.Equal(new[] { "C", "inv_dt", "log_A_real", "A_imag" }, kernel.NamedParameters().Select(p => p.Name));
        var dt = kernel.LogDt.Data.ToArray().Select(v => Math.Log(1 + Math.Exp(v))).ToArray();
        Assert.All(dt, v => Assert.InRange(v, 0.001 * (1 - 1e-5), 0.1 * (1 + 1e-5)));
    }

    [Theory]
    [InlineData(Discretization.Zoh)]
    [InlineData(Discretization.Bilinear)]
    public void ExtremeDecaysAndTinyAStayFiniteAndRecurrent(Discretization discretization)
    {
        // Re A = −exp(log_A_real): e^{12} ≈ 1.6e5 (ΔA far below float range), e^{−15} ≈ 3e-7 (A ≈ 0: g → Δ), e^{3}.
        var config = new S4DConfig { DModel = 2, DState = 8, Transposed = false, Discretization = discretization, DtMin = 0.01, DtMax = 0.1 };
        using var layer = new S4D(config, new Rng(14));
        layer.Eval();
        layer.Kernel.LogAReal.Set(Tensor.From(new[] { 12f, -15f, 0f, 3f, 12f, -15f, 0f, 3f }, 2, 4));
        layer.Kernel.AImag.Set(Tensor.From(new[] { 0f, 0f, 5f, 300f, 1f, 0f, 2f, 3f }, 2, 4));
        var x = new Variable(new Rng(15).Normal(new[] { 1, 20, 2 }), requiresGrad: true);
        var y = layer.Forward(x);
        y.Backward(Tensor.Ones(y.Data.Shape));
        Assert.All(y.Data.ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(x.Grad!.ToArray(), v => Assert.True(float.IsFinite(v)));
        foreach (var (name, p) in layer.NamedParameters())
            Assert.True(p.Grad!.ToArray().All(float.IsFinite), $"grad {name} is not finite");
        using var state = layer.AllocateState(1);
        var steps = Enumerable.Range(0, 20).Select(t => layer.Step(state, TimeStep(x.Data, t))).ToList();
        CloseToScale(y.Data.ToArray(), StackSteps(steps), 1e-4, "step-by-step");
    }
}

