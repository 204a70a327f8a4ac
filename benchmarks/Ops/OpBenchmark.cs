using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Ssm.Kernels;

namespace Ssm.Benchmarks;

/// <summary>
/// Shared setup of the kernel-family benchmarks (one class per folder of src/Kernels/Ops): seeded random inputs that
/// are disposed at cleanup, the choice between full and smoke shapes, and the helpers their throughput columns use.
/// Each timed call runs in a <see cref="TensorScope"/>, so its outputs go back to the pool.
/// </summary>
[MemoryDiagnoser]
public abstract class OpBenchmark
{
    private readonly List<Tensor> _inputs = new();
    private readonly Rng _rng = new(1);

    /// <summary><paramref name="smoke"/> in <c>--smoke</c> mode, else <paramref name="full"/>.</summary>
    protected static T[] Pick<T>(T[] smoke, T[] full) => Program.Smoke ? smoke : full;

    /// <summary>An input of standard normal values, disposed at cleanup.</summary>
    protected Tensor Normal(params int[] shape) => Keep(_rng.Normal(shape));

    /// <summary>An input of uniform values in [lo, hi), disposed at cleanup.</summary>
    protected Tensor Uniform(double lo, double hi, params int[] shape) => Keep(_rng.Uniform(shape, lo, hi));

    /// <summary>Int32 ids uniform in [0, n), disposed at cleanup.</summary>
    protected Tensor Ids(int n, params int[] shape)
    {
        var ids = new int[Shapes.Numel(shape)];
        for (int i = 0; i < ids.Length; i++) ids[i] = _rng.Next(n);
        return Keep(Tensor.From(ids, shape));
    }

    /// <summary>Disposes <paramref name="t"/> at cleanup.</summary>
    protected Tensor Keep(Tensor t)
    {
        _inputs.Add(t.DetachFromScope());
        return t;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in _inputs) t.Dispose();
        _inputs.Clear();
    }

    /// <summary>The benchmark method of a case.</summary>
    protected static string Method(BenchmarkCase c) => c.Descriptor.WorkloadMethod.Name;

    /// <summary>The value of a parameter of a case.</summary>
    protected static T Param<T>(BenchmarkCase c, string name) => ThroughputColumn.Param<T>(c, name);

    /// <summary>Bytes of <paramref name="floats"/> float32 values.</summary>
    protected static double Floats(double floats) => 4.0 * floats;
}

/// <summary>Rows of a [rows, width] input (reductions, norms, softmax, cross-entropy, FFT rows).</summary>
public sealed record RowsShape(int Rows, int Width)
{
    /// <summary>rows × width.</summary>
    public double Elements => (double)Rows * Width;

    public override string ToString() => $"{Rows}x{Width}";
}

/// <summary>A batch of sequences [batch, length, channels] (or [batch, channels, length] for channel-first ops).</summary>
public sealed record SequenceShape(int Batch, int Length, int Channels)
{
    /// <summary>batch × length × channels.</summary>
    public double Elements => (double)Batch * Length * Channels;

    /// <summary>batch × length.</summary>
    public double Tokens => (double)Batch * Length;

    public override string ToString() => $"B{Batch} L{Length} C{Channels}";
}

/// <summary>S4-style kernel sizes: channels H, stored complex modes N2 (= d_state/2) and the sequence length L (0: none).</summary>
public sealed record S4KernelShape(int Channels, int Modes, int Length)
{
    /// <summary>H × N2.</summary>
    public double ModeCount => (double)Channels * Modes;

    public override string ToString() => Length > 0 ? $"H{Channels} N2={Modes} L{Length}" : $"H{Channels} N2={Modes}";
}

/// <summary>Token rows over a vocabulary: embedding lookups (width = embedding dim) and cross-entropy logits.</summary>
public sealed record VocabShape(int Tokens, int Vocab, int Dim)
{
    public override string ToString() => Dim > 0 ? $"T{Tokens} V{Vocab} D{Dim}" : $"T{Tokens} V{Vocab}";
}
