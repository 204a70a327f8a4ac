namespace Ssm.Kernels.Tests;

[Collection("ilgpu")]
public sealed class Conv1dTests
{
    /// <summary>One conv case: x [B, L, C], weight [C, W], optional bias and initial state [B, C, W], upstream dy.</summary>
    private sealed record Case(int B, int L, int C, int W, bool Silu, float[] X, float[] Weight, float[]? Bias, float[]? State, float[] Dy)
    {
        public int[] XShape => new[] { B, L, C };

        public static Case Make(int b, int l, int c, int w, bool silu, bool bias, bool state = false, int seed = 1)
            => new(b, l, c, w, silu, Data.Normal(b * l * c, seed), Data.Normal(c * w, seed + 1, 0.6),
                bias ? Data.Normal(c, seed + 2, 0.5) : null, state ? Data.Normal(b * c * w, seed + 3) : null,
                Data.Normal(b * l * c, seed + 4));
    }

    // ---- double-precision reference ------------------------------------------------------------------------------

    private static double[] Reference(Case k, double[] x, double[] w, double[]? bias)
    {
        var y = new double[x.Length];
        for (int b = 0; b < k.B; b++)
            for (int t = 0; t < k.L; t++)
                for (int c = 0; c < k.C; c++)
                {
                    double acc = bias?[c] ?? 0;
                    for (int j = 0; j < k.W; j++)
                    {
                        int s = t - (k.W - 1) + j;
                        double v = s >= 0 ? x[(b * k.L + s) * k.C + c] : k.State is null ? 0 : k.State[(b * k.C + c) * k.W + k.W + s];
                        acc += w[c * k.W + j] * v;
                    }
                    y[(b * k.L + t) * k.C + c] = k.Silu ? acc / (1 + Math.Exp(-acc)) : acc;
                }
        return y;
    }

    private static double[] D64(float[] a) => a.Select(v => (double)v).ToArray();
    private static float[] F32(double[] a) => a.Select(v => (float)v).ToArray();

    /// <summary>Gradients of Σ y·dy by central differences of the float64 forward.</summary>
    private static (double[] dx, double[] dw, double[]? db) ReferenceGrads(Case k)
    {
        double[] x = D64(k.X), w = D64(k.Weight), dy = D64(k.Dy);
        double[]? bias = k.Bias is null ? null : D64(k.Bias);
        double Loss() => Reference(k, x, w, bias).Select((v, i) => v * dy[i]).Sum();
        double[] Diff(double[] p) => FiniteDifference.Gradient(p, Loss);
        return (Diff(x), Diff(w), bias is null ? null : Diff(bias));
    }

    // ---- running the op ------------------------------------------------------------------------------------------

    private static (Tensor y, Conv1dGradients grads) Run(Case k, Device dev, bool inputGrad = true, bool weightGrad = true, bool biasGrad = true)
    {
        var x = Tensor.From(k.X, k.XShape, dev);
        var w = Tensor.From(k.Weight, new[] { k.C, k.W }, dev);
        var b = k.Bias is null ? null : Tensor.From(k.Bias, new[] { k.C }, dev);
        var s = k.State is null ? null : Tensor.From(k.State, new[] { k.B, k.C, k.W }, dev);
        var y = Conv1d.Forward(x, w, b, k.Silu, s);
        var g = Conv1d.Backward(Tensor.From(k.Dy, k.XShape, dev), x, w, b, k.Silu, s, inputGrad, weightGrad, biasGrad);
        return (y, g);
    }

