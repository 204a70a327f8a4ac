using Ssm.Kernels;

namespace Ssm.Checkpoints;

// Element types of the safetensors format (https://github.com/huggingface/safetensors, "Format" section) that Ssm
// reads, and their conversion to Ssm's tensor types: F32/F16/BF16/F64 → float32, I32 → int32, I64 → int64.
internal static class SafeTensorsDType
{
    public static int Size(string dtype) => dtype switch
    {
        "F32" or "I32" => 4,
        "F16" or "BF16" => 2,
        "F64" or "I64" => 8,
        _ => 0,
    };

    public static DType Target(string dtype) => dtype switch
    {
        "I32" => DType.Int32,
        "I64" => DType.Int64,
        _ => DType.Float32,
    };

    public static string Name(DType dtype) => dtype switch
    {
        DType.Float32 => "F32",
        DType.Int32 => "I32",
        _ => "I64",
    };

    /// <summary>Decodes little-endian raw bytes of <paramref name="dtype"/> into float32.</summary>
    public static void ToFloat(string dtype, ReadOnlySpan<byte> raw, Span<float> dst)
    {
        switch (dtype)
        {
            case "F32":
                for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]));
                break;
            case "F16":
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)BitConverter.UInt16BitsToHalf(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]));
                break;
            case "BF16":
                for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.Int32BitsToSingle(System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]) << 16);
                break;
            case "F64":
                for (int i = 0; i < dst.Length; i++) dst[i] = (float)BitConverter.Int64BitsToDouble(System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]));
                break;
            default:
                throw new InvalidOperationException(dtype);
        }
    }

    /// <summary>float32 → bfloat16 bits with round-to-nearest-even (NaN stays NaN).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
