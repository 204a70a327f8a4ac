using Ssm.Kernels;

namespace Ssm.Hybrid.Titans;

/// <summary>A list of parameters named <c>0</c>, <c>1</c>, … (like <c>torch.nn.ParameterList</c>).</summary>
public sealed class ParameterSet : Module
{
    private readonly List<Parameter> _items = new();

    /// <summary>Wraps each tensor as a parameter, in order.</summary>
    public ParameterSet(IEnumerable<Tensor> values)
    {
        foreach (var v in values) _items.Add(RegisterParameter(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), new Parameter(v)));
    }

    /// <summary>Number of parameters.</summary>
    public int Count => _items.Count;

    /// <summary>The parameter at <paramref name="index"/>.</summary>
    public Parameter this[int index] => _items[index];
}
