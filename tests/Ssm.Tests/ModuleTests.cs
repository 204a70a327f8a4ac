using Ssm.Kernels;

namespace Ssm.Tests;

public sealed class ModuleTests
{
    // A leaf with two parameters registered around a buffer (torch orders a module's parameters before its buffers).
    internal sealed class Leafy : Module, IForward
    {
        public Leafy(int n, int seed)
        {
            var rng = new Rng(seed);
            Weight = RegisterParameter("weight", new Parameter(rng.Normal(new[] { n })));
            Running = RegisterBuffer("running", Tensor.Zeros(new[] { n }));
            Bias = RegisterParameter("bias", new Parameter(rng.Normal(new[] { n })));
            Cache = RegisterBuffer("cache", Tensor.Zeros(new[] { 1 }), persistent: false);
        }

        public ModuleBuffer Cache { get; }

        public Parameter Weight { get; }
        public Parameter Bias { get; }
        public ModuleBuffer Running { get; }
        public Variable Forward(Variable x) => x * Weight + Bias;
    }

    // Registers a child before its own parameter: torch still lists the module's own parameters first.
    private sealed class Block : Module
    {
        public Block(int n, int seed)
        {
            Mixer = RegisterModule("mixer", new Leafy(n, seed));
            ALog = RegisterParameter("A_log", new Parameter(new Rng(seed + 100).Normal(new[] { n })));
            Norm = RegisterModule("norm", new Leafy(n, seed + 1));
        }

        public Leafy Mixer { get; }
        public Parameter ALog { get; }
        public Leafy Norm { get; }
    }

    private sealed class Net : Module
    {
        public Net(int n = 2, int seed = 0)
        {
            Layers = RegisterModule("layers", new ModuleList<Block>(new[] { new Block(n, seed), new Block(n, seed + 10) }));
            Head = RegisterParameter("head", new Parameter(new Rng(seed + 5).Normal(new[] { n })));
        }

        public ModuleList<Block> Layers { get; }
        public Parameter Head { get; }
    }

    private sealed class Tied : Module
    {
        public Tied()
        {
            Embedding = RegisterModule("embedding", new Leafy(3, 1));
            Head = RegisterModule("lm_head", Embedding);
        }

        public Leafy Embedding { get; }
        public Leafy Head { get; }
    }

    private sealed class Bad : Module
    {
        public void Register(string name) => RegisterParameter(name, new Parameter(Tensor.Zeros(new[] { 1 })));
        public void Child(string name, Module m) => RegisterModule(name, m);
    }

    // The orders below were printed by PyTorch 1.13 for the same structure (named_parameters, state_dict, named_modules).
    [Fact]
    public void NamesAndOrderMatchPyTorch()
    {
        var net = new Net();
        Assert.Equal(new[]
        {
            "head", "layers.0.A_log", "layers.0.mixer.weight", "layers.0.mixer.bias", "layers.0.norm.weight", "layers.0.norm.bias",
            "layers.1.A_log", "layers.1.mixer.weight", "layers.1.mixer.bias", "layers.1.norm.weight", "layers.1.norm.bias",
        }, net.NamedParameters().Select(x => x.Name));
        Assert.Equal(new[]
        {
            "head", "layers.0.A_log", "layers.0.mixer.weight", "layers.0.mixer.bias", "layers.0.mixer.running",
            "layers.0.norm.weight", "layers.0.norm.bias", "layers.0.norm.running", "layers.1.A_log", "layers.1.mixer.weight",
            "layers.1.mixer.bias", "layers.1.mixer.running", "layers.1.norm.weight", "layers.1.norm.bias", "layers.1.norm.running",
        }, net.StateDict().Keys);
        Assert.Equal(new[] { "", "layers", "layers.0", "layers.0.mixer", "layers.0.norm", "layers.1", "layers.1.mixer", "layers.1.norm" },
            net.NamedModules().Select(x => x.Name));
        Assert.Equal(new[] { "layers" }, net.NamedChildren().Select(x => x.Name));
        Assert.Same(net.Layers, Assert.Single(net.Children()));
        Assert.Same(net.Layers[1].Norm.Bias, net.NamedParameters().Single(x => x.Name == "layers.1.norm.bias").Parameter);
        Assert.Equal(new[] { "layers.0.mixer.running", "layers.0.mixer.cache", "layers.0.norm.running", "layers.0.norm.cache",
            "layers.1.mixer.running", "layers.1.mixer.cache", "layers.1.norm.running", "layers.1.norm.cache" },
            net.NamedBuffers().Select(x => x.Name)); // non-persistent buffers are listed but not saved
        Assert.Equal(11 * 2, net.ParameterCount());
        Assert.Equal(2, net.Layers.Count);
    }

