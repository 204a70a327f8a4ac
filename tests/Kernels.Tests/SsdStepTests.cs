namespace Ssm.Kernels.Tests;

/// <summary>The fused single-token step <see cref="SsdScan.Step"/> against the sequential reference, and CPU ≡ ILGPU.</summary>
[Collection("ilgpu")]
public sealed class SsdStepTests
{
    /// <summary>A random sequence [batch, length, …] for the reference and its initial state; Δ ∈ [0.01, 0.6], a ∈ [−2, −0.3].</summary>
    private sealed record Sequence(Tensor X, Tensor Dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor H0)
    {
        public static Sequence Random(int batch, int length, int heads, int p, int groups, int n, bool withD, int seed)
        {
            var rng = new Rng(seed);
            return new Sequence(
                rng.Normal(new[] { batch, length, heads, p }),
                rng.Uniform(new[] { batch, length, heads }, 0.01, 0.6),
                rng.Uniform(new[] { heads }, -2, -0.3),
                rng.Normal(new[] { batch, length, groups, n }),
                rng.Normal(new[] { batch, length, groups, n }),
                withD ? rng.Normal(new[] { heads }) : null,
                rng.Normal(new[] { batch, heads, p, n }));
        }

        public int Batch => X.Size(0);
        public int Length => X.Size(1);

        /// <summary>Token t of a [batch, length, …] tensor as [batch, …].</summary>
        public static Tensor At(Tensor t, int step)
        {
            var shape = t.ShapeArray();
            var rest = shape[2..];
            return Layout.Narrow(t, 1, step, 1).Reshape(new[] { shape[0] }.Concat(rest).ToArray());
        }
    }

    /// <summary>
    /// Steps through the sequence on <paramref name="device"/>; returns every y (as [batch, length, heads, p]), the final
    /// state and, with <paramref name="logDecaySum"/>, the kernel's running Σ_t Δ_t·a_h [batch, heads] (else null).
    /// </summary>
    private static (float[] Y, float[] State, float[]? LogDecaySum) RunSteps(Sequence s, Device device, Func<Tensor, Tensor>? dtInput = null,
        Tensor? dtBias = null, bool logDecaySum = false)
    {
        int batch = s.Batch, L = s.Length, H = s.X.Size(2), P = s.X.Size(3);
        using var state = s.H0.To(device);
        using var logSum = logDecaySum ? Tensor.Zeros(new[] { batch, H }, DType.Float32, device) : null;
        var a = s.A.To(device);
        var D = s.D?.To(device);
        var bias = dtBias?.To(device);
        var ys = new float[s.X.Length];
        for (int t = 0; t < L; t++)
        {
            var dt = Sequence.At(s.Dt, t);
            var y = SsdScan.Step(state, Sequence.At(s.X, t).To(device), (dtInput is null ? dt : dtInput(dt)).To(device), a,
                Sequence.At(s.B, t).To(device), Sequence.At(s.C, t).To(device), D, bias, logSum).ToArray();
            for (int b = 0; b < batch; b++) Array.Copy(y, b * H * P, ys, (b * L + t) * H * P, H * P);
        }
        return (ys, state.ToArray(), logSum?.ToArray());
    }

