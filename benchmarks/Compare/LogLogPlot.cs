using System.Globalization;
using ScottPlot;

namespace Ssm.Benchmarks.Compare;

/// <summary>One line of a <see cref="LogLogPlot"/>: its legend label and its points (x, y) in data units (both &gt; 0).</summary>
public sealed record PlotSeries(string Label, IReadOnlyList<(double X, double Y)> Points)
{
    /// <summary>Series with the same key share a color (default: each series its own).</summary>
    public string? ColorKey { get; init; }

    /// <summary>Dashed line with square markers (e.g. the peer next to a solid line of the same color).</summary>
    public bool Dashed { get; init; }

    /// <summary>Dotted line with open markers (e.g. an extrapolation of a measured line); wins over <see cref="Dashed"/>.</summary>
    public bool Dotted { get; init; }
}

/// <summary>
/// Log-log line plots written as PNG: one line per <see cref="PlotSeries"/>, optional dotted guide lines of given slopes
/// (∝ x, ∝ x², … drawn through the lowest point at the smallest x, shifted down 0.3 decades), ticks labelled with the
/// real values.
/// </summary>
public static class LogLogPlot
{
    /// <summary>Writes the plot to <paramref name="path"/> (PNG, <paramref name="width"/> × <paramref name="height"/>).</summary>
    /// <param name="guideSlopes">Slopes of the guide lines, e.g. 1 and 2 for ∝ L and ∝ L².</param>
    /// <param name="variable">The name of x in the guides' labels ("∝ L").</param>
    public static void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series,
        IReadOnlyList<double>? guideSlopes = null, string variable = "L", int width = 1000, int height = 650)
    {
        var points = series.SelectMany(s => s.Points).Where(p => p.X > 0 && p.Y > 0).Select(p => (X: Math.Log10(p.X), Y: Math.Log10(p.Y))).ToList();
        if (points.Count == 0) throw new ArgumentException($"LogLogPlot: no positive points to plot in \"{title}\".", nameof(series));
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var colorKeys = series.Select(s => s.ColorKey ?? s.Label).Distinct().ToList();
        foreach (var s in series)
        {
            var line = s.Points.Where(p => p.X > 0 && p.Y > 0).OrderBy(p => p.X).ToList();
            var scatter = plot.Add.Scatter(line.Select(p => Math.Log10(p.X)).ToArray(), line.Select(p => Math.Log10(p.Y)).ToArray());
            scatter.LegendText = s.Label;
            scatter.Color = palette.GetColor(colorKeys.IndexOf(s.ColorKey ?? s.Label));
            scatter.LinePattern = s.Dotted ? LinePattern.Dotted : s.Dashed ? LinePattern.Dashed : LinePattern.Solid;
            scatter.MarkerShape = s.Dotted ? MarkerShape.OpenCircle : s.Dashed ? MarkerShape.FilledSquare : MarkerShape.FilledCircle;
            scatter.MarkerSize = 6;
        }
        double x0 = points.Min(p => p.X), x1 = points.Max(p => p.X), y0 = points.Where(p => p.X == x0).Min(p => p.Y) - 0.3;
        foreach (double slope in guideSlopes ?? Array.Empty<double>())
        {
            var guide = plot.Add.Line(x0, y0, x1, y0 + slope * (x1 - x0));
            guide.LegendText = "∝ " + Power(variable, slope);
            guide.Color = Colors.Black.WithAlpha(Math.Min(0.25 + 0.15 * slope, 0.8));
            guide.LinePattern = LinePattern.Dotted;
        }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        // Many lines (e.g. every Mamba-2 shape) get the legend beside the plot instead of over it.
        if (series.Count > 10) plot.ShowLegend(Edge.Right);
        else plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, series.Count > 10 ? width + 400 : width, height);
    }

    private static string Power(string variable, double slope) => slope switch
    {
        1 => variable,
        2 => variable + "²",
        3 => variable + "³",
        _ => $"{variable}^{slope.ToString("G3", CultureInfo.InvariantCulture)}",
    };

    // Values are stored as log10; the ticks show the real values.
    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => Math.Pow(10, v) is var x && x >= 1 && x < 1e7
            ? x.ToString("0", CultureInfo.InvariantCulture) : x.ToString("G4", CultureInfo.InvariantCulture),
    };
}
