using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Ssm.Kernels;

namespace Ssm.Checkpoints;

/// <summary>Element type written for float32 tensors by <see cref="SafeTensors.Save"/>.</summary>
public enum FloatStorage
{
    /// <summary>32-bit floats (exact).</summary>
    F32,
    /// <summary>bfloat16 (round to nearest even; half the size).</summary>
    BF16,
}

/// <summary>
/// Writes safetensors files (see <see cref="SafeTensorsFile"/> for the format). The file is written to a temporary
/// file in the same folder, flushed, and renamed over the target, so a crash never leaves a half-written checkpoint.
/// </summary>
public static class SafeTensors
{
    /// <summary>Saves named tensors (float32 as F32 or BF16; int32 as I32; int64 as I64) with optional string metadata.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null, FloatStorage floats = FloatStorage.F32)
    {
        var items = tensors.ToList();
        var names = new HashSet<string>();
        foreach (var (name, _) in items)
        {
            if (string.IsNullOrEmpty(name) || name == "__metadata__")
                throw new ArgumentException($"SafeTensors.Save: invalid tensor name '{name}'.", nameof(tensors));
            if (!names.Add(name)) throw new ArgumentException($"SafeTensors.Save: tensor name '{name}' appears twice.", nameof(tensors));
        }

        using var header = new MemoryStream();
        long offset = 0;
        var sizes = new List<(string dtype, long bytes)>();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            foreach (var (name, t) in items)
            {
                string dtype = t.DType == DType.Float32 && floats == FloatStorage.BF16 ? "BF16" : SafeTensorsDType.Name(t.DType);
                long bytes = (long)t.Length * SafeTensorsDType.Size(dtype);
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                sizes.Add((dtype, bytes));
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad the header with spaces to a multiple of 8 bytes, as the reference writer does.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        var full = System.IO.Path.GetFullPath(path);
        var dir = System.IO.Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> len = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Length);
                fs.Write(len);
                header.Position = 0;
                header.CopyTo(fs);
                for (int i = 0; i < items.Count; i++) WriteData(fs, items[i].Value, sizes[i].dtype);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    private static void WriteData(Stream fs, Tensor t, string dtype)
    {
        switch (dtype)
        {
            case "F32":
            {
                var v = t.ToArray();
                var b = new byte[4 * v.Length];
                for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), v[i]);
                fs.Write(b);
                break;
            }
            case "BF16":
            {
                var v = t.ToArray();
                var b = new byte[2 * v.Length];
                for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), SafeTensorsDType.ToBFloat16(v[i]));
                fs.Write(b);
                break;
            }
            case "I32":
            {
                var v = t.ToInt32Array();
                var b = new byte[4 * v.Length];
                for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4 * i), v[i]);
                fs.Write(b);
                break;
            }
            default:
            {
                var v = t.ToInt64Array();
                var b = new byte[8 * v.Length];
                for (int i = 0; i < v.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8 * i), v[i]);
                fs.Write(b);
                break;
            }
        }
    }
}