    public static TheoryData<int, int, int, int, bool, bool, bool> Cases => new()
    {
        // B, L, C, W, silu, bias, initial state
        { 2, 9, 5, 4, true, true, false },
        { 2, 9, 5, 4, false, true, false },
        { 1, 7, 3, 1, false, true, false },
        { 2, 3, 4, 5, true, false, false },   // kernel wider than the sequence
        { 1, 6, 7, 3, true, true, true },
        { 3, 2, 2, 4, false, false, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CpuMatchesDoublePrecisionReference(int b, int l, int c, int w, bool silu, bool bias, bool state)
    {
        var k = Case.Make(b, l, c, w, silu, bias, state);
        var (y, g) = Run(k, Device.Cpu);
        Close.All(F32(Reference(k, D64(k.X), D64(k.Weight), k.Bias is null ? null : D64(k.Bias))), y.ToArray(), 1e-5, 1e-5, "y");
        var (dx, dw, db) = ReferenceGrads(k);
        Close.All(F32(dx), g.Dx!.ToArray(), 1e-4, 1e-5, "dx");
        Close.All(F32(dw), g.Dweight!.ToArray(), 1e-4, 1e-5, "dweight");
        Assert.Equal(new[] { c, w }, g.Dweight!.ShapeArray());
        if (db is not null) Close.All(F32(db), g.Dbias!.ToArray(), 1e-4, 1e-5, "dbias");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void IlgpuMatchesCpu(string shape)
    {
        var dev = TestDevices.Get(shape);
        foreach (var k in new[]
        {
            Case.Make(3, 11, 6, 4, true, true, seed: 5),     // 33 rows: several row blocks for the weight gradient
            Case.Make(2, 5, 3, 2, false, false, seed: 6),
            Case.Make(1, 4, 5, 3, true, true, state: true, seed: 7),
            Case.Make(2, 2, 3, 4, false, true, state: true, seed: 8),
        })
        {
            var (cy, cg) = Run(k, Device.Cpu);
            var (gy, gg) = Run(k, dev);
            string what = $"B{k.B} L{k.L} C{k.C} W{k.W}";
            Close.All(cy, gy, 1e-5, 1e-6, what + " y");
            Close.All(cg.Dx!, gg.Dx!, 1e-5, 1e-6, what + " dx");
            Close.All(cg.Dweight!, gg.Dweight!, 1e-5, 1e-5, what + " dweight");
            Close.All(cg.Dbias!, gg.Dbias!, 1e-5, 1e-5, what + " dbias");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Shapes), MemberType = typeof(TestDevices))]
    public void BackwardComputesOnlyTheRequestedGradients(string shape)
    {
        var k = Case.Make(2, 6, 3, 4, true, true, seed: 9);
        foreach (var dev in new Device[] { Device.Cpu, TestDevices.Get(shape) })
        {
            var (_, all) = Run(k, dev);
            var (_, paramsOnly) = Run(k, dev, inputGrad: false);
            Assert.Null(paramsOnly.Dx);
            Close.All(all.Dweight!, paramsOnly.Dweight!, 0, 0, $"{dev} dweight");
            Close.All(all.Dbias!, paramsOnly.Dbias!, 0, 0, $"{dev} dbias");
            var (_, biasOnly) = Run(k, dev, inputGrad: false, weightGrad: false);
            Assert.Null(biasOnly.Dweight);
            Close.All(all.Dbias!, biasOnly.Dbias!, 0, 0, $"{dev} dbias alone");
            var (_, inputOnly) = Run(k, dev, weightGrad: false, biasGrad: false);
            Assert.Null(inputOnly.Dweight);
            Assert.Null(inputOnly.Dbias);
            Close.All(all.Dx!, inputOnly.Dx!, 0, 0, $"{dev} dx");
        }
    }

    /// <summary>x[:, t, :] as a [B, C] tensor.</summary>
    private static Tensor StepInput(Case k, int t, Device dev)
    {
        var xt = new float[k.B * k.C];
        for (int b = 0; b < k.B; b++)
            Array.Copy(k.X, (b * k.L + t) * k.C, xt, b * k.C, k.C);
        return Tensor.From(xt, new[] { k.B, k.C }, dev);
    }

    /// <summary>y[:, t, :] of a [B, L, C] host array.</summary>
    private static float[] At(float[] y, Case k, int t)
    {
        var r = new float[k.B * k.C];
        for (int b = 0; b < k.B; b++)
            Array.Copy(y, (b * k.L + t) * k.C, r, b * k.C, k.C);
        return r;
    }

    public static TheoryData<string> AllDevices => new() { "cpu", "w4x4", "w2x8" };

    private static Device Get(string name) => name == "cpu" ? Device.Cpu : TestDevices.Get(name);

    /// <summary>Every device with kernel widths 1, 4 (the CPU's short-width loop) and 12 (its span/dot path).</summary>
    public static TheoryData<string, int> DevicesAndWidths()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in new[] { "cpu", "w4x4", "w2x8" })
        foreach (var width in new[] { 1, 4, 12 })
            data.Add(device, width);
        return data;
    }

    [Theory]
    [MemberData(nameof(DevicesAndWidths))]
    public void StepsFromAZeroStateEqualTheFullConvolution(string device, int width)
    {
        var dev = Get(device);
        var k = Case.Make(2, 7, 5, width, true, true, seed: 11);
        var w = Tensor.From(k.Weight, new[] { k.C, k.W }, dev);
        var bias = Tensor.From(k.Bias!, new[] { k.C }, dev);
        var full = Conv1d.Forward(Tensor.From(k.X, k.XShape, dev), w, bias, silu: true).ToArray();
        var state = Tensor.Zeros(new[] { k.B, k.C, k.W }, device: dev);
        for (int t = 0; t < k.L; t++)
        {
            var yt = Conv1d.Step(state, StepInput(k, t, dev), w, bias, silu: true);
            Assert.Equal(new[] { k.B, k.C }, yt.ShapeArray());
            Close.All(At(full, k, t), yt.ToArray(), 1e-5, 1e-6, $"step {t}");
        }
        // After the whole sequence the state is its last W inputs.
        Close.All(Conv1d.StateFromPrefix(Tensor.From(k.X, k.XShape, dev), k.W), state, 0, 0, "final state");
    }

