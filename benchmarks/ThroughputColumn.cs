using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Ssm.Benchmarks;

/// <summary>A summary column with work per call divided by the mean time: GFLOP/s or GB/s (work in flops or bytes).</summary>
public sealed class ThroughputColumn(string unit, Func<BenchmarkCase, double> workPerCall) : IColumn
{
    public string Id => "Throughput." + unit;
    public string ColumnName => unit;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => $"Work per call / mean time, in {unit}";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        var mean = summary[benchmarkCase]?.ResultStatistics?.Mean; // nanoseconds
        return mean is > 0 ? (workPerCall(benchmarkCase) / mean.Value).ToString("F1") : "NA";
    }

    /// <summary>The value of a [Params]/[ParamsSource] parameter of a case.</summary>
    public static T Param<T>(BenchmarkCase c, string name) => (T)c.Parameters[name];
}

/// <summary>A benchmark class that states the work of one call of a case, for a <see cref="ThroughputColumn"/>.</summary>
public interface IThroughput
{
    /// <summary>The column's unit; <see cref="Work"/> divided by nanoseconds must be in it (bytes → GB/s, flops → GFLOP/s).</summary>
    static abstract string Unit { get; }

    /// <summary>The work of one call of the case.</summary>
    static abstract double Work(BenchmarkCase c);
}

/// <summary>The config that adds <typeparamref name="T"/>'s throughput column: <c>[Config(typeof(ThroughputConfig&lt;T&gt;))]</c>.</summary>
public sealed class ThroughputConfig<T> : BenchmarkDotNet.Configs.ManualConfig where T : IThroughput
{
    public ThroughputConfig() => AddColumn(new ThroughputColumn(T.Unit, T.Work));
}
