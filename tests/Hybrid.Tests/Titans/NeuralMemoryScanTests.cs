using Ssm.Hybrid.Titans;
using Ssm.Kernels;

namespace Ssm.Hybrid.Tests.Titans;

public sealed class NeuralMemoryScanTests
{
    /// <summary>Random memories and a token stream: rows R, length L, widths dims (d_0 … d_D), state offset.</summary>
    internal sealed class Case
    {
        public required int Rows, Length, Offset;
        public required int[] Dims;
        public required float[][] W, S, G;
        public required float[] Q, K, V, Lr, Momentum, Decay;
        public int Depth => Dims.Length - 1;

        public static Case Make(int rows, int length, int[] dims, int seed, int offset = 0, double lrMax = 0.5)
        {
            var rng = new Rng(seed);
            float[] Normal(int n, double std) { var a = new float[n]; rng.FillNormal(a, 0, std); return a; }
            float[] Uniform(int n, double lo, double hi) { var a = new float[n]; rng.FillUniform(a, lo, hi); return a; }
            int depth = dims.Length - 1;
            var w = Enumerable.Range(0, depth).Select(l => Normal(rows * dims[l] * dims[l + 1], 1 / Math.Sqrt(dims[l]))).ToArray();
            var s = Enumerable.Range(0, depth).Select(l => Normal(rows * dims[l] * dims[l + 1], 0.05)).ToArray();
            var g = offset == 0 ? w.Select(x => (float[])x.Clone()).ToArray()
                : Enumerable.Range(0, depth).Select(l => Normal(rows * dims[l] * dims[l + 1], 1 / Math.Sqrt(dims[l]))).ToArray();
            return new Case
            {
                Rows = rows, Length = length, Offset = offset, Dims = dims, W = w, S = s, G = g,
                Q = Normal(rows * length * dims[0], 0.6), K = Normal(rows * length * dims[0], 0.6), V = Normal(rows * length * dims[^1], 1),
                Lr = Uniform(rows * length, 0.05, lrMax), Momentum = Uniform(rows * length, 0.2, 0.95), Decay = Uniform(rows * length, 0.01, 0.3),
            };
        }

        public MemoryReference Reference(UnaryOp act, double? maxGradNorm) => new()
        {
            Rows = Rows, Depth = Depth, Dims = Dims, Offset = Offset, Activation = act, MaxGradNorm = maxGradNorm,
            W = W.Select(D).ToArray(), S = S.Select(D).ToArray(), G = G.Select(D).ToArray(),
        };

        private static double[] D(float[] a) => a.Select(x => (double)x).ToArray();

        public int[] WShape(int l) => new[] { Rows, Dims[l + 1], Dims[l] };

        /// <summary>All inputs as leaf variables on <paramref name="dev"/>: W…, S…, G…, q, k, v, lr, momentum, decay.</summary>
        public Variable[] Leaves(Device dev, bool requiresGrad)
        {
            var list = new List<Variable>();
            foreach (var set in new[] { W, S, G })
                for (int l = 0; l < Depth; l++) list.Add(new Variable(Tensor.From(set[l], WShape(l), dev), requiresGrad));
            list.Add(new Variable(Tensor.From(Q, new[] { Rows, Length, Dims[0] }, dev), requiresGrad));
            list.Add(new Variable(Tensor.From(K, new[] { Rows, Length, Dims[0] }, dev), requiresGrad));
            list.Add(new Variable(Tensor.From(V, new[] { Rows, Length, Dims[^1] }, dev), requiresGrad));
            foreach (var x in new[] { Lr, Momentum, Decay }) list.Add(new Variable(Tensor.From(x, new[] { Rows, Length }, dev), requiresGrad));
            return list.ToArray();
        }

        /// <summary>Runs <see cref="NeuralMemoryScan.Run"/> on leaves laid out as <see cref="Leaves"/>.</summary>
        public (Variable y, MemoryScanState state) Run(Variable[] v, NeuralMemoryScanOptions options)
        {
            int d = Depth;
            var state = new MemoryScanState(v[..d], v[d..(2 * d)], Offset == 0 ? v[..d] : v[(2 * d)..(3 * d)], Offset);
            return NeuralMemoryScan.Run(state, v[3 * d], v[3 * d + 1], v[3 * d + 2], v[3 * d + 3], v[3 * d + 4], v[3 * d + 5], options);
        }
    }

    private static float[] F32(double[] a) => a.Select(x => (float)x).ToArray();

    private static void AssertMatchesDefinition(Case k, int chunk, UnaryOp act = UnaryOp.Silu, float? maxGradNorm = null, Device? device = null)
    {
        var reference = k.Reference(act, maxGradNorm);
        var yRef = reference.Run(k.Length, chunk, k.Q, k.K, k.V, k.Lr, k.Momentum, k.Decay);
        var (y, state) = k.Run(k.Leaves(device ?? Device.Cpu, false), new NeuralMemoryScanOptions(chunk, act, maxGradNorm));
        string what = $"chunk {chunk}, L {k.Length}, offset {k.Offset}, dims [{string.Join(", ", k.Dims)}]";
        Close.All(F32(yRef), y.Data.ToArray(), 2e-4, 2e-5, what + ": retrieved");
        Assert.Equal(reference.Offset, state.Offset);
        for (int l = 0; l < k.Depth; l++)
        {
            Close.All(F32(reference.W[l]), state.Weights[l].Data.ToArray(), 2e-4, 2e-5, $"{what}: weights {l}");
            Close.All(F32(reference.S[l]), state.Momentum[l].Data.ToArray(), 2e-4, 2e-5, $"{what}: momentum {l}");
            Close.All(F32(reference.G[l]), state.ChunkStart[l].Data.ToArray(), 2e-4, 2e-5, $"{what}: chunk start {l}");
        }
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(3, 3)]
    public void ChunkSizeOneEqualsTheSequentialTokenByTokenUpdate(int depth, int seed)
    {
        var dims = depth switch { 1 => new[] { 4, 4 }, 2 => new[] { 4, 7, 4 }, _ => new[] { 3, 5, 6, 3 } };
        AssertMatchesDefinition(Case.Make(2, 9, dims, seed), chunk: 1);
    }

