using System.Globalization;
using Ssm.Kernels;

namespace Ssm.Optim;

/// <summary>
/// Base of the optimizers (like <c>torch.optim.Optimizer</c>): parameter groups with their own hyperparameters,
/// per-parameter state (tensors allocated once, on the first step that sees the parameter's gradient, outside any tensor
/// scope, plus a step count), <see cref="Step"/> and <see cref="ZeroGrad"/>, and a state dict for exact resumption.
/// Parameters are indexed 0, 1, … across groups in order, as in torch. A step allocates nothing.
/// </summary>
public abstract class Optimizer : IDisposable
{
    private readonly ParamGroup[] _groups;
    private readonly Parameter[] _params;
    private readonly int[] _groupOf;
    private readonly Slot[] _state;

    private sealed class Slot
    {
        public long Step;
        public Tensor[] Tensors = Array.Empty<Tensor>();
    }

    /// <summary>One group hyperparameter as it appears in the state dict (<c>param_groups.0.lr</c>).</summary>
    /// <param name="Key">Name in the state dict (torch's name, e.g. <c>weight_decay</c>).</param>
    /// <param name="Get">Reads the value from a group.</param>
    /// <param name="Set">Writes the value into a group.</param>
    protected readonly record struct Hyperparameter(string Key, Func<ParamGroup, double> Get, Action<ParamGroup, double> Set);

