using System.Globalization;

namespace Ssm.Optim;

/// <summary>A learning-rate schedule: the multiplier of each group's base learning rate at a step (0, 1, 2, …).</summary>
public interface ILrSchedule
{
    /// <summary>The factor applied to the base learning rate at <paramref name="step"/>.</summary>
    double Multiplier(int step);
}

/// <summary>
/// Applies an <see cref="ILrSchedule"/> to an optimizer, like torch's <c>LambdaLR</c>: at construction it records each
/// group's current lr as its base lr and sets lr = base·Multiplier(0); each <see cref="Step"/> (call it after
/// <see cref="Optimizer.Step"/>) advances the step and sets lr = base·Multiplier(step).
/// </summary>
public sealed class LrScheduler
{
    private readonly Optimizer _optimizer;
    private readonly ILrSchedule _schedule;
    private readonly double[] _baseLrs;

    /// <summary>Schedules <paramref name="optimizer"/>'s learning rates with <paramref name="schedule"/>.</summary>
    public LrScheduler(Optimizer optimizer, ILrSchedule schedule)
    {
        _optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        _schedule = schedule ?? throw new ArgumentNullException(nameof(schedule));
        _baseLrs = optimizer.Groups.Select(g => g.Lr).ToArray();
        Apply();
    }

    /// <summary>The current step (0 until the first <see cref="Step"/>).</summary>
    public int LastStep { get; private set; }

    /// <summary>Each group's base learning rate.</summary>
    public IReadOnlyList<double> BaseLrs => _baseLrs;

    /// <summary>The multiplier in effect now.</summary>
    public double Multiplier => _schedule.Multiplier(LastStep);

    /// <summary>Advances one step and updates every group's learning rate.</summary>
    public void Step()
    {
        LastStep++;
        Apply();
    }

    /// <summary>The step and base learning rates, as strings (for a checkpoint's metadata).</summary>
    public IReadOnlyDictionary<string, string> StateDict() => new Dictionary<string, string>
    {
        ["last_step"] = LastStep.ToString(CultureInfo.InvariantCulture),
        ["base_lrs"] = string.Join(",", _baseLrs.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
    };

    /// <summary>Restores <see cref="StateDict"/> and re-applies the learning rates of that step.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, string> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        const string op = "LrScheduler.LoadStateDict";
        if (!state.TryGetValue("last_step", out var stepText) || !int.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out var step))
            throw new ArgumentException($"{op}: last_step is '{stepText ?? "missing"}', expected a non-negative integer.", nameof(state));
        var parts = state.TryGetValue("base_lrs", out var lrText) ? lrText.Split(',') : Array.Empty<string>();
        var lrs = new double[parts.Length];
        bool ok = parts.Length == _baseLrs.Length;
        for (int i = 0; ok && i < parts.Length; i++) ok = double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out lrs[i]);
        if (!ok)
            throw new ArgumentException($"{op}: base_lrs is '{lrText ?? "missing"}', expected {_baseLrs.Length} numbers (one per parameter group).", nameof(state));
        lrs.CopyTo(_baseLrs, 0);
        LastStep = step;
        Apply();
    }

    private void Apply()
    {
        double m = _schedule.Multiplier(LastStep);
        for (int g = 0; g < _baseLrs.Length; g++) _optimizer.Groups[g].Lr = _baseLrs[g] * m;
    }
}
