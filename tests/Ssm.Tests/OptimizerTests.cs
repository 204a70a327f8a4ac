using System.Text.Json;
using Ssm.Kernels;
using Ssm.Optim;

namespace Ssm.Tests;

public sealed class OptimizerTests
{
    /// <summary>tests/Data/optim_reference.json, written by optim_reference.py with torch.optim (see the script).</summary>
    private sealed class Reference
    {
        private readonly JsonElement _root;

        public Reference()
        {
            _root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "optim_reference.json"))).RootElement;
        }

        public static readonly string[] Names = { "w1", "b1", "w2" };
        public int[] Shape(string name) => _root.GetProperty("shapes").GetProperty(name).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        public float[] Floats(params string[] path)
        {
            var e = _root;
            foreach (var p in path) e = int.TryParse(p, out var i) && e.ValueKind == JsonValueKind.Array ? e[i] : e.GetProperty(p);
            return e.EnumerateArray().Select(v => v.GetSingle()).ToArray();
        }
        public double Number(params string[] path)
        {
            var e = _root;
            foreach (var p in path) e = e.GetProperty(p);
            return e.GetDouble();
        }
        public int Steps => _root.GetProperty("grads").GetArrayLength();
        public bool Skipped(int step, string name) => _root.GetProperty("skip").EnumerateArray().Any(s => s[0].GetInt32() == step && s[1].GetString() == name);

        public Dictionary<string, Parameter> Parameters()
            => Names.ToDictionary(n => n, n => new Parameter(Tensor.From(Floats("init", n), Shape(n))));

        public void SetGrads(Dictionary<string, Parameter> ps, int step)
        {
            foreach (var n in Names)
            {
                ps[n].ZeroGrad();
                if (!Skipped(step, n)) ps[n].Grad = Tensor.From(Floats("grads", step.ToString(), n), Shape(n)).DetachFromScope();
            }
        }
    }

    private static void Near(float[] expected, float[] actual, double rtol, double atol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= atol + rtol * Math.Abs(expected[i]),
                $"{what}[{i}]: {actual[i]:G9}, expected {expected[i]:G9}");
    }

    [Fact]
    public void AdamWWithTwoGroupsMatchesTorchTrajectoryAndState()
    {
        var r = new Reference();
        var ps = r.Parameters();
        var opt = new AdamW(new[]
        {
            new ParamGroup(new[] { ps["w1"], ps["b1"] }) { Lr = 1e-2, WeightDecay = 0.1 },
            new ParamGroup(new[] { ps["w2"] }, "ssm") { Lr = 3e-3, WeightDecay = 0, Betas = (0.8, 0.99), Eps = 1e-6 },
        });
        for (int t = 0; t < r.Steps; t++)
        {
            r.SetGrads(ps, t);
            opt.Step();
        }
        foreach (var n in Reference.Names) Near(r.Floats("adamw", n), ps[n].Data.ToArray(), 1e-5, 1e-6, n);
        var state = opt.StateDict();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal((long)r.Number("adamw_state", i.ToString(), "step"), opt.StepCount(i));
            Assert.Equal(r.Number("adamw_state", i.ToString(), "step").ToString(), state.Metadata[$"state.{i}.step"]);
            Near(r.Floats("adamw_state", i.ToString(), "exp_avg"), state.Tensors[$"state.{i}.exp_avg"].ToArray(), 1e-5, 1e-7, $"exp_avg {i}");
            Near(r.Floats("adamw_state", i.ToString(), "exp_avg_sq"), state.Tensors[$"state.{i}.exp_avg_sq"].ToArray(), 1e-5, 1e-9, $"exp_avg_sq {i}");
        }
        Assert.Equal(4, opt.StepCount(0));
        Assert.Equal(3, opt.StepCount(2)); // w2 had no gradient at one step
    }

    [Fact]
    public void SgdWithMomentumAndNesterovMatchesTorchTrajectory()
    {
        var r = new Reference();
        var ps = r.Parameters();
        var opt = new SGD(new[]
        {
            new ParamGroup(new[] { ps["w1"], ps["b1"] }) { Momentum = 0.9, WeightDecay = 0.01 },
            new ParamGroup(new[] { ps["w2"] }) { Lr = 0.1, Momentum = 0.8, Nesterov = true },
        }, lr: 0.05);
        for (int t = 0; t < r.Steps; t++)
        {
            r.SetGrads(ps, t);
            opt.Step();
        }
        foreach (var n in Reference.Names) Near(r.Floats("sgd", n), ps[n].Data.ToArray(), 1e-5, 1e-6, n);
    }

    [Fact]
    public void AdamWMatchesHandComputedStepsWithConstantGradient()
    {
        // With a constant gradient g the bias-corrected moments are exactly m̂ = g and v̂ = g², so each AdamW step is
        // p ← p·(1 − lr·wd) − lr·g/(|g| + eps), computed here in double.
        const double lr = 0.1, wd = 0.1, g = 0.5, eps = 1e-8;
        var p = new Parameter(Tensor.From(new[] { 1f, -2f }, 2));
        var opt = new AdamW(new[] { p }, lr: lr, weightDecay: wd);
        // By hand: step 1: 1·0.99 − 0.1 = 0.89, −2·0.99 − 0.1 = −2.08; step 2: 0.89·0.99 − 0.1 = 0.7811, −2.1592.
        double[][] byHand = { new[] { 0.89, -2.08 }, new[] { 0.7811, -2.1592 } };
        double[] expected = { 1, -2 };
        for (int t = 1; t <= 6; t++)
        {
            p.Grad = Tensor.Full(new[] { 2 }, (float)g).DetachFromScope();
            opt.Step();
            for (int i = 0; i < 2; i++) expected[i] = expected[i] * (1 - lr * wd) - lr * g / (Math.Abs(g) + eps);
            var actual = p.Data.ToArray();
            for (int i = 0; i < 2; i++)
            {
                Assert.Equal(expected[i], actual[i], 2e-6);
                if (t <= 2) Assert.Equal(byHand[t - 1][i], actual[i], 2e-6);
            }
        }
    }

    [Fact]
    public void ParameterGroupsApplyTheirOwnLrAndWeightDecay()
    {
        var net = new Dictionary<string, Parameter>
        {
            ["layers.0.mixer.in_proj.weight"] = new(Tensor.Full(new[] { 3 }, 2f)),
            ["layers.0.mixer.A_log"] = new(Tensor.Full(new[] { 3 }, 2f)),
            ["layers.0.mixer.D"] = new(Tensor.Full(new[] { 3 }, 2f)),
        };
        var groups = ParamGroups.Split(net.Select(kv => (kv.Key, kv.Value)), ParamGroups.LastNameIn("A_log", "D", "dt_bias"),
            lr: 0.5, weightDecay: 0, name: "ssm");
        Assert.Equal(new[] { "default", "ssm" }, groups.Select(g => g.Name));
        Assert.Same(net["layers.0.mixer.in_proj.weight"], Assert.Single(groups[0].Parameters));
        Assert.Equal(2, groups[1].Parameters.Count);

        // Zero gradients: AdamW only applies the decoupled weight decay p·(1 − lr·wd).
        var opt = new AdamW(groups, lr: 0.1, weightDecay: 0.2);
        Assert.Equal((0.1, 0.2, 0.5, 0.0), (groups[0].Lr, groups[0].WeightDecay, groups[1].Lr, groups[1].WeightDecay));
        foreach (var p in net.Values) p.Grad = Tensor.Zeros(new[] { 3 }).DetachFromScope();
        opt.Step();
        Assert.Equal(2f * (1 - 0.1f * 0.2f), net["layers.0.mixer.in_proj.weight"].Data.ToArray()[0], 6);
        Assert.Equal(2f, net["layers.0.mixer.A_log"].Data.ToArray()[0]);

        // SGD with unit gradients: each group moves by its own lr.
        var sgd = new SGD(ParamGroups.Split(net.Select(kv => (kv.Key, kv.Value)), ParamGroups.LastNameIn("A_log"), lr: 0.5), lr: 0.25);
        foreach (var p in net.Values) p.Grad = Tensor.Ones(new[] { 3 }).DetachFromScope();
        var before = net.ToDictionary(kv => kv.Key, kv => kv.Value.Data.ToArray()[0]);
        sgd.Step();
        Assert.Equal(before["layers.0.mixer.A_log"] - 0.5f, net["layers.0.mixer.A_log"].Data.ToArray()[0], 6);
        Assert.Equal(before["layers.0.mixer.D"] - 0.25f, net["layers.0.mixer.D"].Data.ToArray()[0], 6);
        Assert.False(ParamGroups.LastNameIn("D")("layers.0.mixer.Dx"));
    }

    [Fact]
    public void ClipGradNormMatchesTorch()
    {
        var r = new Reference();
        var ps = r.Parameters();
        r.SetGrads(ps, 0);
        double norm = GradClip.ClipGradNorm(ps.Values, r.Number("clip", "max_norm"));
        Assert.Equal(r.Number("clip", "total_norm"), norm, 1e-5);
        foreach (var n in Reference.Names) Near(r.Floats("clip", "grads", n), ps[n].Grad!.ToArray(), 1e-5, 1e-7, n);

        // Below the limit nothing changes; without gradients the norm is 0.
        var before = ps["w1"].Grad!.ToArray();
        Assert.Equal(1.5, GradClip.ClipGradNorm(ps.Values, 10), 1e-5);
        Assert.Equal(before, ps["w1"].Grad!.ToArray());
        Assert.Equal(0, GradClip.ClipGradNorm(new[] { new Parameter(Tensor.Zeros(new[] { 2 })) }, 1));
    }

    private static (Dictionary<string, Parameter>, AdamW, LrScheduler) Training(Reference r)
    {
        var ps = r.Parameters();
        var opt = new AdamW(ParamGroups.Split(ps.Select(kv => (kv.Key, kv.Value)), n => n == "w2", lr: 5e-3, weightDecay: 0), lr: 1e-2);
        return (ps, opt, new LrScheduler(opt, new CosineWithWarmup(2, 8, 0.1)));
    }

    [Fact]
    public void StateDictResumesTrainingExactly()
    {
        var r = new Reference();
        var (ps, opt, sched) = Training(r);
        void TrainStep(Dictionary<string, Parameter> p, AdamW o, LrScheduler s, int t)
        {
            r.SetGrads(p, t % r.Steps);
            o.Step();
            s.Step();
        }
        for (int t = 0; t < 3; t++) TrainStep(ps, opt, sched, t);

        // Snapshot (copies, as a checkpoint file would hold).
        var saved = opt.StateDict();
        var snapshot = new OptimizerState(saved.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value.Clone()),
            new Dictionary<string, string>(saved.Metadata));
        var paramSnapshot = ps.ToDictionary(kv => kv.Key, kv => kv.Value.Data.Clone());
        var schedSnapshot = sched.StateDict();
        var stateTensor = saved.Tensors["state.0.exp_avg"];

        for (int t = 3; t < 6; t++) TrainStep(ps, opt, sched, t);
        Assert.Same(stateTensor, opt.StateDict().Tensors["state.0.exp_avg"]); // state allocated once

        var (ps2, opt2, sched2) = Training(r);
        foreach (var (n, t) in paramSnapshot) ps2[n].Set(t);
        opt2.LoadStateDict(snapshot);
        sched2.LoadStateDict(schedSnapshot);
        for (int t = 3; t < 6; t++) TrainStep(ps2, opt2, sched2, t);

        foreach (var n in Reference.Names) Assert.Equal(ps[n].Data.ToArray(), ps2[n].Data.ToArray());
        Assert.Equal(opt.Groups.Select(g => g.Lr), opt2.Groups.Select(g => g.Lr));
        foreach (var (k, t) in opt.StateDict().Tensors) Assert.Equal(t.ToArray(), opt2.StateDict().Tensors[k].ToArray());
    }

    [Fact]
    public void LoadStateDictReportsEveryProblem()
    {
        var r = new Reference();
        var (ps, opt, _) = Training(r);
        r.SetGrads(ps, 0);
        opt.Step();
        var good = opt.StateDict();

        var sgd = new SGD(ps.Values, momentum: 0.9);
        Assert.Contains("from optimizer 'AdamW', expected 'SGD'", Assert.Throws<ArgumentException>(() => sgd.LoadStateDict(good)).Message);
        var oneGroup = new AdamW(ps.Values);
        Assert.Contains("the state has 2 parameter groups, expected 1", Assert.Throws<ArgumentException>(() => oneGroup.LoadStateDict(good)).Message);

        var tensors = new Dictionary<string, Tensor>(good.Tensors);
        var meta = new Dictionary<string, string>(good.Metadata);
        tensors.Remove("state.1.exp_avg_sq");
        tensors["state.0.exp_avg"] = Tensor.Zeros(new[] { 4, 3 });
        tensors["state.9.exp_avg"] = Tensor.Zeros(new[] { 1 });
        meta.Remove("param_groups.1.eps");
        meta["param_groups.0.params"] = "0";
        var before = opt.StateDict().Tensors["state.0.exp_avg"].ToArray();
        var e = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(new OptimizerState(tensors, meta)));
        Assert.Contains("group 0 ('default') has parameters [0] in the state, expected [0,1]", e.Message);
        Assert.Contains("missing param_groups.1.eps", e.Message);
        Assert.Contains("shape mismatch: state.0.exp_avg has [4, 3] in the state, expected [3, 4]", e.Message);
        Assert.Contains("missing state.1.exp_avg_sq", e.Message);
        Assert.Contains("unexpected: [state.9.exp_avg]", e.Message);
        Assert.Equal(before, opt.StateDict().Tensors["state.0.exp_avg"].ToArray()); // unchanged
    }

    [Fact]
    public void ConstructionChecksGroupsAndHyperparameters()
    {
        var p = new Parameter(Tensor.Zeros(new[] { 2 }));
        var q = new Parameter(Tensor.Zeros(new[] { 2 }));
        Assert.Contains("appears more than once", Assert.Throws<ArgumentException>(() =>
            new AdamW(new[] { new ParamGroup(new[] { p }), new ParamGroup(new[] { q, p }) })).Message);
        Assert.Contains("empty parameter list", Assert.Throws<ArgumentException>(() => new AdamW(Array.Empty<Parameter>())).Message);
        Assert.Contains("group 1 ('ssm') has beta2 1, expected in [0, 1)", Assert.Throws<ArgumentOutOfRangeException>(() =>
            new AdamW(new[] { new ParamGroup(new[] { p }), new ParamGroup(new[] { q }, "ssm") { Betas = (0.9, 1.0) } })).Message);
        Assert.Contains("sets momentum", Assert.Throws<ArgumentException>(() =>
            new AdamW(new[] { new ParamGroup(new[] { p }) { Momentum = 0.9 } })).Message);
        Assert.Contains("Nesterov", Assert.Throws<ArgumentException>(() => new SGD(new[] { p }, nesterov: true)).Message);
        Assert.Contains("Lr is not set", Assert.Throws<InvalidOperationException>(() => new ParamGroup(new[] { p }, "x").Lr).Message);

        // Torch defaults; a parameter without a gradient is skipped.
        var opt = new AdamW(new[] { p });
        Assert.Equal((1e-3, (0.9, 0.999), 1e-8, 1e-2), (opt.Groups[0].Lr, opt.Groups[0].Betas, opt.Groups[0].Eps, opt.Groups[0].WeightDecay));
        opt.Step();
        Assert.Equal(0, opt.StepCount(0));
        Assert.Empty(opt.StateDict().Tensors);
        p.Grad = Tensor.Ones(new[] { 2 }).DetachFromScope();
        opt.ZeroGrad();
        Assert.Null(p.Grad);
    }
}
