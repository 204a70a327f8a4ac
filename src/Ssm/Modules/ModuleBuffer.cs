using Ssm.Kernels;

namespace Ssm;

/// <summary>
/// A non-trainable tensor of a <see cref="Module"/> (see <c>RegisterBuffer</c>): saved in the state dict when persistent,
/// moved by <see cref="Module.To"/>, never updated by optimizers. Being a <see cref="Variable"/> (without gradient), it can
/// be used directly in <see cref="F"/> ops.
/// </summary>
public sealed class ModuleBuffer : Variable
{
    internal ModuleBuffer(Tensor data, bool persistent) : base(data.DetachFromScope()) => IsPersistent = persistent;

    /// <summary>True when the buffer is saved in the module's state dict.</summary>
    public bool IsPersistent { get; }

    /// <summary>Replaces the value with a copy of <paramref name="value"/> (same shape and dtype, any device), in place.</summary>
    public void Set(Tensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (!Shapes.Equal(value.Shape, Data.Shape))
            throw new ArgumentException($"ModuleBuffer.Set: value has shape {Shapes.Format(value.Shape)}, expected {Shapes.Format(Data.Shape)}.", nameof(value));
        Guard.DType("ModuleBuffer.Set", value, "value", Data.DType);
        if (value.Device == Data.Device) Data.CopyFrom(value);
        else
        {
            using var moved = value.To(Data.Device);
            Data.CopyFrom(moved);
        }
    }

    /// <summary>Moves the value to <paramref name="device"/>.</summary>
    public void MoveTo(Device device)
    {
        if (device == Data.Device) return;
        var moved = Data.To(device).DetachFromScope();
        Data.Dispose();
        Data = moved;
    }
}
