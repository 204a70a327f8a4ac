using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ssm.Synthetic.Reports;

/// <summary>
/// Appends one JSON object per line to <c>metrics.jsonl</c> (step, split, loss, accuracy, tokens/s, …) and reads such a
/// file back. Each line is flushed as it is written, so a run that stops keeps everything logged so far.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _writer;

    /// <summary>Opens (appending) <paramref name="path"/>.</summary>
    public MetricsLog(string path, bool append = true)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _writer = new StreamWriter(path, append) { AutoFlush = true };
    }

    /// <summary>The file written.</summary>
    public string Path { get; }

    /// <summary>Writes one record.</summary>
    public void Write(IReadOnlyDictionary<string, object?> record)
    {
        var o = new JsonObject();
        foreach (var (k, v) in record) o[k] = v is null ? null : JsonValue.Create(v);
        _writer.WriteLine(o.ToJsonString());
    }

    /// <summary>Reads every record of a JSON-lines file.</summary>
    public static List<JsonObject> Read(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    /// <summary>Closes the file.</summary>
    public void Dispose() => _writer.Dispose();

    /// <summary>Pretty JSON for summaries.</summary>
    public static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