    [Fact]
    public void TiedModulesAreListedOnceButSavedUnderEveryName()
    {
        var tied = new Tied();
        Assert.Equal(new[] { "embedding.weight", "embedding.bias" }, tied.NamedParameters().Select(x => x.Name));
        Assert.Equal(new[] { "", "embedding" }, tied.NamedModules().Select(x => x.Name));
        Assert.Equal(new[] { "embedding.weight", "embedding.bias", "embedding.running", "lm_head.weight", "lm_head.bias", "lm_head.running" },
            tied.StateDict().Keys);
        Assert.Same(tied.StateDict()["embedding.weight"], tied.StateDict()["lm_head.weight"]);

        // A checkpoint that stores the shared tensors once (under the first name) loads strictly.
        var source = new Tied();
        source.Embedding.Weight.Data.CopyFromHost<float>(new[] { 1f, 2f, 3f });
        var once = source.StateDict().Where(kv => kv.Key.StartsWith("embedding.")).ToDictionary(kv => kv.Key, kv => kv.Value);
        var result = tied.LoadStateDict(once);
        Assert.Empty(result.Missing);
        Assert.Equal(new[] { 1f, 2f, 3f }, tied.Head.Weight.Data.ToArray());
    }

    [Fact]
    public void RegistrationRejectsBadNamesDuplicatesAndCycles()
    {
        var bad = new Bad();
        bad.Register("a");
        Assert.Contains("already registered", Assert.Throws<ArgumentException>(() => bad.Register("a")).Message);
        Assert.Contains("contain no '.'", Assert.Throws<ArgumentException>(() => bad.Register("a.b")).Message);
        Assert.Throws<ArgumentException>(() => bad.Register(""));
        var outer = new Bad();
        outer.Child("inner", bad);
        Assert.Contains("form a tree", Assert.Throws<ArgumentException>(() => bad.Child("outer", outer)).Message);
        Assert.Throws<ArgumentException>(() => bad.Child("self", bad));
    }

    [Fact]
    public void TrainAndEvalPropagateToEveryDescendant()
    {
        var net = new Net();
        Assert.All(net.Modules(), m => Assert.True(m.IsTraining));
        Assert.Same(net, net.Eval());
        Assert.All(net.Modules(), m => Assert.False(m.IsTraining));
        net.Layers[0].Train();
        Assert.True(net.Layers[0].Mixer.IsTraining);
        Assert.False(net.Layers[1].Mixer.IsTraining);
        Assert.False(net.IsTraining);
        net.Train();
        Assert.All(net.Modules(), m => Assert.True(m.IsTraining));
    }

    [Fact]
    public void StateDictRoundTripCopiesValuesInPlace()
    {
        var source = new Net(seed: 1);
        source.Layers[1].Mixer.Running.Data.CopyFromHost<float>(new[] { 7f, 8f });
        var target = new Net(seed: 2);
        var weight = target.Layers[0].Mixer.Weight;
        var dataBefore = weight.Data;
        var result = target.LoadStateDict(source.StateDict());
        Assert.Empty(result.Missing);
        Assert.Empty(result.Unexpected);
        Assert.Same(dataBefore, weight.Data); // in place: the same tensors, new values
        foreach (var (name, t) in source.StateDict()) Assert.Equal(t.ToArray(), target.StateDict()[name].ToArray());
        Assert.Equal(new[] { 7f, 8f }, target.Layers[1].Mixer.Running.Data.ToArray());
        // Independent copies: changing the source afterwards does not touch the target.
        source.Head.Data.CopyFromHost<float>(new[] { 100f, 100f });
        Assert.NotEqual(100f, target.Head.Data.ToArray()[0]);
    }

