using Ssm.Kernels;
using Ssm.Mamba;

namespace Ssm.Benchmarks;

/// <summary>A Mamba-2 layer benchmark shape (expand 2, d_conv 4, one group), as in cases.json's "mamba2".</summary>
public sealed record Mamba2Shape(int Batch, int Length, int DModel, int DState, int HeadDim = 64, int Chunk = 64)
{
    /// <summary>The layer's configuration.</summary>
    public Mamba2Config Config => new() { DModel = DModel, DState = DState, HeadDim = HeadDim, ChunkSize = Chunk };

    /// <summary>Tokens per call.</summary>
    public long Tokens => (long)Batch * Length;

    /// <inheritdoc />
    public override string ToString() => $"B{Batch} L{Length} d{DModel} N{DState} P{HeadDim} Q{Chunk}";
}

/// <summary>
/// A Mamba-2 layer on the CPU with an input u [batch, length, d_model] and a fixed output gradient: the forward (no
/// grad) and the forward+backward (input and all parameters require gradients) that the benchmarks time. Each call
/// releases its intermediates (a tensor scope) and drops the previous call's gradients first, like PyTorch's
/// zero_grad(set_to_none=True).
/// </summary>
public sealed class Mamba2Workload : IDisposable
{
    private readonly Mamba2 _layer;
    private readonly Tensor _u, _grad;

    /// <summary>Builds the layer (mamba_ssm's initialization) and random inputs on <paramref name="device"/> (default: CPU).</summary>
    public Mamba2Workload(Mamba2Shape shape, Device? device = null)
    {
        var rng = new Rng(5);
        var d = device ?? Device.Cpu;
        _layer = new Mamba2(shape.Config, rng, d);
        _u = rng.Normal(new[] { shape.Batch, shape.Length, shape.DModel }, device: d);
        _grad = rng.Normal(new[] { shape.Batch, shape.Length, shape.DModel }, device: d);
    }

    /// <summary>The parallel (chunked) forward without autograd.</summary>
    public void Forward()
    {
        using var scope = TensorScope.Begin();
        using var noGrad = Autograd.NoGrad();
        _layer.Forward(new Variable(_u));
    }

    /// <summary>Forward, then backward of the fixed output gradient into u and every parameter.</summary>
    public void ForwardBackward()
    {
        using var scope = TensorScope.Begin();
        _layer.ZeroGrad();
        var u = new Variable(_u, requiresGrad: true);
        _layer.Forward(u).Backward(_grad);
        u.ZeroGrad();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _layer.ZeroGrad();
        _layer.Dispose();
        _u.Dispose();
        _grad.Dispose();
    }
}

/// <summary>A recurrent-decoding benchmark shape (cases.json's "mamba2_step"): <see cref="Steps"/> tokens per call.</summary>
public sealed record Mamba2StepShape(int Batch, int DModel, int DState, int HeadDim = 64, int Steps = 32)
{
    /// <summary>The layer's configuration.</summary>
    public Mamba2Config Config => new() { DModel = DModel, DState = DState, HeadDim = HeadDim };

    /// <inheritdoc />
    public override string ToString() => $"B{Batch} d{DModel} N{DState} P{HeadDim}";
}

/// <summary>A Mamba-2 layer decoding token by token with <see cref="Mamba2.Step"/> from a carried state.</summary>
public sealed class Mamba2StepWorkload : IDisposable
{
    private readonly Mamba2 _layer;
    private readonly Mamba2State _state;
    private readonly Tensor[] _inputs;

    /// <summary>Builds the layer, a zero state and one random input [batch, d_model] per step on <paramref name="device"/> (default: CPU).</summary>
    public Mamba2StepWorkload(Mamba2StepShape shape, Device? device = null)
    {
        var rng = new Rng(6);
        var d = device ?? Device.Cpu;
        _layer = new Mamba2(shape.Config, rng, d);
        _state = _layer.AllocateState(shape.Batch);
        _inputs = Enumerable.Range(0, shape.Steps).Select(_ => rng.Normal(new[] { shape.Batch, shape.DModel }, device: d)).ToArray();
    }

    /// <summary>Steps = tokens per sequence of one call.</summary>
    public int Steps => _inputs.Length;

    /// <summary>Runs every step once (the state keeps advancing across calls).</summary>
    public void Decode()
    {
        foreach (var x in _inputs)
        {
            using var scope = TensorScope.Begin();
            _layer.Step(_state, x);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _layer.Dispose();
        _state.Dispose();
        foreach (var x in _inputs) x.Dispose();
    }
}
