using System.Diagnostics;
using System.Globalization;
using Ssm.Kernels;
using Ssm.Benchmarks.Compare;
using Ssm.Mamba;

namespace Ssm.Benchmarks.Profile;

/// <summary>
/// The <c>profile</c> mode: a per-phase Stopwatch breakdown of a Mamba-2 layer, to say where the time goes.
/// <list type="bullet">
/// <item><c>profile layer</c>: the forward and the backward replayed at the kernel level in the order autograd runs them
/// (in_proj GEMM, split copies, conv1d+SiLU, softplus, SSD scan, gated RMSNorm, out_proj GEMM, then their backward
/// kernels), next to the whole autograd forward+backward (the difference is autograd's own work: split/concat
/// gradients, accumulation, allocation).</item>
/// <item><c>profile step</c>: the phases of <see cref="Mamba2.Step"/>.</item>
/// </list>
/// Options: <c>--batch B --length L --d-model D --d-state N --headdim P --chunk Q --threads T --reps R</c>. Each phase
/// reports its median wall time and median process CPU time; with <c>--threads 1</c> the CPU time is the load-robust one.
/// </summary>
internal static class Mamba2Profile
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || (args[0] != "layer" && args[0] != "step"))
        {
            Console.Error.WriteLine("profile: usage: profile layer|step [--batch B] [--length L] [--d-model D] [--d-state N] " +
                "[--headdim P] [--chunk Q] [--threads T] [--reps R]");
            return 2;
        }
        int batch = 1, length = 4096, dModel = 768, dState = 128, headdim = 64, chunk = 64, reps = 5;
        for (int i = 1; i < args.Length; i++)
        {
            int Next() => int.Parse(args[++i], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--batch": batch = Next(); break;
                case "--length": length = Next(); break;
                case "--d-model": dModel = Next(); break;
                case "--d-state": dState = Next(); break;
                case "--headdim": headdim = Next(); break;
                case "--chunk": chunk = Next(); break;
                case "--threads": CpuDevice.Threads = Next(); break;
                case "--reps": reps = Next(); break;
                default: Console.Error.WriteLine($"profile: unknown argument '{args[i]}'"); return 2;
            }
        }
        var phases = new PhaseTimer();
        if (args[0] == "layer")
        {
            var shape = new Mamba2Shape(batch, length, dModel, dState, headdim, chunk);
            Console.WriteLine($"profile layer {shape}, threads {CpuDevice.Threads}, median of {reps}");
            using var w = new Mamba2Workload(shape);
            var layer = new Mamba2(shape.Config, new Rng(5), Device.Cpu);
            using var u = new Rng(1).Normal(new[] { batch, length, dModel });
            using var g = new Rng(2).Normal(new[] { batch, length, dModel });
            for (int r = 0; r < reps + 1; r++)
            {
                if (r == 1) phases.Clear(); // the first round warms up
                phases.Time("total: autograd forward+backward", w.ForwardBackward);
                phases.Time("total: autograd forward (no grad)", w.Forward);
                using var scope = TensorScope.Begin();
                LayerPhases(layer, u, g, phases);
            }
            layer.Dispose();
        }
        else
        {
            var shape = new Mamba2StepShape(batch, dModel, dState, headdim, Steps: 1);
            Console.WriteLine($"profile step {shape}, threads {CpuDevice.Threads}, median of {reps * 32} steps");
            var layer = new Mamba2(shape.Config, new Rng(6), Device.Cpu);
            using var state = layer.AllocateState(batch);
            using var x = new Rng(1).Normal(new[] { batch, dModel });
            for (int r = 0; r < (reps + 1) * 32; r++)
            {
                if (r == 32) phases.Clear();
                using var scope = TensorScope.Begin();
                phases.Time("total: Mamba2.Step", () => layer.Step(state, x));
                StepPhases(layer, state, x, phases);
            }
            layer.Dispose();
        }
        phases.Print();
        return 0;
    }

    /// <summary>The layer's forward and backward kernels, in autograd's order, each timed.</summary>
    private static void LayerPhases(Mamba2 m, Tensor u, Tensor g, PhaseTimer t)
    {
        var c = m.Config;
        int B = u.Size(0), L = u.Size(1), rows = B * L, DI = c.DInner, G = c.NGroups, N = c.DState, H = c.NHeads;
        var u2 = u.Reshape(rows, c.DModel);
        Tensor zxbcdt = null!, z = null!, xBC = null!, dtRaw = null!, xbc = null!, x = null!, Bm = null!, Cm = null!, dt = null!, a = null!;
        Tensor y = null!, final = null!, normed = null!;
        NormOutput norm = null!;
        // ---- forward
        t.Time("fwd in_proj GEMM", () => zxbcdt = MatMul.Compute(u2, m.InProj.Weight.Data, transB: true).Reshape(B, L, c.DInProj));
        t.Time("fwd split copies", () =>
        {
            z = Layout.Narrow(zxbcdt, 2, 0, DI);
            xBC = Layout.Narrow(zxbcdt, 2, DI, c.ConvDim);
            dtRaw = Layout.Narrow(zxbcdt, 2, DI + c.ConvDim, H);
        });
        var convW = m.Conv1d.Weight.Data.Reshape(c.ConvDim, c.DConv);
        t.Time("fwd conv1d+SiLU", () => xbc = Conv1d.Forward(xBC, convW, m.Conv1d.Bias!.Data, silu: true));
        t.Time("fwd split copies", () =>
        {
            x = Layout.Narrow(xbc, 2, 0, DI).Reshape(B, L, H, c.HeadDim);
            Bm = Layout.Narrow(xbc, 2, DI, G * N).Reshape(B, L, G, N);
            Cm = Layout.Narrow(xbc, 2, DI + G * N, G * N).Reshape(B, L, G, N);
        });
        Tensor dtPre = null!;
        t.Time("fwd softplus(dt + bias), a", () =>
        {
            dtPre = Elementwise.Add(dtRaw, m.DtBias.Data);
            dt = Elementwise.Unary(UnaryOp.Softplus, dtPre);
            a = Elementwise.Scale(Elementwise.Unary(UnaryOp.Exp, m.ALog.Data), -1f);
        });
        t.Time("fwd SSD scan", () => (y, final) = SsdScan.Forward(x, dt, a, Bm, Cm, m.D.Data, null, c.ChunkSize));
        var y2 = y.Reshape(rows, DI);
        var z2 = z.Reshape(rows, DI);
        t.Time("fwd gated RMSNorm", () => norm = Norms.GatedRmsNorm(y2, z2, m.Norm.Weight.Data, DI / G, (float)c.NormEps));
        normed = norm.Output;
        t.Time("fwd out_proj GEMM", () => MatMul.Compute(normed, m.OutProj.Weight.Data, transB: true));

        // ---- backward
        var g2 = g.Reshape(rows, c.DModel);
        Tensor dNormed = null!;
        t.Time("bwd out_proj GEMMs (dX, dW)", () =>
        {
            dNormed = MatMul.Compute(g2, m.OutProj.Weight.Data);
            MatMul.Compute(g2, normed, transA: true);
        });
        NormGradients ng = null!;
        t.Time("bwd gated RMSNorm", () => ng = Norms.GatedRmsNormBackward(dNormed, y2, z2, m.Norm.Weight.Data, norm.Rstd, DI / G));
        SsdScanGradients sg = null!;
        t.Time("bwd SSD scan", () => sg = SsdScan.Backward(x, dt, a, Bm, Cm, m.D.Data, null, c.ChunkSize, ng.Dx!.Reshape(B, L, H, c.HeadDim), null));
        Tensor dDtRaw = null!;
        t.Time("bwd softplus, dt_bias, A_log", () =>
        {
            dDtRaw = Elementwise.UnaryBackward(UnaryOp.Softplus, dtPre, sg.Ddt);
            Elementwise.SumTo(dDtRaw, new[] { H });
        });
        Tensor dxbc = null!;
        t.Time("bwd split (write slices)", () =>
        {
            dxbc = Tensor.Zeros(xbc.Shape);
            Layout.WriteSlice(dxbc, 2, 0, sg.Dx.Reshape(B, L, DI));
            Layout.WriteSlice(dxbc, 2, DI, sg.DB.Reshape(B, L, G * N));
            Layout.WriteSlice(dxbc, 2, DI + G * N, sg.DC.Reshape(B, L, G * N));
        });
        Conv1dGradients cg = null!;
        t.Time("bwd conv1d+SiLU", () => cg = Conv1d.Backward(dxbc, xBC, convW, m.Conv1d.Bias!.Data, silu: true));
        Tensor dz = null!;
        t.Time("bwd split (write slices)", () =>
        {
            dz = Tensor.Zeros(zxbcdt.Shape);
            Layout.WriteSlice(dz, 2, 0, ng.Dz!.Reshape(B, L, DI));
            Layout.WriteSlice(dz, 2, DI, cg.Dx!);
            Layout.WriteSlice(dz, 2, DI + c.ConvDim, dDtRaw);
        });
        t.Time("bwd in_proj GEMMs (dX, dW)", () =>
        {
            var dz2 = dz.Reshape(rows, c.DInProj);
            MatMul.Compute(dz2, m.InProj.Weight.Data);
            MatMul.Compute(dz2, u2, transA: true);
        });
    }

    /// <summary>The phases of <see cref="Mamba2.Step"/>, each timed.</summary>
    private static void StepPhases(Mamba2 m, Mamba2State state, Tensor xt, PhaseTimer t)
    {
        var c = m.Config;
        int batch = state.Batch;
        Tensor zxbcdt = null!, z = null!, xBC = null!, dtRaw = null!, xbc = null!, x = null!, b = null!, cc = null!, a = null!, y = null!, normed = null!;
        t.Time("in_proj GEMV", () => zxbcdt = MatMul.Compute(xt, m.InProj.Weight.Data, transB: true));
        t.Time("split copies", () =>
        {
            z = Layout.Narrow(zxbcdt, 1, 0, c.DInner);
            xBC = Layout.Narrow(zxbcdt, 1, c.DInner, c.ConvDim);
            dtRaw = Layout.Narrow(zxbcdt, 1, c.DInner + c.ConvDim, c.NHeads);
        });
        // The conv step shifts the window in place: step a copy so the state is advanced once per round (by Step).
        using var convState = state.ConvState.Clone();
        using var ssmState = state.SsmState.Clone();
        t.Time("conv1d step + SiLU", () => xbc = Conv1d.Step(convState, xBC, m.Conv1d.Weight.Data.Reshape(c.ConvDim, c.DConv), m.Conv1d.Bias!.Data, silu: true));
        t.Time("split copies", () =>
        {
            x = Layout.Narrow(xbc, 1, 0, c.DInner).Reshape(batch, c.NHeads, c.HeadDim);
            b = Layout.Narrow(xbc, 1, c.DInner, c.NGroups * c.DState).Reshape(batch, c.NGroups, c.DState);
            cc = Layout.Narrow(xbc, 1, c.DInner + c.NGroups * c.DState, c.NGroups * c.DState).Reshape(batch, c.NGroups, c.DState);
        });
        t.Time("a = -exp(A_log)", () => a = Elementwise.Scale(Elementwise.Unary(UnaryOp.Exp, m.ALog.Data), -1f));
        t.Time("SSD step (fused)", () => y = SsdScan.Step(ssmState, x, dtRaw, a, b, cc, m.D.Data, m.DtBias.Data));
        t.Time("gated RMSNorm", () => normed = Norms.GatedRmsNorm(y.Reshape(batch, c.DInner), z, m.Norm.Weight.Data, c.DInner / c.NGroups, (float)c.NormEps).Output);
        t.Time("out_proj GEMV", () => MatMul.Compute(normed, m.OutProj.Weight.Data, transB: true));
    }

    /// <summary>
    /// Sums the wall time and the process CPU time of each named phase per round; prints per-phase medians over rounds.
    /// With one thread (<c>--threads 1</c>) the CPU time barely depends on the machine's load; the wall time does.
    /// </summary>
    private sealed class PhaseTimer
    {
        private readonly List<string> _order = new();
        private readonly Dictionary<string, List<(double Wall, double Cpu)>> _rounds = new();
        private readonly Dictionary<string, (double Wall, double Cpu)> _current = new();

        public void Time(string phase, Action body)
        {
            var c0 = CompareHarness.ProcessCpu();
            long t0 = Stopwatch.GetTimestamp();
            body();
            double wall = Stopwatch.GetElapsedTime(t0).TotalMilliseconds, cpu = (CompareHarness.ProcessCpu() - c0).TotalMilliseconds;
            if (!_rounds.ContainsKey(phase))
            {
                _order.Add(phase);
                _rounds[phase] = new();
            }
            if (IsTotal(phase))
            {
                // A total closes a round of the other phases.
                _rounds[phase].Add((wall, cpu));
                Flush();
                return;
            }
            var (w, c) = _current.GetValueOrDefault(phase);
            _current[phase] = (w + wall, c + cpu);
        }

        public void Clear()
        {
            foreach (var list in _rounds.Values) list.Clear();
            _current.Clear();
        }

        private static bool IsTotal(string phase) => phase.StartsWith("total", StringComparison.Ordinal);

        private void Flush()
        {
            foreach (var (phase, t) in _current) _rounds[phase].Add(t);
            _current.Clear();
        }

        public void Print()
        {
            Flush();
            var phases = _order.Where(p => !IsTotal(p)).ToList();
            double sumWall = phases.Sum(p => CompareHarness.Median(_rounds[p].Select(t => t.Wall)));
            double sumCpu = phases.Sum(p => CompareHarness.Median(_rounds[p].Select(t => t.Cpu)));
            Console.WriteLine("| phase | median wall ms | median CPU ms | % of phases (CPU) |");
            Console.WriteLine("|---|---:|---:|---:|");
            foreach (var p in phases)
            {
                double w = CompareHarness.Median(_rounds[p].Select(t => t.Wall)), c = CompareHarness.Median(_rounds[p].Select(t => t.Cpu));
                Console.WriteLine($"| {p} | {w:F3} | {c:F3} | {100 * c / sumCpu:F1}% |");
            }
            Console.WriteLine($"| sum of phases | {sumWall:F3} | {sumCpu:F3} | |");
            foreach (var p in _order.Where(IsTotal))
                Console.WriteLine($"| {p} | {CompareHarness.Median(_rounds[p].Select(t => t.Wall)):F3} | {CompareHarness.Median(_rounds[p].Select(t => t.Cpu)):F3} | |");
        }
    }
}
