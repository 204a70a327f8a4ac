namespace Ssm.Optim;

/// <summary>Builds parameter groups from parameter names (e.g. no weight decay and an own learning rate for SSM parameters).</summary>
public static class ParamGroups
{
    /// <summary>
    /// Splits named parameters (e.g. <c>module.NamedParameters()</c>) into two groups: first the rest (named
    /// <paramref name="restName"/>, optimizer defaults), then those whose name satisfies <paramref name="predicate"/>
    /// (named <paramref name="name"/>, with <paramref name="lr"/> and <paramref name="weightDecay"/> when given). Both
    /// groups are returned even when one is empty, so indices stay stable.
    /// </summary>
    public static IReadOnlyList<ParamGroup> Split(IEnumerable<(string Name, Parameter Parameter)> namedParameters,
        Func<string, bool> predicate, double? lr = null, double? weightDecay = null, string name = "matched", string restName = "default")
    {
        ArgumentNullException.ThrowIfNull(namedParameters);
        ArgumentNullException.ThrowIfNull(predicate);
        var all = namedParameters.ToList();
        var matched = new ParamGroup(all.Where(x => predicate(x.Name)).Select(x => x.Parameter), name);
        if (lr is double l) matched.Lr = l;
        if (weightDecay is double wd) matched.WeightDecay = wd;
        var rest = new ParamGroup(all.Where(x => !predicate(x.Name)).Select(x => x.Parameter), restName);
        return new[] { rest, matched };
    }

    /// <summary>
    /// A predicate true for dotted names whose last component is one of <paramref name="names"/>, e.g.
    /// <c>LastNameIn("A_log", "D", "dt_bias")</c> matches <c>layers.0.mixer.A_log</c> but not <c>layers.0.mixer.Dx</c>.
    /// </summary>
    public static Func<string, bool> LastNameIn(params string[] names)
    {
        var set = new HashSet<string>(names, StringComparer.Ordinal);
        return n => set.Contains(n[(n.LastIndexOf('.') + 1)..]);
    }
}
