using System.Collections;
using System.Globalization;

namespace Ssm;

/// <summary>
/// An indexed list of child modules named <c>0</c>, <c>1</c>, <c>2</c>, … (like <c>torch.nn.ModuleList</c>), so a
/// parent registering it as <c>layers</c> yields names like <c>layers.3.mixer.A_log</c>.
/// </summary>
/// <typeparam name="T">Element type (use <see cref="Module"/> for a mixed list).</typeparam>
public class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = new();

    /// <summary>An empty list.</summary>
    public ModuleList() { }

    /// <summary>A list of <paramref name="modules"/>, in order.</summary>
    public ModuleList(IEnumerable<T> modules)
    {
        ArgumentNullException.ThrowIfNull(modules);
        foreach (var m in modules) Add(m);
    }

    /// <summary>Appends <paramref name="module"/> under the name of its index; returns this list.</summary>
    public virtual ModuleList<T> Add(T module)
    {
        RegisterModule(_items.Count.ToString(CultureInfo.InvariantCulture), module);
        _items.Add(module);
        return this;
    }

    /// <summary>Number of modules.</summary>
    public int Count => _items.Count;

    /// <summary>The module at <paramref name="index"/>.</summary>
    public T this[int index] => _items[index];

    /// <inheritdoc />
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
