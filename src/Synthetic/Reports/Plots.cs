using ScottPlot;

namespace Ssm.Synthetic.Reports;

/// <summary>PNG plots of runs (ScottPlot): curves against steps or lengths, and heat maps (e.g. passkey length × depth).</summary>
public static class Plots
{
    /// <summary>One line per named series over shared or per-series x values; optional log scales and a vertical marker.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel,
        IEnumerable<(string Name, double[] X, double[] Y)> series, bool logX = false, bool logY = false, double? markX = null, string? markLabel = null)
    {
        var plot = new Plot();
        foreach (var (name, x, y) in series)
        {
            var xs = logX ? x.Select(Math.Log10).ToArray() : x;
            var ys = logY ? y.Select(v => Math.Log10(Math.Max(v, 1e-12))).ToArray() : y;
            var s = plot.Add.Scatter(xs, ys);
            s.LegendText = name;
            s.MarkerSize = x.Length > 60 ? 0 : 5;
        }
        if (markX is double m)
        {
            var line = plot.Add.VerticalLine(logX ? Math.Log10(m) : m);
            line.LinePattern = LinePattern.Dashed;
            if (markLabel is not null) line.LegendText = markLabel;
        }
        if (logX) plot.Axes.Bottom.TickGenerator = LogTicks();
        if (logY) plot.Axes.Left.TickGenerator = LogTicks();
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        Save(plot, path);
    }

    /// <summary>A heat map of <paramref name="values"/>[row, col] with labelled rows and columns.</summary>
    public static void HeatMap(string path, string title, double[,] values, string[] rowLabels, string[] colLabels, string rowAxis, string colAxis)
    {
        var plot = new Plot();
        var hm = plot.Add.Heatmap(values);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(hm);
        int rows = values.GetLength(0), cols = values.GetLength(1);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                var t = plot.Add.Text(values[r, c].ToString("0.00"), c, rows - 1 - r);
                t.LabelFontColor = Colors.White;
                t.LabelAlignment = Alignment.MiddleCenter;
            }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, cols).Select(i => (double)i).ToArray(), colLabels);
        plot.Axes.Left.SetTicks(Enumerable.Range(0, rows).Select(i => (double)(rows - 1 - i)).ToArray(), rowLabels);
        plot.Title(title);
        plot.XLabel(colAxis);
        plot.YLabel(rowAxis);
        Save(plot, path);
    }

    // Data on a log axis are stored as log10; ticks show the real values.
    private static ScottPlot.TickGenerators.NumericAutomatic LogTicks() => new()
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = v => Math.Pow(10, v).ToString("G4"),
    };

    private static void Save(Plot plot, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, 900, 560);
    }
}
