namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class SsdScanTests
{
    /// <summary>Random SSD inputs: Δ ∈ [0.01, 0.6], a ∈ [−2, −0.3] (so Δ·a is a realistic decay).</summary>
    private sealed record Inputs(Tensor X, Tensor Dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? H0)
    {
        public int Heads => X.Size(2);

        public static Inputs Random(int batch, int length, int heads, int p, int groups, int n, bool withD, bool withState,
            int seed, Device? device = null, double dtLo = 0.01, double dtHi = 0.6)
        {
            var rng = new Rng(seed);
            return new Inputs(
                rng.Normal(new[] { batch, length, heads, p }, device: device),
                rng.Uniform(new[] { batch, length, heads }, dtLo, dtHi, device),
                rng.Uniform(new[] { heads }, -2, -0.3, device),
                rng.Normal(new[] { batch, length, groups, n }, device: device),
                rng.Normal(new[] { batch, length, groups, n }, device: device),
                withD ? rng.Normal(new[] { heads }, device: device) : null,
                withState ? rng.Normal(new[] { batch, heads, p, n }, device: device) : null);
        }

        public Inputs To(Device device) => new(X.To(device), Dt.To(device), A.To(device), B.To(device), C.To(device),
            D?.To(device), H0?.To(device));
    }

    public static TheoryData<int, int, int, bool, bool> ForwardCases()
    {
        var data = new TheoryData<int, int, int, bool, bool>();
        foreach (var chunk in new[] { 1, 3, 8, 64 })
        foreach (var length in new[] { 1, 7, 64, 100 })
        foreach (var groups in new[] { 1, 2 })
        foreach (var withState in new[] { false, true })
        foreach (var withD in new[] { false, true })
            data.Add(chunk, length, groups, withState, withD);
        return data;
    }

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void ChunkedForwardMatchesSequentialRecurrence(int chunk, int length, int groups, bool withState, bool withD)
    {
        var s = Inputs.Random(2, length, 4, 3, groups, 5, withD, withState, seed: chunk * 1000 + length + groups);
        var (y, final) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk);
        var (yr, finalr) = SsdScan.Reference(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0);
        Close.All(yr, y, 1e-4, 1e-5, "y");
        Close.All(finalr, final, 1e-4, 1e-5, "final state");
    }

    [Fact]
    public void WideHeadsAndStatesUseTheVectorPathsAndAgree()
    {
        // headdim 37 and state 40 with chunks of 1, 7 and 64 over 100 steps: the small-GEMM products run full 8×32 tiles
        // (operands in place and packed), edge tiles, triangular panels and a short last chunk.
        var s = Inputs.Random(1, 100, 2, 37, 1, 40, true, true, seed: 5);
        var (yr, finalr) = SsdScan.Reference(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0);
        int[] chunks = { 1, 7, 64 };
        foreach (var chunk in chunks)
        {
            var (y, final) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk);
            Close.All(yr, y, 1e-4, 1e-4, $"y (chunk {chunk})");
            Close.All(finalr, final, 1e-4, 1e-4, $"final (chunk {chunk})");
        }
        var dy = new Rng(6).Normal(s.X.Shape);
        var dFinal = new Rng(7).Normal(new[] { 1, 2, 37, 40 });
        var expected = SequentialBackward(s, dy, dFinal);
        foreach (var chunk in chunks)
            AssertGradients(expected, SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk, dy, dFinal), $"chunk {chunk}");
    }

    public static TheoryData<int, int, int> BackwardCases()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var chunk in new[] { 1, 3, 8, 64 })
        foreach (var length in new[] { 7, 100 })
        foreach (var groups in new[] { 1, 2 })
            data.Add(chunk, length, groups);
        return data;
    }

    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void ChunkedBackwardMatchesSequentialAdjoint(int chunk, int length, int groups)
    {
        var s = Inputs.Random(2, length, 4, 3, groups, 5, true, true, seed: 17 + chunk + length);
        var rng = new Rng(99);
        var dy = rng.Normal(s.X.Shape);
        var dFinal = rng.Normal(new[] { 2, 4, 3, 5 });
        var expected = SequentialBackward(s, dy, dFinal);
        AssertGradients(expected, SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk, dy, dFinal), $"chunk {chunk}");
    }

    [Fact]
    public void BackwardWithOnlyOneUpstreamGradientOrNoStateOrD()
    {
        var s = Inputs.Random(1, 20, 2, 3, 1, 4, false, false, seed: 23);
        var dy = new Rng(1).Normal(s.X.Shape);
        var dFinal = new Rng(2).Normal(new[] { 1, 2, 3, 4 });
        var onlyY = SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, null, null, 6, dy, null);
        AssertGradients(SequentialBackward(s, dy, null), onlyY, "dy only");
        Assert.Null(onlyY.DD);
        Assert.Null(onlyY.DInitialState);
        AssertGradients(SequentialBackward(s, null, dFinal), SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, null, null, 6, null, dFinal), "dFinal only");
    }

    [Fact]
    public void EmptySequenceGivesTheInitialStateOnCpuAndIlgpu()
    {
        foreach (var device in new Device[] { Device.Cpu, TestDevices.Get("w4x4") })
        {
            var s = Inputs.Random(2, 0, 2, 3, 1, 4, true, true, seed: 2, device);
            var (y, final) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, 4);
            Assert.Equal(new[] { 2, 0, 2, 3 }, y.ShapeArray());
            Assert.Equal(s.H0!.ToArray(), final.ToArray());
            var dFinal = new Rng(3).Normal(new[] { 2, 2, 3, 4 }, device: device);
            var g = SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, 4, null, dFinal);
            Assert.Equal(dFinal.ToArray(), g.DInitialState!.ToArray());
            Assert.Equal(new[] { 0f, 0f }, g.Da.ToArray());
            Assert.Equal(new[] { 0f, 0f }, g.DD!.ToArray());
        }
    }

    [Fact]
    public void LargeDecaysStayFinite()
    {
        // Δ·a = −50 per step: exp(cum) underflows to 0 within a chunk but nothing overflows.
        var s = Inputs.Random(1, 40, 2, 3, 1, 4, true, true, seed: 31, dtLo: 25, dtHi: 25) with
        {
            A = Tensor.From(new[] { -2f, -2f }, 2),
        };
        var dy = new Rng(3).Normal(s.X.Shape);
        var dFinal = new Rng(4).Normal(new[] { 1, 2, 3, 4 });
        var (yr, finalr) = SsdScan.Reference(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0);
        var expected = SequentialBackward(s, dy, dFinal);
        foreach (var chunk in new[] { 1, 8, 40 })
        {
            var (y, final) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk);
            var g = SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk, dy, dFinal);
            foreach (var t in new[] { y, final, g.Dx, g.Ddt, g.Da, g.DB, g.DC, g.DD!, g.DInitialState! })
                Assert.All(t.ToArray(), v => Assert.True(float.IsFinite(v), $"non-finite value {v} (chunk {chunk})"));
            Close.All(yr, y, 1e-4, 1e-4, $"y (chunk {chunk})");
            Close.All(finalr, final, 1e-4, 1e-4, $"final (chunk {chunk})");
            AssertGradients(expected, g, $"chunk {chunk}");
        }
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var s = Inputs.Random(1, 5, 3, 2, 1, 2, true, true, seed: 1);
        var e = Assert.Throws<ArgumentException>(() =>
            SsdScan.Forward(s.X, s.Dt, s.A, new Rng(1).Normal(new[] { 1, 5, 2, 2 }), new Rng(2).Normal(new[] { 1, 5, 2, 2 }), null, null, 2));
        Assert.Contains("heads (3, dimension 2 of x) must be a multiple of groups (2", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Forward(s.X, new Rng(1).Normal(new[] { 1, 4, 3 }), s.A, s.B, s.C, null, null, 2));
        Assert.Contains("dt has shape [1, 4, 3], expected [1, 5, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Forward(s.X, s.Dt, s.A, s.B, new Rng(1).Normal(new[] { 1, 5, 1, 3 }), null, null, 2));
        Assert.Contains("C has shape [1, 5, 1, 3], expected [1, 5, 1, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, null, new Rng(1).Normal(new[] { 1, 3, 2, 3 }), 2));
        Assert.Contains("initialState has shape [1, 3, 2, 3], expected [1, 3, 2, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Forward(s.X, s.Dt, Tensor.Zeros(new[] { 2 }), s.B, s.C, null, null, 2));
        Assert.Contains("a has shape [2], expected [3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SsdScan.Forward(s.X.Reshape(5, 3, 2), s.Dt, s.A, s.B, s.C, null, null, 2));
        Assert.Contains("x has shape [5, 3, 2], expected rank 4", e.Message);
        Assert.Contains("chunk must be positive, got 0",
            Assert.Throws<ArgumentOutOfRangeException>(() => SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, null, null, 0)).Message);
        e = Assert.Throws<ArgumentException>(() =>
            SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, null, null, 2, Tensor.Zeros(new[] { 1, 5, 3, 3 }), null));
        Assert.Contains("dy has shape [1, 5, 3, 3]", e.Message);
    }

    // ---- ILGPU parity -----------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuForwardAndBackwardMatchCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var (length, chunk, groups) in new[] { (13, 4, 2), (8, 8, 1), (5, 16, 1) })
        {
            var s = Inputs.Random(2, length, 4, 3, groups, 5, true, true, seed: length);
            var dy = new Rng(8).Normal(s.X.Shape);
            var dFinal = new Rng(9).Normal(new[] { 2, 4, 3, 5 });
            var (y, final) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk);
            var g = SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, chunk, dy, dFinal);
            var sg = s.To(dev);
            var (yg, finalg) = SsdScan.Forward(sg.X, sg.Dt, sg.A, sg.B, sg.C, sg.D, sg.H0, chunk);
            Close.All(y, yg, 1e-4, 1e-5, $"y ({shape}, chunk {chunk})");
            Close.All(final, finalg, 1e-4, 1e-5, $"final ({shape}, chunk {chunk})");
            var gg = SsdScan.Backward(sg.X, sg.Dt, sg.A, sg.B, sg.C, sg.D, sg.H0, chunk, dy.To(dev), dFinal.To(dev));
            AssertGradients(Host(g), gg, $"{shape}, chunk {chunk}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuHandlesMissingOptionalInputsAndLargeDecays(string shape)
    {
        var dev = TestDevices.Get(shape);
        var s = Inputs.Random(1, 9, 2, 2, 1, 3, false, false, seed: 4, dtLo: 25, dtHi: 25);
        var dy = new Rng(5).Normal(s.X.Shape);
        var (y, final) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, null, null, 4);
        var g = SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, null, null, 4, dy, null);
        var sg = s.To(dev);
        var (yg, finalg) = SsdScan.Forward(sg.X, sg.Dt, sg.A, sg.B, sg.C, null, null, 4);
        Close.All(y, yg, 1e-4, 1e-5, "y");
        Close.All(final, finalg, 1e-4, 1e-5, "final");
        AssertGradients(Host(g), SsdScan.Backward(sg.X, sg.Dt, sg.A, sg.B, sg.C, null, null, 4, dy.To(dev), null), shape);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuSharedTilesSmallerThanTheChunkGiveTheSameResult(string shape)
    {
        // 56 shared floats: the chunk-state tile holds 4 of 8 rows and the output tile 5 of 8 (headdim 8, state 4).
        var dev = TestDevices.Get(shape);
        var s = Inputs.Random(1, 21, 2, 8, 1, 4, true, true, seed: 12);
        var dy = new Rng(13).Normal(s.X.Shape);
        var dFinal = new Rng(14).Normal(new[] { 1, 2, 8, 4 });
        var (y, final) = SsdScan.Forward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, 8);
        var g = SsdScan.Backward(s.X, s.Dt, s.A, s.B, s.C, s.D, s.H0, 8, dy, dFinal);
        var sg = s.To(dev);
        SsdScanGpu.SharedFloatsLimit = 56;
        try
        {
            var (yg, finalg) = SsdScan.Forward(sg.X, sg.Dt, sg.A, sg.B, sg.C, sg.D, sg.H0, 8);
            Close.All(y, yg, 1e-4, 1e-5, "y");
            Close.All(final, finalg, 1e-4, 1e-5, "final");
            AssertGradients(Host(g), SsdScan.Backward(sg.X, sg.Dt, sg.A, sg.B, sg.C, sg.D, sg.H0, 8, dy.To(dev), dFinal.To(dev)), shape);
            // The backward keeps 5 per-step values of the chunk plus one per thread in shared memory: 5·16 + 16 > 56.
            Assert.Contains("shared memory", Assert.Throws<NotSupportedException>(() =>
                SsdScan.Backward(sg.X, sg.Dt, sg.A, sg.B, sg.C, sg.D, sg.H0, 16, dy.To(dev), null)).Message);
        }
        finally
        {
            SsdScanGpu.SharedFloatsLimit = null;
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    private sealed record Grads(float[] Dx, float[] Ddt, float[] Da, float[] DB, float[] DC, float[]? DD, float[]? DH0);

    private static Grads Host(SsdScanGradients g) => new(g.Dx.ToArray(), g.Ddt.ToArray(), g.Da.ToArray(), g.DB.ToArray(),
        g.DC.ToArray(), g.DD?.ToArray(), g.DInitialState?.ToArray());

    private static void AssertGradients(Grads expected, SsdScanGradients actual, string what)
    {
        Close.All(expected.Dx, actual.Dx.ToArray(), 1e-3, 1e-4, $"dx ({what})");
        Close.All(expected.Ddt, actual.Ddt.ToArray(), 1e-3, 1e-4, $"ddt ({what})");
        Close.All(expected.Da, actual.Da.ToArray(), 1e-3, 1e-4, $"da ({what})");
        Close.All(expected.DB, actual.DB.ToArray(), 1e-3, 1e-4, $"dB ({what})");
        Close.All(expected.DC, actual.DC.ToArray(), 1e-3, 1e-4, $"dC ({what})");
        Assert.Equal(expected.DD is null, actual.DD is null);
        if (expected.DD is not null) Close.All(expected.DD, actual.DD!.ToArray(), 1e-3, 1e-4, $"dD ({what})");
        Assert.Equal(expected.DH0 is null, actual.DInitialState is null);
        if (expected.DH0 is not null) Close.All(expected.DH0, actual.DInitialState!.ToArray(), 1e-3, 1e-4, $"dh0 ({what})");
    }

    /// <summary>The adjoint of the plain recurrence in double precision (reverse time, states stored).</summary>
    private static Grads SequentialBackward(Inputs s, Tensor? dyT, Tensor? dFinalT)
    {
        float[] x = s.X.ToArray(), dt = s.Dt.ToArray(), a = s.A.ToArray(), B = s.B.ToArray(), C = s.C.ToArray();
        float[]? D = s.D?.ToArray(), h0 = s.H0?.ToArray(), dy = dyT?.ToArray(), dF = dFinalT?.ToArray();
        int batch = s.X.Size(0), L = s.X.Size(1), H = s.X.Size(2), P = s.X.Size(3), G = s.B.Size(2), N = s.B.Size(3), hpg = H / G;
        double[] dx = new double[x.Length], ddt = new double[dt.Length], da = new double[H], dB = new double[B.Length],
            dC = new double[C.Length], dD = new double[H], dh0 = new double[batch * H * P * N];
        var states = new double[L + 1, P * N];
        var gs = new double[P * N];
        for (int b = 0; b < batch; b++)
        for (int h = 0; h < H; h++)
        {
            int g = h / hpg, s0 = (b * H + h) * P * N;
            for (int k = 0; k < P * N; k++) states[0, k] = h0 is null ? 0 : h0[s0 + k];
            for (int t = 0; t < L; t++)
            {
                double delta = dt[(b * L + t) * H + h], alpha = Math.Exp(delta * a[h]);
                int xo = ((b * L + t) * H + h) * P, bo = ((b * L + t) * G + g) * N;
                for (int p = 0; p < P; p++)
                for (int n = 0; n < N; n++)
                    states[t + 1, p * N + n] = alpha * states[t, p * N + n] + delta * x[xo + p] * B[bo + n];
            }
            for (int k = 0; k < P * N; k++) gs[k] = dF is null ? 0 : dF[s0 + k];
            for (int t = L - 1; t >= 0; t--)
            {
                int ti = (b * L + t) * H + h, xo = ti * P, bo = ((b * L + t) * G + g) * N;
                double delta = dt[ti], alpha = Math.Exp(delta * a[h]);
                if (dy is not null)
                    for (int p = 0; p < P; p++)
                    {
                        double gyp = dy[xo + p];
                        for (int n = 0; n < N; n++)
                        {
                            gs[p * N + n] += gyp * C[bo + n];
                            dC[bo + n] += gyp * states[t + 1, p * N + n];
                        }
                        dD[h] += gyp * x[xo + p];
                        dx[xo + p] += (D is null ? 0 : D[h]) * gyp;
                    }
                double decayGrad = 0, inputGrad = 0;
                for (int p = 0; p < P; p++)
                for (int n = 0; n < N; n++)
                {
                    double gk = gs[p * N + n];
                    decayGrad += gk * states[t, p * N + n];
                    inputGrad += gk * x[xo + p] * B[bo + n];
                    dx[xo + p] += delta * gk * B[bo + n];
                    dB[bo + n] += delta * gk * x[xo + p];
                }
                ddt[ti] += inputGrad + decayGrad * alpha * a[h];
                da[h] += decayGrad * alpha * delta;
                for (int k = 0; k < P * N; k++) gs[k] *= alpha;
            }
            for (int k = 0; k < P * N; k++) dh0[s0 + k] = gs[k];
        }
        static float[] F(double[] v) => v.Select(e => (float)e).ToArray();
        return new Grads(F(dx), F(ddt), F(da), F(dB), F(dC), D is null ? null : F(dD), h0 is null ? null : F(dh0));
    }
}
