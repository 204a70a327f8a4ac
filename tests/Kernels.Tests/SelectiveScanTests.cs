namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class SelectiveScanTests
{
    /// <summary>Random inputs: Δ ∈ [0.01, 0.5], A = −(1..N)·U[0.5, 1.5] (like Mamba-1's A_log = ln(1..N) init).</summary>
    private sealed record Inputs(Tensor U, Tensor Delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? Z, Tensor? H0)
    {
        public static Inputs Random(int batch, int length, int channels, int state, bool withD, bool withZ, bool withState, int seed)
        {
            var rng = new Rng(seed);
            var a = new float[channels * state];
            for (int i = 0; i < a.Length; i++) a[i] = -(i % state + 1) * (float)rng.Uniform(0.5, 1.5);
            return new Inputs(
                rng.Normal(new[] { batch, length, channels }),
                rng.Uniform(new[] { batch, length, channels }, 0.01, 0.5),
                Tensor.From(a, channels, state),
                rng.Normal(new[] { batch, length, state }),
                rng.Normal(new[] { batch, length, state }),
                withD ? rng.Normal(new[] { channels }) : null,
                withZ ? rng.Normal(new[] { batch, length, channels }) : null,
                withState ? rng.Normal(new[] { batch, channels, state }) : null);
        }

        public Inputs To(Device device) => new(U.To(device), Delta.To(device), A.To(device), B.To(device), C.To(device),
            D?.To(device), Z?.To(device), H0?.To(device));

        public (Tensor, Tensor) Forward() => SelectiveScan.Forward(U, Delta, A, B, C, D, Z, H0);

        public SelectiveScanGradients Backward(Tensor? dy, Tensor? dFinal) => SelectiveScan.Backward(U, Delta, A, B, C, D, Z, H0, dy, dFinal);
    }

    public static TheoryData<int, int, int, bool> Cases()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (var (length, channels, state) in new[] { (1, 1, 1), (7, 8, 4), (70, 13, 16), (130, 20, 3), (70, 75, 3) })
        foreach (var extras in new[] { false, true })
            data.Add(length, channels, state, extras);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardMatchesTheRecurrence(int length, int channels, int state, bool withExtras)
    {
        var s = Inputs.Random(2, length, channels, state, withExtras, withExtras, withExtras, seed: length + channels);
        var (y, final) = s.Forward();
        var (yr, finalr) = SelectiveScan.Reference(s.U, s.Delta, s.A, s.B, s.C, s.D, s.Z, s.H0);
        Close.All(yr, y, 1e-4, 1e-5, "y");
        Close.All(finalr, final, 1e-4, 1e-5, "final state");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardMatchesTheSequentialAdjoint(int length, int channels, int state, bool withExtras)
    {
        var s = Inputs.Random(2, length, channels, state, withExtras, withExtras, withExtras, seed: 3 * length + channels);
        var dy = new Rng(5).Normal(s.U.Shape);
        var dFinal = new Rng(6).Normal(new[] { 2, channels, state });
        AssertGradients(Adjoint(s, dy, dFinal), s.Backward(dy, dFinal), "both");
        AssertGradients(Adjoint(s, dy, null), s.Backward(dy, null), "dy only");
        AssertGradients(Adjoint(s, null, dFinal), s.Backward(null, dFinal), "dFinal only");
    }

    [Fact]
    public void EmptySequenceGivesTheInitialStateOnCpuAndIlgpu()
    {
        var cpu = Inputs.Random(2, 0, 3, 2, true, true, true, seed: 2);
        foreach (var s in new[] { cpu, cpu.To(TestDevices.Get("w4x4")) })
        {
            var (y, final) = s.Forward();
            Assert.Equal(new[] { 2, 0, 3 }, y.ShapeArray());
            Assert.Equal(s.H0!.ToArray(), final.ToArray());
            var dFinal = new Rng(3).Normal(new[] { 2, 3, 2 }, device: s.U.Device);
            var g = s.Backward(null, dFinal);
            Assert.Equal(dFinal.ToArray(), g.DInitialState!.ToArray());
            Assert.All(g.DA.ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void BadInputsGiveClearErrors()
    {
        var s = Inputs.Random(1, 5, 3, 2, true, true, true, seed: 1);
        var e = Assert.Throws<ArgumentException>(() => SelectiveScan.Forward(s.U, s.Delta, Tensor.Zeros(new[] { 4, 2 }), s.B, s.C));
        Assert.Contains("A has shape [4, 2], expected [3, *] [channels, state]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SelectiveScan.Forward(s.U, s.Delta, s.A, Tensor.Zeros(new[] { 1, 5, 3 }), s.C));
        Assert.Contains("B has shape [1, 5, 3], expected [1, 5, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SelectiveScan.Forward(s.U, s.Delta, s.A, s.B, s.C, z: Tensor.Zeros(new[] { 1, 4, 3 })));
        Assert.Contains("z has shape [1, 4, 3]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SelectiveScan.Forward(s.U, s.Delta, s.A, s.B, s.C, initialState: Tensor.Zeros(new[] { 1, 2, 3 })));
        Assert.Contains("initialState has shape [1, 2, 3], expected [1, 3, 2]", e.Message);
        e = Assert.Throws<ArgumentException>(() => SelectiveScan.Forward(s.U.Reshape(15), s.Delta, s.A, s.B, s.C));
        Assert.Contains("u has shape [15], expected rank 3", e.Message);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var (length, channels, state, extras) in new[] { (9, 5, 3, true), (70, 3, 2, true), (4, 19, 4, false) })
        {
            var s = Inputs.Random(2, length, channels, state, extras, extras, extras, seed: length);
            var dy = new Rng(7).Normal(s.U.Shape);
            var dFinal = new Rng(8).Normal(new[] { 2, channels, state });
            var (y, final) = s.Forward();
            var g = s.Backward(dy, extras ? dFinal : null);
            var sg = s.To(dev);
            var (yg, finalg) = sg.Forward();
            Close.All(y, yg, 1e-4, 1e-5, $"y ({shape}, length {length})");
            Close.All(final, finalg, 1e-4, 1e-5, $"final ({shape}, length {length})");
            var gg = sg.Backward(dy.To(dev), extras ? dFinal.To(dev) : null);
            AssertGradients(Host(g), gg, $"{shape}, length {length}");
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------------------

    private sealed record Grads(float[] Du, float[] Ddelta, float[] DA, float[] DB, float[] DC, float[]? DD, float[]? Dz, float[]? DH0);

    private static Grads Host(SelectiveScanGradients g) => new(g.Du.ToArray(), g.Ddelta.ToArray(), g.DA.ToArray(), g.DB.ToArray(),
        g.DC.ToArray(), g.DD?.ToArray(), g.Dz?.ToArray(), g.DInitialState?.ToArray());

    private static void AssertGradients(Grads e, SelectiveScanGradients a, string what)
    {
        Close.All(e.Du, a.Du.ToArray(), 1e-3, 1e-4, $"du ({what})");
        Close.All(e.Ddelta, a.Ddelta.ToArray(), 1e-3, 1e-4, $"ddelta ({what})");
        Close.All(e.DA, a.DA.ToArray(), 1e-3, 1e-4, $"dA ({what})");
        Close.All(e.DB, a.DB.ToArray(), 1e-3, 1e-4, $"dB ({what})");
        Close.All(e.DC, a.DC.ToArray(), 1e-3, 1e-4, $"dC ({what})");
        foreach (var (exp, act, name) in new[] { (e.DD, a.DD, "dD"), (e.Dz, a.Dz, "dz"), (e.DH0, a.DInitialState, "dh0") })
        {
            Assert.Equal(exp is null, act is null);
            if (exp is not null) Close.All(exp, act!.ToArray(), 1e-3, 1e-4, $"{name} ({what})");
        }
    }

    /// <summary>The adjoint of the recurrence in double precision, states stored.</summary>
    private static Grads Adjoint(Inputs s, Tensor? dyT, Tensor? dFinalT)
    {
        float[] u = s.U.ToArray(), dl = s.Delta.ToArray(), A = s.A.ToArray(), B = s.B.ToArray(), C = s.C.ToArray();
        float[]? D = s.D?.ToArray(), z = s.Z?.ToArray(), h0 = s.H0?.ToArray(), dy = dyT?.ToArray(), dF = dFinalT?.ToArray();
        int batch = s.U.Size(0), L = s.U.Size(1), Ch = s.U.Size(2), N = s.A.Size(1);
        double[] du = new double[u.Length], ddl = new double[u.Length], dA = new double[A.Length], dB = new double[B.Length],
            dC = new double[C.Length], dD = new double[Ch], dz = new double[u.Length], dh0 = new double[batch * Ch * N];
        var h = new double[L + 1, N];
        var g = new double[N];
        for (int b = 0; b < batch; b++)
        for (int d = 0; d < Ch; d++)
        {
            int so = (b * Ch + d) * N;
            for (int k = 0; k < N; k++) h[0, k] = h0 is null ? 0 : h0[so + k];
            for (int t = 0; t < L; t++)
            {
                int i = (b * L + t) * Ch + d, bo = (b * L + t) * N;
                for (int k = 0; k < N; k++) h[t + 1, k] = Math.Exp(dl[i] * A[d * N + k]) * h[t, k] + dl[i] * u[i] * B[bo + k];
            }
            for (int k = 0; k < N; k++) g[k] = dF is null ? 0 : dF[so + k];
            for (int t = L - 1; t >= 0; t--)
            {
                int i = (b * L + t) * Ch + d, bo = (b * L + t) * N;
                double dout = dy is null ? 0 : dy[i], yHat = dout;
                if (z is not null)
                {
                    double y = D is null ? 0 : D[d] * (double)u[i], sig = 1 / (1 + Math.Exp(-z[i]));
                    for (int k = 0; k < N; k++) y += C[bo + k] * h[t + 1, k];
                    yHat = dout * z[i] * sig;
                    dz[i] = dout * y * sig * (1 + z[i] * (1 - sig));
                }
                for (int k = 0; k < N; k++)
                {
                    double alpha = Math.Exp(dl[i] * A[d * N + k]);
                    g[k] += yHat * C[bo + k];
                    dC[bo + k] += yHat * h[t + 1, k];
                    dB[bo + k] += g[k] * dl[i] * u[i];
                    du[i] += g[k] * dl[i] * B[bo + k];
                    ddl[i] += g[k] * (u[i] * B[bo + k] + h[t, k] * alpha * A[d * N + k]);
                    dA[d * N + k] += g[k] * h[t, k] * alpha * dl[i];
                    g[k] *= alpha;
                }
                du[i] += (D is null ? 0 : D[d]) * yHat;
                dD[d] += yHat * u[i];
            }
            for (int k = 0; k < N; k++) dh0[so + k] = g[k];
        }
        static float[] F(double[] v) => v.Select(e => (float)e).ToArray();
        return new Grads(F(du), F(ddl), F(dA), F(dB), F(dC), D is null ? null : F(dD), z is null ? null : F(dz), h0 is null ? null : F(dh0));
    }
}