    [Fact]
    public void LoadStateDictListsEveryProblemInOneMessageAndChangesNothing()
    {
        var net = new Net();
        var before = net.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        var state = new Dictionary<string, Tensor>(new Net(seed: 3).StateDict());
        state.Remove("layers.0.A_log");
        state.Remove("layers.1.norm.running");
        state["extra.weight"] = Tensor.Zeros(new[] { 2 });
        state["layers.1.mixer.weight"] = Tensor.Zeros(new[] { 3, 4 });
        state["head"] = Tensor.Zeros(new[] { 2 }, DType.Int64);

        var e = Assert.Throws<ArgumentException>(() => net.LoadStateDict(state));
        Assert.Contains("LoadStateDict: missing: [layers.0.A_log, layers.1.norm.running]; unexpected: [extra.weight]", e.Message);
        Assert.Contains("shape mismatch: layers.1.mixer.weight has [3, 4] in the checkpoint, expected [2]", e.Message);
        Assert.Contains("dtype mismatch: head is Int64 in the checkpoint, expected Float32", e.Message);
        foreach (var (name, t) in net.StateDict()) Assert.Equal(before[name], t.ToArray());

        // Non-strict: missing and unexpected names are reported, shape and dtype problems still throw.
        state["layers.1.mixer.weight"] = Tensor.Zeros(new[] { 2 });
        state["head"] = Tensor.Zeros(new[] { 2 });
        var result = net.LoadStateDict(state, strict: false);
        Assert.Equal(new[] { "layers.0.A_log", "layers.1.norm.running" }, result.Missing);
        Assert.Equal(new[] { "extra.weight" }, result.Unexpected);
        Assert.Equal(new[] { 0f, 0f }, net.Head.Data.ToArray());
        Assert.Equal(before["layers.0.A_log"], net.Layers[0].ALog.Data.ToArray());
        state["head"] = Tensor.Zeros(new[] { 1, 2 });
        Assert.Contains("shape mismatch: head", Assert.Throws<ArgumentException>(() => net.LoadStateDict(state, strict: false)).Message);
    }

    [Fact]
    public void ZeroGradToAndDispose()
    {
        var net = new Net();
        foreach (var p in net.Parameters()) p.Grad = Tensor.Ones(p.Shape).DetachFromScope();
        net.ZeroGrad();
        Assert.All(net.Parameters(), p => Assert.Null(p.Grad));

        var values = net.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        Assert.Same(net, net.To(Device.Cpu));
        foreach (var (name, t) in net.StateDict()) Assert.Equal(values[name], t.ToArray());

        var weight = net.Layers[0].Mixer.Weight.Data;
        var running = net.Layers[0].Mixer.Running.Data;
        net.Dispose();
        Assert.True(weight.IsDisposed);
        Assert.True(running.IsDisposed);
    }

    [Fact]
    public void SequentialChainsForwardAndNamesChildrenByIndex()
    {
        var a = new Leafy(3, 1);
        var b = new Leafy(3, 2);
        var seq = new Sequential(a, new Dropout(0.5f, seed: 1), b);
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight", "2.bias" }, seq.NamedParameters().Select(x => x.Name));
        Assert.Equal(3, seq.Count);
        seq.Eval();
        var x = new Variable(Tensor.From(new[] { 1f, 2f, 3f }, 3));
        var expected = b.Forward(a.Forward(x)).Data.ToArray();
        Assert.Equal(expected, seq.Forward(x).Data.ToArray());
        var e = Assert.Throws<ArgumentException>(() => seq.Add(new Net()));
        Assert.Contains("layer 3 (Net) does not implement IForward", e.Message);
    }
}
