namespace Ssm;

/// <summary>
/// A <see cref="ModuleList{T}"/> whose forward pass chains its modules (each must implement <see cref="IForward"/>),
/// like <c>torch.nn.Sequential</c>; children are named <c>0</c>, <c>1</c>, ….
/// </summary>
public sealed class Sequential : ModuleList<Module>, IForward
{
    /// <summary>A chain of <paramref name="layers"/>, applied in order.</summary>
    public Sequential(params Module[] layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        foreach (var layer in layers) Add(layer);
    }

    /// <summary>Appends a layer; it must implement <see cref="IForward"/>.</summary>
    public override ModuleList<Module> Add(Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (module is not IForward)
            throw new ArgumentException($"Sequential.Add: layer {Count} ({module.GetType().Name}) does not implement IForward (Variable Forward(Variable)).", nameof(module));
        return base.Add(module);
    }

    /// <summary>Applies every layer in order.</summary>
    public Variable Forward(Variable x)
    {
        foreach (var layer in this) x = ((IForward)layer).Forward(x);
        return x;
    }
}
