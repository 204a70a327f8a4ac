using System.Globalization;
using ScottPlot;

namespace Ssm.Benchmarks.Compare;

/// <summary>One line of a <see cref="LogLogPlot"/>: (x, y) points in real units (plotted as log10), styled.</summary>
internal sealed record LogLogSeries(string Label, Color Color, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false,
    bool Square = false, bool Dotted = false);

/// <summary>
/// Log-log PNG plots of cost against sequence length for the compare reports (<see cref="AttentionReport"/>,
/// <see cref="LongVQReport"/>): each series as a line with markers, guide lines ∝ L and ∝ L² starting 0.3 decades
/// below the lowest value at the smallest L, ticks labelled with the real values.
/// </summary>
internal static class LogLogPlot
{
    public static void Save(IReadOnlyList<LogLogSeries> series, string title, string xLabel, string yLabel, string path)
    {
        var plot = new Plot();
        foreach (var line in series.Where(s => s.Points.Count > 0))
        {
            var points = line.Points.OrderBy(p => p.X).ToList();
            var s = plot.Add.Scatter(points.Select(p => Math.Log10(p.X)).ToArray(), points.Select(p => Math.Log10(p.Y)).ToArray());
            s.LegendText = line.Label;
            s.Color = line.Color;
            s.LinePattern = line.Dotted ? LinePattern.Dotted : line.Dashed ? LinePattern.Dashed : LinePattern.Solid;
            s.MarkerShape = line.Dotted ? MarkerShape.OpenCircle : line.Square ? MarkerShape.FilledSquare : MarkerShape.FilledCircle;
            s.MarkerSize = 6;
        }
        var all = series.SelectMany(s => s.Points).Select(p => (X: Math.Log10(p.X), Y: Math.Log10(p.Y))).ToList();
        if (all.Count > 0)
        {
            double x0 = all.Min(p => p.X), x1 = all.Max(p => p.X), yMin = all.Where(p => p.X == x0).Min(p => p.Y);
            foreach (var (slope, label) in new[] { (1.0, "∝ L"), (2.0, "∝ L²") })
            {
                var guide = plot.Add.Line(x0, yMin - 0.3, x1, yMin - 0.3 + slope * (x1 - x0));
                guide.LegendText = label;
                guide.Color = Colors.Black.WithAlpha(slope == 1 ? 0.35 : 0.6);
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

    // Values are stored as log10; the ticks show the real values.
    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => Math.Pow(10, v).ToString("G4", CultureInfo.InvariantCulture),
    };
}