    public static TheoryData<int, int, int> Chunked => new()
    {
        // length, chunk, state offset
        { 12, 4, 0 },   // whole chunks
        { 11, 4, 0 },   // a partial last chunk
        { 11, 3, 2 },   // the state starts mid-chunk
        { 5, 8, 0 },    // one partial chunk
        { 5, 8, 6 },    // finishes the state's chunk after 2 tokens, then 3 more
        { 13, 13, 0 },  // one chunk of the whole sequence
    };

    [Theory]
    [MemberData(nameof(Chunked))]
    public void LargerChunksEqualTheDefinitionWithGradientsAtChunkStartWeights(int length, int chunk, int offset)
        => AssertMatchesDefinition(Case.Make(3, length, new[] { 4, 8, 4 }, seed: length * 7 + chunk, offset: offset), chunk);

    [Fact]
    public void GeluMemoryAndTheGradientClampEqualTheDefinition()
    {
        AssertMatchesDefinition(Case.Make(2, 10, new[] { 4, 6, 4 }, seed: 11), chunk: 3, act: UnaryOp.Gelu);
        // lrMax 2 and a clamp at 1.5 (the per-token gradient norms here are about 1–8): some tokens are clamped.
        var k = Case.Make(2, 10, new[] { 4, 6, 4 }, seed: 12, lrMax: 2);
        AssertMatchesDefinition(k, chunk: 3, maxGradNorm: 1.5f);
        // The clamp is exercised: without it the final weights differ.
        var clamped = k.Reference(UnaryOp.Silu, 1.5);
        var free = k.Reference(UnaryOp.Silu, null);
        clamped.Run(k.Length, 3, k.Q, k.K, k.V, k.Lr, k.Momentum, k.Decay);
        free.Run(k.Length, 3, k.Q, k.K, k.V, k.Lr, k.Momentum, k.Decay);
        Assert.True(clamped.W[0].Zip(free.W[0], (a, b) => Math.Abs(a - b)).Max() > 1e-2, "the clamp changed nothing");
    }

    /// <summary>
    /// Without a tape (no-grad mode, or no input requiring a gradient) the scan releases each chunk's intermediates and
    /// replaced state as it goes: the same retrievals and final state as with the tape, and the returned state (its
    /// chunk-start weights when it stops mid-chunk) stays usable.
    /// </summary>
    [Theory]
    [InlineData(11, 3, 2)]
    [InlineData(12, 4, 0)]
    [InlineData(10, 4, 0)]
    public void WithoutATapeTheScanMatchesTheRecordedOne(int length, int chunk, int offset)
    {
        var k = Case.Make(2, length, new[] { 4, 8, 4 }, seed: 40 + length, offset: offset);
        var options = new NeuralMemoryScanOptions(chunk, MaxGradNorm: 2f);
        var (y, state) = k.Run(k.Leaves(Device.Cpu, true), options);
        var untracked = k.Run(k.Leaves(Device.Cpu, false), options);
        (Variable, MemoryScanState) noGradRun;
        using (Autograd.NoGrad()) noGradRun = k.Run(k.Leaves(Device.Cpu, true), options);
        foreach (var (yr, sr) in new[] { untracked, noGradRun })
        {
            Close.All(y.Data.ToArray(), yr.Data.ToArray(), 0, 0, "retrieved");
            Assert.Equal(state.Offset, sr.Offset);
            for (int l = 0; l < k.Depth; l++)
            {
                Close.All(state.Weights[l].Data.ToArray(), sr.Weights[l].Data.ToArray(), 0, 0, $"weights {l}");
                Close.All(state.Momentum[l].Data.ToArray(), sr.Momentum[l].Data.ToArray(), 0, 0, $"momentum {l}");
                Close.All(state.ChunkStart[l].Data.ToArray(), sr.ChunkStart[l].Data.ToArray(), 0, 0, $"chunk start {l}");
            }
        }
    }

    [Fact]
    public void GradientsOfEveryInputMatchFiniteDifferences()
    {
        var k = Case.Make(2, 5, new[] { 3, 4, 3 }, seed: 21, offset: 1);
        GradCheck.Assert(v =>
        {
            var (y, s) = k.Run(v, new NeuralMemoryScanOptions(2));
            return F.Concat(new[] { F.Reshape(y, -1), F.Reshape(s.Weights[0], -1), F.Reshape(s.Weights[1], -1), F.Reshape(s.Momentum[1], -1) }, 0);
        }, k.Leaves(Device.Cpu, true), eps: 3e-3, maxElements: 12);
    }

    [Fact]
    public void GradientsThroughTheClampAndGeluMatchFiniteDifferences()
    {
        var k = Case.Make(1, 6, new[] { 3, 4, 3 }, seed: 22, lrMax: 2);
        GradCheck.Assert(v =>
        {
            var (y, s) = k.Run(v, new NeuralMemoryScanOptions(3, UnaryOp.Gelu, MaxGradNorm: 1.5f));
            return F.Concat(new[] { F.Reshape(y, -1), F.Reshape(s.Weights[0], -1) }, 0);
        }, k.Leaves(Device.Cpu, true), eps: 3e-3, maxElements: 12);
    }
}
