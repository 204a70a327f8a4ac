using System.CommandLine;
using Ssm.Synthetic.Tasks;

namespace Ssm.Synthetic.Cli;

/// <summary>Task-shaping options of <c>ssm train/eval/tasks</c> and the construction of a task from them.</summary>
internal sealed class TaskOptions
{
    public readonly Option<int?> Vocab = new("--vocab") { Description = "Vocabulary size (mqar default 8192 as in zoology; passkey-tokens default 32)." };
    public readonly Option<int?> Pairs = new("--pairs") { Description = "Key-value pairs per MQAR example (default 4)." };
    public readonly Option<int?> KeyDigits = new("--key-digits") { Description = "Digits of the passkey (default 5, as in Stuffed Mamba)." };
    public readonly Option<double?> Depth = new("--depth") { Description = "Passkey needle depth in [0, 1] (default: uniform)." };
    public readonly Option<int?> MinLength = new("--min-length") { Description = "ListOps: shortest sequence, exclusive (default 500)." };
    public readonly Option<int?> MaxLength = new("--max-length") { Description = "ListOps: longest sequence, exclusive (default 2000)." };
    public readonly Option<int?> TrainDfas = new("--train-dfas") { Description = "ICLL: number of training DFAs (default 5000)." };

    public IEnumerable<Option> All => new Option[] { Vocab, Pairs, KeyDigits, Depth, MinLength, MaxLength, TrainDfas };

    /// <summary>The options given on the command line, as strings (stored in run.json).</summary>
    public Dictionary<string, string> Given(ParseResult r)
    {
        var d = new Dictionary<string, string>();
        void Add<T>(Option<T> o) { var v = r.GetValue(o); if (v is not null) d[o.Name.TrimStart('-')] = Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)!; }
        Add(Vocab); Add(Pairs); Add(KeyDigits); Add(Depth); Add(MinLength); Add(MaxLength); Add(TrainDfas);
        return d;
    }

    /// <summary>Builds the task <paramref name="name"/> with the given options (names as in <see cref="Given"/>).</summary>
    public static ISequenceTask Create(string name, IReadOnlyDictionary<string, string> o)
    {
        int? I(string k) => o.TryGetValue(k, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : null;
        double? D(string k) => o.TryGetValue(k, out var v) ? double.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : null;
        ISequenceTask task = name switch
        {
            "mqar" => new MqarTask(new MqarOptions(VocabSize: I("vocab") ?? 8192, NumKvPairs: I("pairs") ?? 4)),
            "passkey" => new PasskeyTextTask(new PasskeyOptions(KeyDigits: I("key-digits") ?? 5, Depth: D("depth"))),
            "passkey-tokens" => new PasskeyTokenTask(new PasskeyTokenOptions(VocabSize: I("vocab") ?? 32, KeyDigits: I("key-digits") ?? 5, Depth: D("depth"))),
            "listops" => new ListOpsTask(new ListOpsOptions(MinLength: I("min-length") ?? 500, MaxLength: I("max-length") ?? 2000)),
            "icll" => new IcllTask(new IcllOptions(TrainDfas: I("train-dfas") ?? 5000)),
            _ => TaskRegistry.Create(name),
        };
        return task;
    }
}