    /// <summary>Collects the groups; every parameter may appear once, and there must be at least one.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        _groups = groups.ToArray();
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        var parameters = new List<Parameter>();
        var groupOf = new List<int>();
        for (int g = 0; g < _groups.Length; g++)
        {
            if (_groups[g] is null) throw new ArgumentException($"{GetType().Name}: parameter group {g} is null.", nameof(groups));
            for (int k = 0; k < _groups[g].Parameters.Count; k++)
            {
                var p = _groups[g].Parameters[k];
                if (!seen.Add(p))
                    throw new ArgumentException($"{GetType().Name}: parameter {k} of group {g} ('{_groups[g].Name}') appears more than once among the groups.", nameof(groups));
                parameters.Add(p);
                groupOf.Add(g);
            }
        }
        if (parameters.Count == 0) throw new ArgumentException($"{GetType().Name}: got an empty parameter list.", nameof(groups));
        _params = parameters.ToArray();
        _groupOf = groupOf.ToArray();
        _state = _params.Select(_ => new Slot()).ToArray();
    }

    /// <summary>The parameter groups (hyperparameters may be changed between steps, e.g. by a scheduler).</summary>
    public IReadOnlyList<ParamGroup> Groups => _groups;

    /// <summary>Every optimized parameter, in index order.</summary>
    public IReadOnlyList<Parameter> Parameters => _params;

    /// <summary>The number of steps taken for parameter <paramref name="index"/> (0 before its first update).</summary>
    public long StepCount(int index) => _state[index].Step;

    /// <summary>Names of the state tensors a parameter of <paramref name="group"/> keeps (e.g. <c>exp_avg</c>).</summary>
    protected abstract IReadOnlyList<string> StateNames(ParamGroup group);

    /// <summary>The group hyperparameters saved in and restored from the state dict.</summary>
    protected abstract IReadOnlyList<Hyperparameter> Hyperparameters { get; }

    /// <summary>
    /// Updates one parameter in place given its gradient, its state tensors (zeros before step 1) and the step number
    /// (1 on its first update).
    /// </summary>
    protected abstract void Update(ParamGroup group, Tensor param, Tensor grad, Tensor[] state, long step);

    /// <summary>Updates every parameter that has a gradient (those without one are skipped, as in torch).</summary>
    public void Step()
    {
        for (int i = 0; i < _params.Length; i++)
        {
            var grad = _params[i].Grad;
            if (grad is null) continue;
            var group = _groups[_groupOf[i]];
            var slot = EnsureState(i, group);
            long step = slot.Step + 1;
            Update(group, _params[i].Data, grad, slot.Tensors, step);
            slot.Step = step;
        }
    }

    /// <summary>Drops the gradients of every optimized parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _params) p.ZeroGrad();
    }

    private Slot EnsureState(int i, ParamGroup group)
    {
        var slot = _state[i];
        var names = StateNames(group);
        var p = _params[i].Data;
        if (slot.Tensors.Length != names.Count)
        {
            foreach (var t in slot.Tensors) t.Dispose();
            slot.Tensors = names.Select(_ => Tensor.Zeros(p.Shape, DType.Float32, p.Device).DetachFromScope()).ToArray();
        }
        for (int k = 0; k < slot.Tensors.Length; k++)
        {
            if (slot.Tensors[k].Device == p.Device) continue; // the parameter was moved after the state was made
            var moved = slot.Tensors[k].To(p.Device).DetachFromScope();
            slot.Tensors[k].Dispose();
            slot.Tensors[k] = moved;
        }
        return slot;
    }

    /// <summary>Checks a hyperparameter of a group at construction; the message names the optimizer, group and value.</summary>
    protected void CheckRange(int groupIndex, string what, double value, double lo, double hi, bool upperOpen = false)
    {
        if (value >= lo && (upperOpen ? value < hi : value <= hi)) return;
        throw new ArgumentOutOfRangeException(what, value,
            $"{GetType().Name}: group {groupIndex} ('{_groups[groupIndex].Name}') has {what} {value}, expected in [{lo}, {hi}{(upperOpen ? ")" : "]")}.");
    }

    // ---- state dict -----------------------------------------------------------------------------------------------

    /// <summary>
    /// The optimizer state: each parameter's state tensors (live, not copies) and step count, and each group's
    /// hyperparameters (current values, e.g. the scheduled lr) and parameter indices.
    /// </summary>
    public OptimizerState StateDict()
    {
        var tensors = new OrderedDictionary<string, Tensor>(StringComparer.Ordinal);
        var meta = new OrderedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["optimizer"] = GetType().Name,
            ["param_groups"] = Format(_groups.Length),
        };
        int first = 0;
        for (int g = 0; g < _groups.Length; g++)
        {
            var group = _groups[g];
            meta[$"param_groups.{g}.name"] = group.Name;
            meta[$"param_groups.{g}.params"] = string.Join(",", Enumerable.Range(first, group.Parameters.Count).Select(Format));
            foreach (var h in Hyperparameters) meta[$"param_groups.{g}.{h.Key}"] = h.Get(group).ToString("R", CultureInfo.InvariantCulture);
            first += group.Parameters.Count;
        }
        for (int i = 0; i < _params.Length; i++)
        {
            var slot = _state[i];
            if (slot.Step == 0) continue;
            meta[$"state.{i}.step"] = Format(slot.Step);
            var names = StateNames(_groups[_groupOf[i]]);
            for (int k = 0; k < names.Count && k < slot.Tensors.Length; k++) tensors[$"state.{i}.{names[k]}"] = slot.Tensors[k];
        }
        return new OptimizerState(tensors, meta);
    }

    /// <summary>
    /// Restores a state from <see cref="StateDict"/> (of the same optimizer type, with groups of the same sizes):
    /// hyperparameters, step counts and state tensors (copied in place, to each parameter's device). Parameters without
    /// state in it start afresh. Every problem is reported in one exception, and nothing changes when it throws.
    /// </summary>
    public void LoadStateDict(OptimizerState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        string op = $"{GetType().Name}.LoadStateDict";
        var meta = state.Metadata;
        var usedMeta = new HashSet<string>(StringComparer.Ordinal) { "optimizer", "param_groups" };
        var usedTensors = new HashSet<string>(StringComparer.Ordinal);
        if (!meta.TryGetValue("optimizer", out var type) || type != GetType().Name)
            throw new ArgumentException($"{op}: the state is from optimizer '{type ?? "(none)"}', expected '{GetType().Name}'.", nameof(state));
        var problems = new List<string>();
        if (!meta.TryGetValue("param_groups", out var groupCount) || groupCount != Format(_groups.Length))
            throw new ArgumentException($"{op}: the state has {groupCount ?? "no"} parameter groups, expected {_groups.Length}.", nameof(state));

        var hyper = new double[_groups.Length, Hyperparameters.Count];
        int first = 0;
        for (int g = 0; g < _groups.Length; g++)
        {
            string expected = string.Join(",", Enumerable.Range(first, _groups[g].Parameters.Count).Select(Format));
            first += _groups[g].Parameters.Count;
            usedMeta.Add($"param_groups.{g}.name");
            string key = $"param_groups.{g}.params";
            usedMeta.Add(key);
            if (!meta.TryGetValue(key, out var ps) || ps != expected)
                problems.Add($"group {g} ('{_groups[g].Name}') has parameters [{ps ?? "missing"}] in the state, expected [{expected}]");
            for (int h = 0; h < Hyperparameters.Count; h++)
            {
                key = $"param_groups.{g}.{Hyperparameters[h].Key}";
                usedMeta.Add(key);
                if (meta.TryGetValue(key, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                    hyper[g, h] = value;
                else problems.Add(text is null ? $"missing {key}" : $"{key} = '{text}' is not a number");
            }
        }

        var steps = new long[_params.Length];
        for (int i = 0; i < _params.Length; i++)
        {
            string key = $"state.{i}.step";
            if (!meta.TryGetValue(key, out var text)) continue;
            usedMeta.Add(key);
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out steps[i]) || steps[i] < 1)
            {
                problems.Add($"{key} = '{text}' is not a positive step count");
                continue;
            }
            var p = _params[i].Data;
            foreach (var name in StateNames(_groups[_groupOf[i]]))
            {
                string tk = $"state.{i}.{name}";
                usedTensors.Add(tk);
                if (!state.Tensors.TryGetValue(tk, out var t)) problems.Add($"missing {tk}");
                else if (t.DType != DType.Float32) problems.Add($"{tk} is {t.DType}, expected Float32");
                else if (!Shapes.Equal(t.Shape, p.Shape))
                    problems.Add($"shape mismatch: {tk} has {Shapes.Format(t.Shape)} in the state, expected {Shapes.Format(p.Shape)}");
            }
        }
        var unexpected = meta.Keys.Where(k => !usedMeta.Contains(k)).Concat(state.Tensors.Keys.Where(k => !usedTensors.Contains(k))).ToList();
        if (unexpected.Count > 0) problems.Add($"unexpected: [{string.Join(", ", unexpected)}]");
        if (problems.Count > 0) throw new ArgumentException($"{op}: {string.Join("; ", problems)}.", nameof(state));

        for (int g = 0; g < _groups.Length; g++)
            for (int h = 0; h < Hyperparameters.Count; h++) Hyperparameters[h].Set(_groups[g], hyper[g, h]);
        for (int i = 0; i < _params.Length; i++)
        {
            if (steps[i] == 0)
            {
                _state[i].Step = 0; // starts afresh: zero moments on its next step
                foreach (var t in _state[i].Tensors) t.Zero();
                continue;
            }
            var slot = EnsureState(i, _groups[_groupOf[i]]);
            slot.Step = steps[i];
            var names = StateNames(_groups[_groupOf[i]]);
            for (int k = 0; k < names.Count; k++)
            {
                var source = state.Tensors[$"state.{i}.{names[k]}"];
                if (source.Device == slot.Tensors[k].Device) slot.Tensors[k].CopyFrom(source);
                else slot.Tensors[k].CopyFromHost<float>(source.ToArray());
            }
        }
    }

    private static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);
    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Releases the state tensors.</summary>
    public void Dispose()
    {
        foreach (var slot in _state)
        {
            foreach (var t in slot.Tensors) t.Dispose();
            slot.Tensors = Array.Empty<Tensor>();
            slot.Step = 0;
        }
        GC.SuppressFinalize(this);
    }
}