    [Theory]
    [MemberData(nameof(AllDevices))]
    public void StateFromAPrefixContinuesTheConvolution(string device)
    {
        var dev = Get(device);
        var k = Case.Make(2, 9, 3, 4, false, true, seed: 12);
        var w = Tensor.From(k.Weight, new[] { k.C, k.W }, dev);
        var bias = Tensor.From(k.Bias!, new[] { k.C }, dev);
        var x = Tensor.From(k.X, k.XShape, dev);
        var full = Conv1d.Forward(x, w, bias).ToArray();
        foreach (int prefix in new[] { 2, 5 }) // shorter and longer than W
        {
            var head = Tensor.From(Rows(k, 0, prefix), new[] { k.B, prefix, k.C }, dev);
            var state = Conv1d.StateFromPrefix(head, k.W);
            Assert.Equal(new[] { k.B, k.C, k.W }, state.ShapeArray());
            // Chunked prefill: the rest as one chunk from the state, then its final state.
            var tail = Tensor.From(Rows(k, prefix, k.L - prefix), new[] { k.B, k.L - prefix, k.C }, dev);
            var rest = Conv1d.Forward(tail, w, bias, initialState: state).ToArray();
            for (int t = prefix; t < k.L; t++)
            {
                var expected = At(full, k, t);
                var chunk = new float[k.B * k.C];
                for (int b = 0; b < k.B; b++)
                    Array.Copy(rest, (b * (k.L - prefix) + t - prefix) * k.C, chunk, b * k.C, k.C);
                Close.All(expected, chunk, 1e-5, 1e-6, $"prefix {prefix}: chunked at {t}");
            }
            Close.All(Conv1d.StateFromPrefix(x, k.W), Conv1d.StateFromPrefix(tail, k.W, state), 0, 0, $"prefix {prefix}: state after both chunks");
            // Recurrent steps from the prefix state.
            for (int t = prefix; t < k.L; t++)
                Close.All(At(full, k, t), Conv1d.Step(state, StepInput(k, t, dev), w, bias).ToArray(), 1e-5, 1e-6, $"prefix {prefix}: step {t}");
        }
    }

    /// <summary>x[:, start:start+count, :] as a host array [B, count, C].</summary>
    private static float[] Rows(Case k, int start, int count)
    {
        var r = new float[k.B * count * k.C];
        for (int b = 0; b < k.B; b++)
            Array.Copy(k.X, (b * k.L + start) * k.C, r, b * count * k.C, count * k.C);
        return r;
    }

    [Fact]
    public void StateOfAShortPrefixIsLeftPaddedWithZeros()
    {
        var x = Tensor.From(new[] { 1f, 2f, 3f, 4f }, 1, 2, 2); // B 1, L 2, C 2
        var state = Conv1d.StateFromPrefix(x, 3).ToArray();
        Assert.Equal(new[] { 0f, 1f, 3f, 0f, 2f, 4f }, state); // [B, C, W], oldest first
    }

    [Fact]
    public void BadArgumentsThrowNamingTheArgument()
    {
        var x = Tensor.Zeros(new[] { 2, 5, 3 });
        var w = Tensor.Zeros(new[] { 3, 4 });
        var e = Assert.Throws<ArgumentException>(() => Conv1d.Forward(x, Tensor.Zeros(new[] { 4, 4 })));
        Assert.Equal("weight", e.ParamName);
        Assert.Contains("[4, 4]", e.Message);
        var narrow = Assert.Throws<ArgumentException>(() => Conv1d.Forward(x, Tensor.Zeros(new[] { 3, 0 })));
        Assert.Equal("weight", narrow.ParamName);
        Assert.Contains("W ≥ 1", narrow.Message);
        Assert.Equal("weight", Assert.Throws<ArgumentException>(() => Conv1d.Forward(x, Tensor.Zeros(new[] { 3, 1, 4 }))).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => Conv1d.Forward(x, w, Tensor.Zeros(new[] { 4 }))).ParamName);
        Assert.Equal("x", Assert.Throws<ArgumentException>(() => Conv1d.Forward(Tensor.Zeros(new[] { 5, 3 }), w)).ParamName);
        Assert.Equal("initialState", Assert.Throws<ArgumentException>(() => Conv1d.Forward(x, w, initialState: Tensor.Zeros(new[] { 2, 3, 3 }))).ParamName);
        Assert.Equal("dy", Assert.Throws<ArgumentException>(() => Conv1d.Backward(Tensor.Zeros(new[] { 2, 4, 3 }), x, w)).ParamName);
        Assert.Equal("convState", Assert.Throws<ArgumentException>(() => Conv1d.Step(Tensor.Zeros(new[] { 2, 3, 3 }), Tensor.Zeros(new[] { 2, 3 }), w)).ParamName);
        Assert.Equal("weight", Assert.Throws<ArgumentException>(() => Conv1d.Step(Tensor.Zeros(new[] { 2, 3, 4 }), Tensor.Zeros(new[] { 2, 2 }), w)).ParamName);
        Assert.Equal("xt", Assert.Throws<ArgumentException>(() => Conv1d.Step(Tensor.Zeros(new[] { 2, 3, 4 }), Tensor.Zeros(new[] { 2, 1, 3 }), w)).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => Conv1d.StateFromPrefix(x, 0)).ParamName);
        Assert.Equal("weight", Assert.Throws<ArgumentException>(() => Conv1d.Forward(x, w.To(TestDevices.Get("w4x4")))).ParamName);
    }
}
