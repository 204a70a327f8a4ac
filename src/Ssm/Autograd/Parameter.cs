using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// A trainable leaf variable owned by a module. Its tensor lives outside any <see cref="TensorScope"/> (it is detached
/// on construction) and is updated in place by optimizers and checkpoint loading.
/// </summary>
public sealed class Parameter : Variable
{
    /// <summary>Wraps <paramref name="data"/> as a parameter (detached from the current tensor scope).</summary>
    public Parameter(Tensor data, bool requiresGrad = true) : base(data.DetachFromScope(), requiresGrad) { }

    /// <summary>Replaces the value with a copy of <paramref name="value"/> (same shape), in place.</summary>
    public void Set(Tensor value)
    {
        if (!Shapes.Equal(value.Shape, Data.Shape))
            throw new ArgumentException($"Parameter.Set: value has shape {Shapes.Format(value.Shape)}, expected {Shapes.Format(Data.Shape)}.", nameof(value));
        if (value.Device == Data.Device) Data.CopyFrom(value);
        else Data.CopyFromHost<float>(value.ToArray());
    }

    /// <summary>Moves the value to <paramref name="device"/> (gradients are dropped).</summary>
    public void MoveTo(Device device)
    {
        if (device == Data.Device) return;
        var moved = Data.To(device).DetachFromScope();
        Data.Dispose();
        Data = moved;
        ZeroGrad();
    }
}
