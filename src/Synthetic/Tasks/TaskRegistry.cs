namespace Ssm.Synthetic.Tasks;

/// <summary>The token tasks by name, with their default options (regression is real-valued: <see cref="LinearRegressionTask"/>).</summary>
public static class TaskRegistry
{
    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = new[] { "passkey", "passkey-tokens", "icll", "mqar", "listops" };

    /// <summary>The task named <paramref name="name"/> with default options.</summary>
    public static ISequenceTask Create(string name) => name switch
    {
        "passkey" => new PasskeyTextTask(),
        "passkey-tokens" => new PasskeyTokenTask(),
        "icll" => new IcllTask(),
        "mqar" => new MqarTask(),
        "listops" => new ListOpsTask(),
        _ => throw new ArgumentException($"TaskRegistry: unknown task '{name}'; known: {string.Join(", ", Names)} (and 'regression', which has its own batch type).", nameof(name)),
    };
}
