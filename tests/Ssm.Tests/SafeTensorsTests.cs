using Ssm.Checkpoints;
using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class SafeTensorsTests
{
    private static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "Data", name);

    private static string TempFile() => Path.Combine(Path.GetTempPath(), $"ssm-st-{Guid.NewGuid():N}.safetensors");

    [Fact]
    public void RoundTripsEveryDTypeAndMetadata()
    {
        var path = TempFile();
        var f = new Rng(1).Normal(new[] { 3, 5 });
        var i = Tensor.From(new[] { 1, -2, 3 }, new[] { 3 });
        var l = Tensor.From(new[] { long.MinValue, 0L }, new[] { 2, 1 });
        var empty = Tensor.Zeros(new[] { 0, 4 });
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["w"] = f, ["ids"] = i, ["big"] = l, ["empty"] = empty },
            new Dictionary<string, string> { ["format"] = "pt" });
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(new[] { "w", "ids", "big", "empty" }, file.Names);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(f.ToArray(), file.Read("w").ToArray());
        Assert.Equal(new[] { 3, 5 }, file.Read("w").ShapeArray());
        Assert.Equal(i.ToInt32Array(), file.Read("ids").ToInt32Array());
        Assert.Equal(l.ToInt64Array(), file.Read("big").ToInt64Array());
        Assert.Equal(new[] { 0, 4 }, file.Read("empty").ShapeArray());
        Assert.Contains("no tensor named 'nope'", Assert.Throws<KeyNotFoundException>(() => file.Read("nope")).Message);
        File.Delete(path);
    }

    [Fact]
    public void Bf16StorageRoundsToNearestEven()
    {
        var path = TempFile();
        var values = new[] { 1f, 1.00390625f /* halfway: rounds to even 1.0 */, 1.01171875f /* halfway: rounds up */, -3.14159f, 0f };
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.From(values, values.Length) }, floats: FloatStorage.BF16);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("BF16", file.Info("x").DType);
        Assert.Equal(new[] { 1f, 1f, 1.015625f, -3.140625f, 0f }, file.ReadFloats("x"));
        File.Delete(path);
    }

    [Fact]
    public void ReadsTheReferenceFiles()
    {
        using var ssd = SafeTensorsFile.Open(DataFile("ssd_scan.safetensors"));
        Assert.Equal("16", ssd.Metadata["chunk"]);
        Assert.Equal(new[] { 2, 64, 3, 8 }, ssd.Read("x").ShapeArray());
        using var expected = SafeTensorsFile.Open(DataFile(Path.Combine("mamba2_tiny", "expected.safetensors")));
        var ids = expected.Read("input_ids");
        Assert.Equal(DType.Int64, ids.DType);
        Assert.All(ids.ToInt64Array(), v => Assert.InRange(v, 0, 95));
        using var model = SafeTensorsFile.Open(DataFile(Path.Combine("mamba2_tiny", "model.safetensors")));
        Assert.Equal(new[] { 296, 64 }, model.Info("backbone.layers.0.mixer.in_proj.weight").Shape);
        Assert.True(model.ReadFloats("backbone.layers.0.mixer.A_log").All(float.IsFinite));
    }

    [Fact]
    public void WritesAreAtomicAndLeaveNoTemporaryFiles()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"ssm-atomic-{Guid.NewGuid():N}");
        var path = Path.Combine(dir, "model.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = Tensor.Ones(new[] { 2 }) });
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["b"] = Tensor.Ones(new[] { 3 }) });
        Assert.Equal(new[] { "model.safetensors" }, Directory.GetFiles(dir).Select(Path.GetFileName));
        using (var f = SafeTensorsFile.Open(path)) Assert.Equal(new[] { "b" }, f.Names);
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, new[] { KeyValuePair.Create("x", Tensor.Ones(new[] { 1 })), KeyValuePair.Create("x", Tensor.Ones(new[] { 1 })) }));
        Directory.Delete(dir, true);
    }

    private static byte[] Build(string headerJson, int dataBytes)
    {
        var header = System.Text.Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataBytes];
        BitConverter.GetBytes((ulong)header.Length).CopyTo(bytes, 0);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    public static TheoryData<string, byte[], string> Malformed => new()
    {
        { "too short", new byte[] { 1, 2, 3 }, "too short" },
        { "oversized header", BitConverter.GetBytes((ulong)1 << 40).Concat(new byte[16]).ToArray(), "exceeds" },
        { "header past end", BitConverter.GetBytes((ulong)100).Concat(new byte[16]).ToArray(), "past the end" },
        { "not json", Build("{nope", 0), "not valid JSON" },
        { "json array", Build("[1,2]", 0), "expected an object" },
        { "wrong dtype", Build("{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "dtype C64" },
        { "size mismatch", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "expected 12" },
        { "negative shape", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "invalid shape" },
        { "offsets past data", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "past the 8-byte data section" },
        { "overlap", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlaps" },
        { "gap", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "gap" },
        { "trailing bytes", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8), "cover 4" },
        { "duplicate", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "twice" },
        { "reversed offsets", Build("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4), "invalid data_offsets" },
        { "bad metadata", Build("{\"__metadata__\":{\"k\":1}}", 0), "not a string" },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesAreRefusedWithAPreciseMessage(string what, byte[] bytes, string expected)
    {
        var path = TempFile();
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
        File.Delete(path);
        Assert.NotNull(what);
    }

    [Fact]
    public void RandomCorruptionsOnlyEverRaiseTheFormatException()
    {
        var original = File.ReadAllBytes(DataFile("s4d_layer.safetensors"));
        var rng = new Rng(2024);
        var path = TempFile();
        int refused = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            var bytes = (byte[])original.Clone();
            switch (trial % 4)
            {
                case 0: bytes = bytes[..rng.Next(0, bytes.Length)]; break;                          // truncate
                case 1: for (int k = 0; k < 4; k++) bytes[rng.Next(0, Math.Min(bytes.Length, 600))] ^= (byte)rng.Next(1, 256); break; // header bytes
                case 2: BitConverter.GetBytes((ulong)rng.Next(0, int.MaxValue)).CopyTo(bytes, 0); break; // header length
                default: bytes[rng.Next(0, bytes.Length)] = (byte)rng.Next(0, 256); break;           // anywhere
            }
            File.WriteAllBytes(path, bytes);
            try
            {
                using var f = SafeTensorsFile.Open(path);
                foreach (var name in f.Names) f.Read(name).Dispose();
            }
            catch (SafeTensorsFormatException) { refused++; }
        }
        File.Delete(path);
        Assert.True(refused > 100, $"only {refused} of 300 corruptions were detected");
    }
}
