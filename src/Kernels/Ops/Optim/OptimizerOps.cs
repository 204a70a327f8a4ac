namespace Ssm.Kernels;

// Fused optimizer updates, element by element (PyTorch's documented algorithms, torch.optim.AdamW and torch.optim.SGD):
// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019), step t ≥ 1:
//   p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//   p ← p − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + eps)          (= p − lr·(m̂/(√v̂ + eps)) with m̂, v̂ bias-corrected)
// SGD: d = g + wd·p; with momentum μ: b ← d on the first step, else μ·b + (1−dampening)·d; d = nesterov ? d + μ·b : b;
//   p ← p − lr·d.
// Sum of squares (for clipping by global norm): total += Σ x², per-thread partial sums reduced in a fixed order.

/// <summary>
/// Optimizer kernels: fused in-place AdamW and SGD parameter updates, and the sum of squares used by gradient clipping
/// by global norm. Hyperparameters follow torch.optim.
/// </summary>
public static class OptimizerOps
{
    /// <summary>
    /// One AdamW step (decoupled weight decay, bias correction with step <paramref name="step"/> ≥ 1), in place on
    /// <paramref name="param"/>, <paramref name="expAvg"/> (m) and <paramref name="expAvgSq"/> (v).
    /// </summary>
    public static void AdamW(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq,
        double lr, double beta1, double beta2, double eps, double weightDecay, long step)
    {
        const string op = "OptimizerOps.AdamW";
        CheckLike(op, param, grad, "grad");
        CheckLike(op, param, expAvg, "expAvg");
        CheckLike(op, param, expAvgSq, "expAvgSq");
        CheckHyper(op, nameof(lr), lr, 0, double.PositiveInfinity);
        CheckHyper(op, nameof(beta1), beta1, 0, 1, upperOpen: true);
        CheckHyper(op, nameof(beta2), beta2, 0, 1, upperOpen: true);
        CheckHyper(op, nameof(eps), eps, 0, double.PositiveInfinity);
        CheckHyper(op, nameof(weightDecay), weightDecay, 0, double.PositiveInfinity);
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), step, $"{op}: step must be at least 1, got {step}.");
        if (param.Length == 0) return;
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        var c = new AdamWCoefficients((float)(1 - lr * weightDecay), (float)beta1, (float)(1 - beta1), (float)beta2,
            (float)(1 - beta2), (float)(lr / bc1), (float)(1 / Math.Sqrt(bc2)), (float)eps);
        if (param.Device.IsIlgpu) OptimizerOpsGpu.AdamW(param, grad, expAvg, expAvgSq, c);
        else OptimizerOpsCpu.AdamW(param, grad, expAvg, expAvgSq, c);
    }

    /// <summary>
    /// One SGD step in place on <paramref name="param"/> (and <paramref name="momentumBuffer"/> when
    /// <paramref name="momentum"/> ≠ 0; it must then be given). <paramref name="firstStep"/> initializes the buffer with
    /// the (weight-decayed) gradient, as torch does on a parameter's first step.
    /// </summary>
    public static void Sgd(Tensor param, Tensor grad, Tensor? momentumBuffer, double lr, double momentum = 0,
        double dampening = 0, double weightDecay = 0, bool nesterov = false, bool firstStep = false)
    {
        const string op = "OptimizerOps.Sgd";
        CheckLike(op, param, grad, "grad");
        CheckHyper(op, nameof(lr), lr, 0, double.PositiveInfinity);
        CheckHyper(op, nameof(momentum), momentum, 0, double.PositiveInfinity);
        CheckHyper(op, nameof(dampening), dampening, 0, 1);
        CheckHyper(op, nameof(weightDecay), weightDecay, 0, double.PositiveInfinity);
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException($"{op}: Nesterov momentum requires momentum > 0 and dampening = 0, got momentum {momentum}, dampening {dampening}.", nameof(nesterov));
        if (momentum != 0)
        {
            if (momentumBuffer is null)
                throw new ArgumentNullException(nameof(momentumBuffer), $"{op}: momentum {momentum} needs a momentum buffer shaped like param {Shapes.Format(param.Shape)}.");
            CheckLike(op, param, momentumBuffer, "momentumBuffer");
        }
        if (param.Length == 0) return;
        var c = new SgdCoefficients((float)lr, (float)momentum, (float)(1 - dampening), (float)weightDecay,
            nesterov ? 1 : 0, firstStep ? 1 : 0);
        if (param.Device.IsIlgpu) OptimizerOpsGpu.Sgd(param, grad, momentumBuffer ?? grad, c);
        else OptimizerOpsCpu.Sgd(param, grad, momentumBuffer, c);
    }

    /// <summary>
    /// Adds Σ x² to <paramref name="total"/> (a one-element float32 tensor on x's device), without a host round trip.
    /// Summing several tensors into one total gives the squared global norm used by gradient clipping.
    /// </summary>
    public static void AddSumOfSquares(Tensor x, Tensor total)
    {
        const string op = "OptimizerOps.AddSumOfSquares";
        Guard.DType(op, x, "x", DType.Float32);
        Guard.DType(op, total, "total", DType.Float32);
        Guard.SameDevice(op, x, "x", total, "total");
        if (total.Length != 1)
            throw new ArgumentException($"{op}: total has shape {Shapes.Format(total.Shape)}, expected one element.", nameof(total));
        if (x.Length == 0) return;
        if (x.Device.IsIlgpu) OptimizerOpsGpu.AddSumOfSquares(x, total);
        else OptimizerOpsCpu.AddSumOfSquares(x, total);
    }

    private static void CheckLike(string op, Tensor param, Tensor t, string name)
    {
        Guard.DType(op, param, "param", DType.Float32);
        Guard.DType(op, t, name, DType.Float32);
        Guard.SameDevice(op, param, "param", t, name);
        Guard.Shape(op, t, name, param.Shape, "(the shape of param)");
    }

    private static void CheckHyper(string op, string name, double value, double lo, double hi, bool upperOpen = false)
    {
        if (!(value >= lo && (upperOpen ? value < hi : value <= hi)))
            throw new ArgumentOutOfRangeException(name, value, $"{op}: {name} must be in [{lo}, {hi}{(upperOpen ? ")" : "]")}, got {value}.");
    }
}

