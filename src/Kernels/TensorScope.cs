namespace Ssm.Kernels;

/// <summary>
/// Disposes the tensors created while it is the current scope (on this thread), like TorchSharp's DisposeScope:
/// <code>using (var scope = TensorScope.Begin()) { ...; result = scope.MoveToOuter(t); }</code>
/// A tensor leaves the scope through <see cref="MoveToOuter"/>, <see cref="Tensor.MoveToOuterScope"/> or
/// <see cref="Tensor.DetachFromScope"/>. Scopes nest.
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    private readonly List<Tensor> _owned = new();
    private bool _disposed;

    private TensorScope(TensorScope? parent) => Parent = parent;

    /// <summary>The scope that was current when this one began.</summary>
    public TensorScope? Parent { get; }

    /// <summary>The innermost scope on this thread, or null.</summary>
    public static TensorScope? Current => _current;

    /// <summary>Opens a scope; tensors created on this thread until it is disposed belong to it.</summary>
    public static TensorScope Begin() => _current = new TensorScope(_current);

    /// <summary>Number of live tensors this scope will dispose.</summary>
    public int Count => _owned.Count(t => t.Scope == this && !t.IsDisposed);

    internal static void Track(Tensor tensor) => _current?.Adopt(tensor);

    internal void Adopt(Tensor tensor)
    {
        tensor.Scope = this;
        _owned.Add(tensor);
    }

    /// <summary>Moves <paramref name="tensor"/> to the enclosing scope (or out of all scopes) and returns it.</summary>
    public Tensor MoveToOuter(Tensor tensor)
    {
        if (tensor.Scope != this)
            throw new InvalidOperationException("TensorScope.MoveToOuter: the tensor does not belong to this scope.");
        return tensor.MoveToOuterScope();
    }

    /// <summary>Disposes every tensor still owned by this scope and makes the parent scope current again.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_current != this)
            throw new InvalidOperationException("TensorScope.Dispose: scopes must be disposed innermost first on the thread that began them.");
        _current = Parent;
        foreach (var t in _owned)
            if (t.Scope == this) t.Dispose();
        _owned.Clear();
    }
}
