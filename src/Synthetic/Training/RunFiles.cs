using System.Text.Json;
using System.Text.Json.Serialization;
using Ssm.Synthetic.Models;

namespace Ssm.Synthetic.Training;

/// <summary>What a run folder's <c>run.json</c> records: the task, its options, the model spec and the training options.</summary>
public sealed record RunConfig
{
    /// <summary>Task name (as given to <c>ssm train</c>).</summary>
    public string Task { get; init; } = "";
    /// <summary>Task options as given on the command line (name → value).</summary>
    public Dictionary<string, string> TaskOptions { get; init; } = new();
    /// <summary>Model architecture and sizes.</summary>
    public ModelSpec Model { get; init; } = new();
    /// <summary>Training hyper-parameters.</summary>
    public TrainOptions Training { get; init; } = new();
    /// <summary>Device name used.</summary>
    public string Device { get; init; } = "cpu";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes <c>run.json</c> in <paramref name="directory"/> (atomically).</summary>
    public void Save(string directory) => AtomicFile.WriteText(Path.Combine(directory, "run.json"), JsonSerializer.Serialize(this, Json));

    /// <summary>Reads a run folder's <c>run.json</c>.</summary>
    public static RunConfig Load(string directory)
    {
        var path = Path.Combine(directory, "run.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"{directory} is not a run folder: it has no run.json.", path);
        return JsonSerializer.Deserialize<RunConfig>(File.ReadAllText(path), Json)
            ?? throw new InvalidDataException($"{path}: empty run configuration.");
    }
}

/// <summary>Trainer state beside a checkpoint: progress, data-generator state, schedule, early-stopping bookkeeping.</summary>
public sealed record TrainerState
{
    /// <summary>Steps completed.</summary>
    public int Step { get; init; }
    /// <summary>State words of the data generator.</summary>
    public ulong[] DataRng { get; init; } = Array.Empty<ulong>();
    /// <summary>Learning-rate scheduler state.</summary>
    public Dictionary<string, string> Scheduler { get; init; } = new();
    /// <summary>Best eval metric so far.</summary>
    public double? BestMetric { get; init; }
    /// <summary>Evaluations since the best.</summary>
    public int EvalsWithoutImprovement { get; init; }
    /// <summary>Wall-clock seconds of training so far.</summary>
    public double Seconds { get; init; }
}

/// <summary>Writes a file by writing a temporary file in the same folder and renaming it over the target.</summary>
public static class AtomicFile
{
    /// <summary>Atomically replaces <paramref name="path"/> with <paramref name="text"/>.</summary>
    public static void WriteText(string path, string text)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(tmp, text);
        File.Move(tmp, full, overwrite: true);
    }
}