/// <summary>Per-step AdamW constants (computed on the host in double) and the scalar update shared by every backend.</summary>
internal readonly struct AdamWCoefficients
{
    public readonly float Decay, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, StepSize, InvSqrtBc2, Eps;

    public AdamWCoefficients(float decay, float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2,
        float stepSize, float invSqrtBc2, float eps)
    {
        Decay = decay; Beta1 = beta1; OneMinusBeta1 = oneMinusBeta1; Beta2 = beta2; OneMinusBeta2 = oneMinusBeta2;
        StepSize = stepSize; InvSqrtBc2 = invSqrtBc2; Eps = eps;
    }

    public float Moment1(float m, float g) => Beta1 * m + OneMinusBeta1 * g;
    public float Moment2(float v, float g) => Beta2 * v + OneMinusBeta2 * g * g;
    public float Param(float p, float m, float v) => p * Decay - StepSize * m / (MathF.Sqrt(v) * InvSqrtBc2 + Eps);
}

/// <summary>Per-step SGD constants and the scalar update shared by every backend.</summary>
internal readonly struct SgdCoefficients
{
    public readonly float Lr, Momentum, OneMinusDampening, WeightDecay;
    public readonly int Nesterov, FirstStep;

    public SgdCoefficients(float lr, float momentum, float oneMinusDampening, float weightDecay, int nesterov, int firstStep)
    {
        Lr = lr; Momentum = momentum; OneMinusDampening = oneMinusDampening; WeightDecay = weightDecay;
        Nesterov = nesterov; FirstStep = firstStep;
    }

    /// <summary>The update direction d for gradient g at parameter p; with momentum, reads and replaces the buffer b.</summary>
    public float Direction(float p, float g, ref float b)
    {
        float d = g + WeightDecay * p;
        if (Momentum == 0f) return d;
        b = FirstStep != 0 ? d : Momentum * b + OneMinusDampening * d;
        return Nesterov != 0 ? d + Momentum * b : b;
    }
}
