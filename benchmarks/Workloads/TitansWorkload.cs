using Ssm.Hybrid.Titans;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// A Titans neural memory benchmark shape (cases.json's "titans_memory"): per-head MLP memories of <see cref="Depth"/>
/// layers (hidden width head_dim·<see cref="Expansion"/>, head_dim = d_model / heads), updated in chunks of
/// <see cref="Chunk"/> tokens; the library's other defaults (conv width 4, gradient clamp 4, momentum on).
/// </summary>
public sealed record NeuralMemoryShape(int Batch, int Length, int DModel, int Heads, int Depth, int Chunk, int Expansion = 4)
{
    /// <summary>The layer's configuration.</summary>
    public NeuralMemoryConfig Config => new()
    {
        DModel = DModel, Heads = Heads, HeadDim = DModel / Heads, Depth = Depth, Expansion = Expansion, ChunkSize = Chunk,
    };

    /// <summary>Tokens per call.</summary>
    public long Tokens => (long)Batch * Length;

    /// <inheritdoc />
    public override string ToString() => $"L={Length} B={Batch} d={DModel} H={Heads} depth={Depth} chunk={Chunk} E={Expansion}";
}

/// <summary>
/// The neural memory on the CPU over x [batch, length, d_model]: the whole layer (projections, convolutions, gates,
/// the chunked memory scan, output norm and projection) and the memory scan alone (<see cref="NeuralMemoryScan.Run"/>
/// on fixed random q, k, v and gates in their ranges, from the layer's initial weights), each forward (no grad) and
/// forward+backward of a fixed output gradient into the inputs and every parameter. Each call releases its
/// intermediates (a tensor scope) and drops the previous call's gradients first.
/// </summary>
public sealed class NeuralMemoryWorkload : IDisposable
{
    private readonly NeuralMemory _memory;
    private readonly Tensor _x, _grad, _q, _k, _v, _lr, _momentum, _decay, _scanGrad;

    /// <summary>Builds the layer and random inputs on <paramref name="device"/> (default: CPU).</summary>
    public NeuralMemoryWorkload(NeuralMemoryShape shape, Device? device = null)
    {
        var d = device ?? Device.Cpu;
        var rng = new Rng(3);
        var c = shape.Config;
        _memory = new NeuralMemory(c, rng, d);
        _x = rng.Normal(new[] { shape.Batch, shape.Length, shape.DModel }, device: d);
        _grad = rng.Normal(new[] { shape.Batch, shape.Length, shape.DModel }, device: d);
        int rows = shape.Batch * c.Heads;
        // Unit-norm-sized keys and queries (the layer ℓ2-normalizes them), gates in the ranges of the layer's sigmoids.
        double unit = 1 / Math.Sqrt(c.HeadDim);
        _q = rng.Normal(new[] { rows, shape.Length, c.HeadDim }, 0, unit, d);
        _k = rng.Normal(new[] { rows, shape.Length, c.HeadDim }, 0, unit, d);
        _v = rng.Normal(new[] { rows, shape.Length, c.HeadDim }, device: d);
        _lr = rng.Uniform(new[] { rows, shape.Length }, 0, c.MaxLearningRate, d);
        _momentum = rng.Uniform(new[] { rows, shape.Length }, 0.5, 0.9, d);
        _decay = rng.Uniform(new[] { rows, shape.Length }, 0, 0.05, d);
        _scanGrad = rng.Normal(new[] { rows, shape.Length, c.HeadDim }, device: d);
    }

    /// <summary>The layer's forward without autograd.</summary>
    public void LayerForward()
    {
        using var scope = TensorScope.Begin();
        using var noGrad = Autograd.NoGrad();
        _memory.Forward(new Variable(_x));
    }

    /// <summary>The layer's forward, then the backward of the fixed output gradient into x and every parameter.</summary>
    public void LayerForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _memory.ZeroGrad();
        var x = new Variable(_x, requiresGrad: true);
        _memory.Forward(x).Backward(_grad);
        x.ZeroGrad();
    }

    /// <summary>The memory scan alone, without autograd.</summary>
    public void ScanForward()
    {
        using var scope = TensorScope.Begin();
        using var noGrad = Autograd.NoGrad();
        Scan(ScanInputs(requiresGrad: false));
    }

    /// <summary>The memory scan alone, then the backward of a fixed gradient of the retrievals into q, k, v, the gates and the initial weights.</summary>
    public void ScanForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _memory.ZeroGrad();
        var inputs = ScanInputs(requiresGrad: true);
        Scan(inputs).Backward(_scanGrad);
        foreach (var v in inputs) v.ZeroGrad();
    }

    private Variable[] ScanInputs(bool requiresGrad) =>
        new[] { _q, _k, _v, _lr, _momentum, _decay }.Select(t => new Variable(t, requiresGrad)).ToArray();

    private Variable Scan(Variable[] i) =>
        NeuralMemoryScan.Run(_memory.InitialStream(_x.Size(0)).Memory, i[0], i[1], i[2], i[3], i[4], i[5], _memory.Config.ScanOptions).Retrieved;

    /// <inheritdoc />
    public void Dispose()
    {
        _memory.ZeroGrad();
        _memory.Dispose();
        foreach (var t in new[] { _x, _grad, _q, _k, _v, _lr, _momentum, _decay, _scanGrad }) t.Dispose();
    }
}

/// <summary>
/// A Titans language-model benchmark shape (cases.json's "titans_models"): <see cref="TitansConfig.Create"/>'s defaults
/// (attention and memory heads of width d_model / heads, SwiGLU feed-forward, 4 persistent tokens, memory depth 2 with
/// expansion 4) with the given window, MAC segment, memory chunk and vocabulary.
/// </summary>
public sealed record TitansModelShape(TitansVariant Variant, int Batch, int Length, int DModel, int Layers, int Heads,
    int Window, int Segment, int Chunk, int Vocab)
{
    /// <summary>The model's configuration.</summary>
    public TitansConfig Config
    {
        get
        {
            var c = TitansConfig.Create(Variant, DModel, Layers, Vocab, Heads);
            return c with { Window = Window, SegmentLength = Segment, Memory = c.Memory with { ChunkSize = Chunk } };
        }
    }

    /// <summary>Tokens per call.</summary>
    public long Tokens => (long)Batch * Length;

    /// <summary>The model (seed 1) on the CPU with this shape's token ids.</summary>
    public LanguageModelWorkload Workload() => new(new TitansLM(Config, new Rng(1), Device.Cpu), Batch, Length, Vocab);

    /// <inheritdoc />
    public override string ToString() =>
        $"L={Length} B={Batch} d={DModel} layers={Layers} H={Heads} window={Window} segment={Segment} chunk={Chunk} V={Vocab}";
}
