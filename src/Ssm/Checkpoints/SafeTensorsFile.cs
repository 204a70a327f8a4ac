using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Ssm.Kernels;

namespace Ssm.Checkpoints;

/// <summary>Name, element type, shape and byte range of one tensor in a safetensors file.</summary>
/// <param name="Name">Tensor name (e.g. <c>backbone.layers.0.mixer.A_log</c>).</param>
/// <param name="DType">safetensors dtype string: F32, F16, BF16, F64, I32 or I64.</param>
/// <param name="Shape">Shape.</param>
/// <param name="Begin">Start offset in the data section.</param>
/// <param name="End">End offset (exclusive) in the data section.</param>
public sealed record SafeTensorInfo(string Name, string DType, int[] Shape, long Begin, long End);

/// <summary>
/// Reader for the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>), then the raw
/// little-endian data. The header is bounded (100 MB) and fully validated on <see cref="Open"/>: known dtypes,
/// non-negative shapes, offsets inside the file, byte sizes matching the shapes, and ranges that tile the data section
/// without gaps or overlaps (as the reference implementation requires). Any violation is a
/// <see cref="SafeTensorsFormatException"/> naming the file and the problem; tensors are read on demand.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Largest accepted JSON header (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, SafeTensorInfo> _tensors;
    private readonly long _dataStart;

    private SafeTensorsFile(string path, SafeFileHandle handle, Dictionary<string, SafeTensorInfo> tensors,
        IReadOnlyDictionary<string, string> metadata, long dataStart, List<string> order)
    {
        Path = path;
        _handle = handle;
        _tensors = tensors;
        Metadata = metadata;
        _dataStart = dataStart;
        Names = order;
    }

    /// <summary>The file path.</summary>
    public string Path { get; }

    /// <summary>Tensor names in file order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The <c>__metadata__</c> string map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>True when the file holds a tensor of that name.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>Description of one tensor; throws <see cref="KeyNotFoundException"/> naming the file when absent.</summary>
    public SafeTensorInfo Info(string name) => _tensors.TryGetValue(name, out var info)
        ? info
        : throw new KeyNotFoundException($"{Path}: no tensor named '{name}' (the file has {_tensors.Count}: {string.Join(", ", Names.Take(8))}{(_tensors.Count > 8 ? ", …" : "")}).");

    /// <summary>Opens and validates a safetensors file (the data is read later, per tensor).</summary>
    public static SafeTensorsFile Open(string path)
    {
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (FileNotFoundException e) { throw new FileNotFoundException($"SafeTensorsFile.Open: no file at {path}.", path, e); }
        try
        {
            var parsed = ParseHeader(path, handle);
            return new SafeTensorsFile(path, handle, parsed.tensors, parsed.metadata, parsed.dataStart, parsed.order);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a tensor onto <paramref name="device"/> (default device when null): float types become float32, I32 int32,
    /// I64 int64.
    /// </summary>
    public Tensor Read(string name, Device? device = null)
    {
        var info = Info(name);
        var raw = ReadBytes(info);
        int n = Shapes.Numel(info.Shape);
        switch (SafeTensorsDType.Target(info.DType))
        {
            case DType.Int32:
            {
                var v = new int[n];
                for (int i = 0; i < n; i++) v[i] = BinaryPrimitives.ReadInt32LittleEndian(raw.AsSpan(4 * i));
                return Tensor.From(v, info.Shape, device);
            }
            case DType.Int64:
            {
                var v = new long[n];
                for (int i = 0; i < n; i++) v[i] = BinaryPrimitives.ReadInt64LittleEndian(raw.AsSpan(8 * i));
                return Tensor.From(v, info.Shape, device);
            }
            default:
            {
                var v = new float[n];
                SafeTensorsDType.ToFloat(info.DType, raw, v);
                return Tensor.From(v, info.Shape, device);
            }
        }
    }

    /// <summary>Reads a floating-point tensor as a host float32 array.</summary>
    public float[] ReadFloats(string name)
    {
        var info = Info(name);
        if (SafeTensorsDType.Target(info.DType) != Kernels.DType.Float32)
            throw new SafeTensorsFormatException($"{Path}: tensor '{name}' has dtype {info.DType}, expected a floating-point type.");
        var v = new float[Shapes.Numel(info.Shape)];
        SafeTensorsDType.ToFloat(info.DType, ReadBytes(info), v);
        return v;
    }

    /// <summary>Reads every tensor (in file order) onto <paramref name="device"/>.</summary>
    public Dictionary<string, Tensor> ReadAll(Device? device = null) => Names.ToDictionary(n => n, n => Read(n, device));

    private byte[] ReadBytes(SafeTensorInfo info)
    {
        long count = info.End - info.Begin;
        var buffer = new byte[count];
        long done = 0;
        while (done < count)
        {
            int got = RandomAccess.Read(_handle, buffer.AsSpan((int)done), _dataStart + info.Begin + done);
            if (got == 0) throw new SafeTensorsFormatException($"{Path}: file ended while reading tensor '{info.Name}' (it was truncated after opening).");
            done += got;
        }
        return buffer;
    }

    private static (Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata, long dataStart, List<string> order)
        ParseHeader(string path, SafeFileHandle handle)
    {
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8) throw new SafeTensorsFormatException($"{path}: file has {fileLength} bytes, too short for the 8-byte safetensors header length.");
        Span<byte> lenBytes = stackalloc byte[8];
        RandomAccess.Read(handle, lenBytes, 0);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > MaxHeaderBytes)
            throw new SafeTensorsFormatException($"{path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (corrupt or not a safetensors file).");
        if (8 + (long)headerLength > fileLength)
            throw new SafeTensorsFormatException($"{path}: header length {headerLength} runs past the end of the {fileLength}-byte file (truncated).");
        var header = new byte[headerLength];
        if (RandomAccess.Read(handle, header, 8) != header.Length)
            throw new SafeTensorsFormatException($"{path}: could not read the {headerLength}-byte header.");
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;
        if (!System.Text.Unicode.Utf8.IsValid(header)) throw new SafeTensorsFormatException($"{path}: header is not valid UTF-8.");

        JsonDocument doc;
        try { doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e) { throw new SafeTensorsFormatException($"{path}: header is not valid JSON ({e.Message}).", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException($"{path}: header is a JSON {doc.RootElement.ValueKind}, expected an object.");
            var tensors = new Dictionary<string, SafeTensorInfo>();
            var order = new List<string>();
            var metadata = new Dictionary<string, string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new SafeTensorsFormatException($"{path}: __metadata__ is a JSON {prop.Value.ValueKind}, expected an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new SafeTensorsFormatException($"{path}: __metadata__ entry '{m.Name}' is not a string.");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                if (tensors.ContainsKey(prop.Name)) throw new SafeTensorsFormatException($"{path}: tensor '{prop.Name}' appears twice in the header.");
                var info = ParseEntry(path, prop, dataLength);
                tensors[prop.Name] = info;
                order.Add(prop.Name);
            }
            CheckTiling(path, tensors.Values, dataLength);
            order.Sort((a, b) => tensors[a].Begin.CompareTo(tensors[b].Begin));
            return (tensors, metadata, dataStart, order);
        }
    }

    private static SafeTensorInfo ParseEntry(string path, JsonProperty prop, long dataLength)
    {
        string where = $"{path}: tensor '{prop.Name}'";
        var e = prop.Value;
        if (e.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException($"{where} is a JSON {e.ValueKind}, expected an object.");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException($"{where} has no dtype string.");
        var dtype = dt.GetString()!;
        int size = SafeTensorsDType.Size(dtype);
        if (size == 0) throw new SafeTensorsFormatException($"{where} has dtype {dtype}; Ssm reads F32, F16, BF16, F64, I32 and I64.");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException($"{where} has no shape array.");
        var shape = new int[sh.GetArrayLength()];
        long numel = 1;
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out var v) || v < 0)
                throw new SafeTensorsFormatException($"{where} has an invalid shape entry {d.GetRawText()} (expected a non-negative integer).");
            shape[k++] = v;
            numel *= v;
            if (numel > int.MaxValue) throw new SafeTensorsFormatException($"{where} has {numel}+ elements, more than Ssm's per-tensor limit {int.MaxValue}.");
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new SafeTensorsFormatException($"{where} has no data_offsets [begin, end].");
        var o = off.EnumerateArray().ToArray();
        if (!o[0].TryGetInt64(out var begin) || !o[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw new SafeTensorsFormatException($"{where} has invalid data_offsets {off.GetRawText()}.");
        if (end > dataLength)
            throw new SafeTensorsFormatException($"{where}: data_offsets end {end} is past the {dataLength}-byte data section (file truncated?).");
        if (end - begin != numel * size)
            throw new SafeTensorsFormatException($"{where}: {end - begin} bytes for shape {Shapes.Format(shape)} of {dtype}, expected {numel * size}.");
        return new SafeTensorInfo(prop.Name, dtype, shape, begin, end);
    }

    private static void CheckTiling(string path, IEnumerable<SafeTensorInfo> infos, long dataLength)
    {
        long at = 0;
        foreach (var info in infos.OrderBy(i => i.Begin).ThenBy(i => i.End))
        {
            if (info.Begin < at) throw new SafeTensorsFormatException($"{path}: tensor '{info.Name}' overlaps the previous tensor (begins at {info.Begin}, previous ends at {at}).");
            if (info.Begin > at) throw new SafeTensorsFormatException($"{path}: the data section has a gap at bytes [{at}, {info.Begin}) before tensor '{info.Name}'.");
            at = info.End;
        }
        if (at != dataLength) throw new SafeTensorsFormatException($"{path}: the data section has {dataLength} bytes but the tensors cover {at}.");
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _handle.Dispose();
}
