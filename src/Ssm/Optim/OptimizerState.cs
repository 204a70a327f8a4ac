using Ssm.Kernels;

namespace Ssm.Optim;

/// <summary>
/// An optimizer's state for checkpointing: tensors by name (<c>state.3.exp_avg</c>, torch's per-parameter index and
/// state names) and metadata strings (optimizer type, each group's hyperparameters and parameter indices, each
/// parameter's step count; numbers written to round-trip exactly). Both map directly onto a safetensors file
/// (tensors + <c>__metadata__</c>).
/// </summary>
public sealed class OptimizerState
{
    /// <summary>Wraps tensors and metadata (e.g. read back from a checkpoint).</summary>
    public OptimizerState(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        Tensors = tensors ?? throw new ArgumentNullException(nameof(tensors));
        Metadata = metadata ?? throw new ArgumentNullException(nameof(metadata));
    }

    /// <summary>Per-parameter state tensors. From <see cref="Optimizer.StateDict"/> these are the live tensors, not copies.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <summary>Type, hyperparameters, parameter indices and step counts.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
}
