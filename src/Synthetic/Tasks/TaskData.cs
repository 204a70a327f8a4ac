using System.Text.Json;

namespace Ssm.Synthetic.Tasks;

/// <summary>
/// Task data as JSON lines: one example record per line, property names in snake_case (e.g.
/// <c>{"tokens":[…],"key":"12345","depth":0.25,"needle_start":…}</c>), numbers written so they read back bit-identically
/// (float/double use the shortest round-trip form). Any tool that reads JSON can consume the files.
/// </summary>
public static class TaskData
{
    /// <summary>The serializer settings used for task data.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
    };

    /// <summary>Writes <paramref name="examples"/> to <paramref name="path"/>, one JSON object per line (overwrites).</summary>
    public static void Write<T>(string path, IEnumerable<T> examples)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(examples);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        using var writer = new StreamWriter(path, append: false);
        foreach (var e in examples)
        {
            if (e is null) throw new ArgumentException("TaskData.Write: examples contains null.", nameof(examples));
            writer.WriteLine(JsonSerializer.Serialize(e, e.GetType(), JsonOptions));
        }
    }

    /// <summary>Reads the examples of a file written by <see cref="Write{T}"/>.</summary>
    public static List<T> Read<T>(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"TaskData.Read: no file {path}.", path);
        var list = new List<T>();
        int line = 0;
        foreach (var text in File.ReadLines(path))
        {
            line++;
            if (text.Length == 0) continue;
            try
            {
                list.Add(JsonSerializer.Deserialize<T>(text, JsonOptions)
                         ?? throw new InvalidDataException($"TaskData.Read: {path}:{line} is null, expected a {typeof(T).Name}."));
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"TaskData.Read: {path}:{line} is not a {typeof(T).Name}: {ex.Message}", ex);
            }
        }
        return list;
    }
}
