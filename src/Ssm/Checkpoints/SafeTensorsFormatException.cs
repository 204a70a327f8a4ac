namespace Ssm.Checkpoints;

/// <summary>A checkpoint file that is truncated, malformed or does not match what was expected.</summary>
public sealed class SafeTensorsFormatException : IOException
{
    /// <summary>Creates the exception with a message naming the file and the problem.</summary>
    public SafeTensorsFormatException(string message, Exception? inner = null) : base(message, inner) { }
}
