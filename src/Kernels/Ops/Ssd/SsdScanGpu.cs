namespace Ssm.Kernels;

internal static class SsdScanGpu
{
    public static void Forward(SsdDims d, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor? h0, Tensor y, Tensor final) => throw new NotImplementedException();
    public static void Backward(SsdDims d, Tensor x, Tensor dt, Tensor a, Tensor B, Tensor C, Tensor? D, Tensor? h0, Tensor? dy, Tensor? dFinal, SsdScanGradients g) => throw new NotImplementedException();
}
