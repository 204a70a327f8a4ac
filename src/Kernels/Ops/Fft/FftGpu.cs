namespace Ssm.Kernels;

internal static class FftGpu
{
    public static void Rfft(Tensor x, Tensor y, int n, float edge, float mid) => throw new NotImplementedException();
    public static void Irfft(Tensor x, Tensor y, int n, float edge, float mid) => throw new NotImplementedException();
}