    /// <summary>Σ_t Δ_t·a_h [batch, heads] of the sequence, in double precision.</summary>
    private static float[] LogDecaySum(Sequence s)
    {
        float[] dt = s.Dt.ToArray(), a = s.A.ToArray();
        int batch = s.Batch, L = s.Length, H = a.Length;
        var sum = new float[batch * H];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < H; h++)
        {
            double acc = 0;
            for (int t = 0; t < L; t++) acc += (double)dt[(b * L + t) * H + h] * a[h];
            sum[b * H + h] = (float)acc;
        }
        return sum;
    }

    [Theory]
    [InlineData(1, 1, 4, 3, 1, 5, true)]
    [InlineData(2, 6, 4, 3, 2, 5, false)]
    [InlineData(2, 5, 4, 3, 4, 8, true)]
    [InlineData(1, 4, 2, 37, 1, 45, true)]   // state 45: the 16-lane, 8-lane and scalar parts of the row update
    [InlineData(3, 3, 6, 16, 3, 64, true)]
    public void StepsMatchTheSequentialReference(int batch, int length, int heads, int p, int groups, int n, bool withD)
    {
        var s = Sequence.Random(batch, length, heads, p, groups, n, withD, seed: 100 * length + n);
        var (yr, finalr) = SsdScan.Reference(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0);
        var (y, final, logSum) = RunSteps(s, Device.Cpu, logDecaySum: length > 1);
        Close.All(yr.ToArray(), y, 1e-4, 1e-5, "y");
        Close.All(finalr.ToArray(), final, 1e-4, 1e-5, "final state");
        if (logSum is not null) Close.All(LogDecaySum(s), logSum, 1e-5, 1e-6, "Σ Δ·a");
    }

    [Fact]
    public void StepEqualsTheChunkedForwardOverOneToken()
    {
        var s = Sequence.Random(2, 1, 4, 5, 2, 9, true, seed: 3);
        var (yf, finalf) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, 1);
        var (y, final, _) = RunSteps(s, Device.Cpu);
        Close.All(yf.ToArray(), y, 1e-5, 1e-6, "y");
        Close.All(finalf.ToArray(), final, 1e-5, 1e-6, "state");
    }

    [Fact]
    public void DtBiasAppliesSoftplusInTheKernel()
    {
        // raw = ln(e^Δ − 1) − bias, so softplus(raw + bias) = Δ: the fused form must equal the plain one.
        var s = Sequence.Random(2, 4, 3, 4, 1, 6, true, seed: 8);
        var bias = new Rng(9).Uniform(new[] { 3 }, -3, 1);
        var biasHost = bias.ToArray();
        Tensor Raw(Tensor dt)
        {
            var v = dt.ToArray();
            for (int i = 0; i < v.Length; i++) v[i] = (float)(Math.Log(Math.Exp(v[i]) - 1) - biasHost[i % 3]);
            return Tensor.From(v, dt.Shape, Device.Cpu);
        }
        var (yr, finalr) = SsdScan.Reference(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0);
        var (y, final, logSum) = RunSteps(s, Device.Cpu, Raw, bias, logDecaySum: true);
        Close.All(yr.ToArray(), y, 1e-4, 1e-5, "y");
        Close.All(finalr.ToArray(), final, 1e-4, 1e-5, "state");
        Close.All(LogDecaySum(s), logSum!, 1e-4, 1e-6, "Σ Δ·a with Δ formed in the kernel");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        // (heads, p, groups, n): state rows shorter and longer than a thread team, several rows per group, groups.
        foreach (var (heads, p, groups, n, withD) in new[] { (4, 3, 2, 5, true), (2, 9, 1, 40, false), (3, 2, 1, 1, true) })
        {
            var s = Sequence.Random(2, 3, heads, p, groups, n, withD, seed: heads * 10 + n);
            var bias = new Rng(4).Uniform(new[] { heads }, -2, 1);
            var cpu = RunSteps(s, Device.Cpu);
            var gpu = RunSteps(s, dev);
            Close.All(cpu.Y, gpu.Y, 1e-5, 1e-6, $"y ({shape}, n {n})");
            Close.All(cpu.State, gpu.State, 1e-5, 1e-6, $"state ({shape}, n {n})");
            var cpuBias = RunSteps(s, Device.Cpu, dtBias: bias, logDecaySum: true);
            var gpuBias = RunSteps(s, dev, dtBias: bias, logDecaySum: true);
            Close.All(cpuBias.Y, gpuBias.Y, 1e-5, 1e-6, $"y with dt bias ({shape}, n {n})");
            Close.All(cpuBias.State, gpuBias.State, 1e-5, 1e-6, $"state with dt bias ({shape}, n {n})");
            Close.All(cpuBias.LogDecaySum!, gpuBias.LogDecaySum!, 1e-5, 1e-6, $"Σ Δ·a ({shape}, n {n})");
        }
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var rng = new Rng(1);
        var state = rng.Normal(new[] { 2, 3, 4, 5 });
        var x = rng.Normal(new[] { 2, 3, 4 });
        var dt = rng.Uniform(new[] { 2, 3 }, 0.1, 0.5);
        var a = rng.Uniform(new[] { 3 }, -1, -0.5);
        var B = rng.Normal(new[] { 2, 1, 5 });
        var C = rng.Normal(new[] { 2, 1, 5 });
        var e = Assert.Throws<ArgumentException>(() => SsdScan.Step(rng.Normal(new[] { 2, 3, 4, 6 }), x, dt, a, B, C, null));
        Assert.Contains("state has shape [2, 3, 4, 6], expected [2, 3, 4, 5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Step(state, x, rng.Normal(new[] { 2, 4 }), a, B, C, null));
        Assert.Contains("dt has shape [2, 4], expected [2, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Step(state, x, dt, a, rng.Normal(new[] { 2, 2, 5 }), rng.Normal(new[] { 2, 2, 5 }), null));
        Assert.Contains("heads (3, dimension 1 of x) must be a multiple of groups (2", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Step(state, x, dt, a, B, rng.Normal(new[] { 2, 1, 4 }), null));
        Assert.Contains("C has shape [2, 1, 4], expected [2, 1, 5]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Step(state, x, dt, a, B, C, null, Tensor.Zeros(new[] { 2 })));
        Assert.Contains("dtBias has shape [2], expected [3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Step(state, x, dt, a, B, C, null, null, Tensor.Zeros(new[] { 3, 2 })));
        Assert.Contains("logDecaySum has shape [3, 2], expected [2, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Step(state, x.Reshape(2, 12), dt, a, B, C, null));
        Assert.Contains("x has shape [2, 12], expected rank 3", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Step(state, x, dt, a, B, C, null, a.To(TestDevices.Get("w4x4"))));
        Assert.Contains("dtBias", e.Message);
    }
}
