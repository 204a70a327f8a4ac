using System.Globalization;
using Ssm.Kernels;

namespace Ssm;

/// <summary>What <see cref="Module.LoadStateDict"/> did not match (empty lists under strict loading).</summary>
/// <param name="Missing">Names the module has but the state dict lacks (left unchanged).</param>
/// <param name="Unexpected">Names in the state dict that the module does not have (ignored).</param>
public sealed record LoadStateDictResult(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected);

/// <summary>
/// A building block with named parameters, buffers and child modules, like <c>torch.nn.Module</c>. Subclasses register
/// them in their constructor (<c>_w = RegisterParameter("weight", new Parameter(...))</c>); names are dotted paths
/// (<c>layers.0.mixer.in_proj.weight</c>) in PyTorch's order — a module's own parameters (then buffers) in registration
/// order, then each child's, recursively — so state dicts interoperate with PyTorch checkpoints. A module shared by two
/// parents (tied weights) is listed once by <see cref="NamedParameters"/> and <see cref="NamedModules"/>, under every
/// name by <see cref="StateDict"/>, as in PyTorch.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<KeyValuePair<string, Parameter>> _parameters = new();
    private readonly List<KeyValuePair<string, ModuleBuffer>> _buffers = new();
    private readonly List<KeyValuePair<string, Module>> _children = new();
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>; changes e.g. dropout.</summary>
    public bool IsTraining { get; private set; } = true;

    // ---- registration ---------------------------------------------------------------------------------------------

    /// <summary>Registers a parameter under <paramref name="name"/> (no dots, unique in this module) and returns it.</summary>
    protected Parameter RegisterParameter(string name, Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        CheckName(name, "RegisterParameter");
        _parameters.Add(new(name, parameter));
        return parameter;
    }

    /// <summary>
    /// Registers a non-trainable tensor (running statistics, fixed matrices, caches) under <paramref name="name"/>: it
    /// moves with <see cref="To"/> and, when <paramref name="persistent"/>, is part of the state dict. The tensor is
    /// detached from the current scope and now belongs to the module.
    /// </summary>
    protected ModuleBuffer RegisterBuffer(string name, Tensor value, bool persistent = true)
    {
        ArgumentNullException.ThrowIfNull(value);
        CheckName(name, "RegisterBuffer");
        var buffer = new ModuleBuffer(value, persistent);
        _buffers.Add(new(name, buffer));
        return buffer;
    }

    /// <summary>Registers a child module under <paramref name="name"/> and returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        ArgumentNullException.ThrowIfNull(module);
        CheckName(name, "RegisterModule");
        foreach (var (_, m) in module.NamedModules())
            if (ReferenceEquals(m, this))
                throw new ArgumentException($"{GetType().Name}.RegisterModule: '{name}' ({module.GetType().Name}) contains this module; modules must form a tree.", nameof(module));
        _children.Add(new(name, module));
        return module;
    }

    private void CheckName(string name, string method)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}.{method}: name '{name}' must be non-empty and contain no '.'.", nameof(name));
        if (!_names.Add(name))
            throw new ArgumentException($"{GetType().Name}.{method}: name '{name}' is already registered in this module.", nameof(name));
    }

    // ---- traversal ------------------------------------------------------------------------------------------------

    /// <summary>This module (name "") and every descendant, pre-order, each module once.</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules()
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(string, Module)>();
        stack.Push(("", this));
        while (stack.Count > 0)
        {
            var (name, m) = stack.Pop();
            if (!seen.Add(m)) continue;
            yield return (name, m);
            for (int i = m._children.Count - 1; i >= 0; i--)
                stack.Push((Join(name, m._children[i].Key), m._children[i].Value));
        }
    }

    /// <summary>This module and every descendant, pre-order.</summary>
    public IEnumerable<Module> Modules() => NamedModules().Select(x => x.Module);

    /// <summary>The direct children with their names, in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => _children.Select(kv => (kv.Key, kv.Value));

    /// <summary>The direct children, in registration order.</summary>
    public IEnumerable<Module> Children() => _children.Select(kv => kv.Value);

    /// <summary>Every parameter once, with its dotted name (e.g. <c>layers.0.mixer.in_proj.weight</c>).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var kv in m._parameters)
                if (seen.Add(kv.Value)) yield return (Join(prefix, kv.Key), kv.Value);
    }

    /// <summary>Every parameter once.</summary>
    public IEnumerable<Parameter> Parameters() => NamedParameters().Select(x => x.Parameter);

    /// <summary>Every buffer once, with its dotted name.</summary>
    public IEnumerable<(string Name, ModuleBuffer Buffer)> NamedBuffers()
    {
        var seen = new HashSet<ModuleBuffer>(ReferenceEqualityComparer.Instance);
        foreach (var (prefix, m) in NamedModules())
            foreach (var kv in m._buffers)
                if (seen.Add(kv.Value)) yield return (Join(prefix, kv.Key), kv.Value);
    }

    /// <summary>Total number of parameter elements.</summary>
    public long ParameterCount() => Parameters().Sum(p => (long)p.Data.Length);

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    // ---- mode, device, gradients ----------------------------------------------------------------------------------

    /// <summary>Sets training mode on this module and every descendant; returns this module.</summary>
    public Module Train(bool training = true)
    {
        foreach (var m in Modules()) m.IsTraining = training;
        return this;
    }

    /// <summary>Sets evaluation mode (<c>Train(false)</c>) on this module and every descendant; returns this module.</summary>
    public Module Eval() => Train(false);

    /// <summary>Moves every parameter and buffer to <paramref name="device"/> (gradients are dropped); returns this module.</summary>
    public Module To(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        foreach (var p in Parameters()) p.MoveTo(device);
        foreach (var (_, b) in NamedBuffers()) b.MoveTo(device);
        return this;
    }

    /// <summary>Drops the gradients of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    // ---- state dict -----------------------------------------------------------------------------------------------

    /// <summary>
    /// Every parameter and persistent buffer value by dotted name, in PyTorch's order (tied tensors under each of their names).
    /// The tensors are the live values, not copies: save them, don't dispose them.
    /// </summary>
    public OrderedDictionary<string, Tensor> StateDict()
    {
        var result = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, v) in StateEntries()) result[name] = v.Data;
        return result;
    }

    /// <summary>
    /// Copies values from <paramref name="state"/> into the parameters and buffers, in place (any device; the values
    /// are copied to each tensor's device). Every problem is reported in one exception: missing and unexpected names
    /// (only when <paramref name="strict"/>), shape and dtype mismatches (always). Nothing is copied when it throws.
    /// A tied tensor counts as present when any one of its names is (checkpoints often store shared weights once).
    /// </summary>
    public LoadStateDictResult LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        ArgumentNullException.ThrowIfNull(state);
        var entries = StateEntries();
        var own = new HashSet<string>(entries.Select(e => e.Name), StringComparer.Ordinal);
        // A tied tensor (one object under several names) is loaded when any of its names is present.
        var loaded = new HashSet<Variable>(entries.Where(e => state.ContainsKey(e.Name)).Select(e => e.Target), ReferenceEqualityComparer.Instance);
        var missing = entries.Where(e => !loaded.Contains(e.Target)).Select(e => e.Name).ToList();
        var unexpected = state.Keys.Where(k => !own.Contains(k)).ToList();
        var problems = new List<string>();
        if (strict && missing.Count > 0) problems.Add($"missing: [{string.Join(", ", missing)}]");
        if (strict && unexpected.Count > 0) problems.Add($"unexpected: [{string.Join(", ", unexpected)}]");
        foreach (var (name, target) in entries)
        {
            if (!state.TryGetValue(name, out var value)) continue;
            if (!Shapes.Equal(value.Shape, target.Shape))
                problems.Add($"shape mismatch: {name} has {Shapes.Format(value.Shape)} in the checkpoint, expected {Shapes.Format(target.Shape)}");
            else if (value.DType != target.Data.DType)
                problems.Add($"dtype mismatch: {name} is {value.DType} in the checkpoint, expected {target.Data.DType}");
        }
        if (problems.Count > 0)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: {string.Join("; ", problems)}.", nameof(state));
        foreach (var (name, target) in entries)
        {
            if (!state.TryGetValue(name, out var value)) continue;
            if (target is Parameter p) p.Set(value);
            else ((ModuleBuffer)target).Set(value);
        }
        return new LoadStateDictResult(missing, unexpected);
    }

    private List<(string Name, Variable Target)> StateEntries()
    {
        var result = new List<(string, Variable)>();
        Collect("", result);
        return result;
    }

    private void Collect(string prefix, List<(string, Variable)> result)
    {
        foreach (var kv in _parameters) result.Add((Join(prefix, kv.Key), kv.Value));
        foreach (var kv in _buffers)
            if (kv.Value.IsPersistent) result.Add((Join(prefix, kv.Key), kv.Value));
        foreach (var kv in _children) kv.Value.Collect(Join(prefix, kv.Key), result);
    }

    /// <summary>Releases the memory of every parameter, gradient and buffer of this module and its descendants.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Releases the parameters, gradients and buffers of the whole tree; override to release other tensors a module
    /// holds (call the base).
    /// </summary>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        foreach (var p in Parameters())
        {
            p.ZeroGrad();
            p.Data.Dispose();
        }
        foreach (var (_, b) in NamedBuffers()) b.Data.Dispose();
    }

    /// <inheritdoc />
    public override string ToString()
        => $"{GetType().Name}({ParameterCount().ToString(CultureInfo.InvariantCulture)} parameters)";
}
