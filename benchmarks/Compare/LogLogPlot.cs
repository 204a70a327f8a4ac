using System.Globalization;
using ScottPlot;

namespace Ssm.Benchmarks.Compare;

/// <summary>One line of a <see cref="LogLogPlot"/>: points (x, y) in real units (both positive), drawn solid with circles or dashed with squares.</summary>
internal sealed record LogLogSeries(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y, Color Color, bool Dashed = false);

/// <summary>
/// Log-log PNG plots of benchmark series (ScottPlot; values stored as log10, ticks labelled with the real values), with
/// dotted guide lines of given slopes (e.g. ∝ L, ∝ L²) starting below the lowest point at the smallest x.
/// </summary>
internal static class LogLogPlot
{
    public static void Save(string path, string title, string xLabel, string yLabel, IReadOnlyList<LogLogSeries> series,
        params (double Slope, string Label)[] guides)
    {
        var plot = new Plot();
        foreach (var line in series)
        {
            var s = plot.Add.Scatter(line.X.Select(Math.Log10).ToArray(), line.Y.Select(Math.Log10).ToArray());
            s.LegendText = line.Label;
            s.Color = line.Color;
            s.LinePattern = line.Dashed ? LinePattern.Dashed : LinePattern.Solid;
            s.MarkerShape = line.Dashed ? MarkerShape.FilledSquare : MarkerShape.FilledCircle;
            s.MarkerSize = 6;
        }
        var all = series.SelectMany(s => s.X.Zip(s.Y, (x, y) => (X: Math.Log10(x), Y: Math.Log10(y)))).ToList();
        if (all.Count > 0)
        {
            double x0 = all.Min(p => p.X), x1 = all.Max(p => p.X), yMin = all.Where(p => p.X == x0).Min(p => p.Y);
            foreach (var (slope, label) in guides)
            {
                var guide = plot.Add.Line(x0, yMin - 0.3, x1, yMin - 0.3 + slope * (x1 - x0));
                guide.LegendText = label;
                guide.Color = Colors.Black.WithAlpha(slope <= 1 ? 0.35 : 0.6);
                guide.LinePattern = LinePattern.Dotted;
            }
        }
        plot.Axes.Bottom.TickGenerator = LogTicks();
        plot.Axes.Left.TickGenerator = LogTicks();
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 1000, 650);
    }

    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => Math.Pow(10, v).ToString("G4", CultureInfo.InvariantCulture),
    };
}
