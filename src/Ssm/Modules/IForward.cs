namespace Ssm;

/// <summary>A module with a one-input, one-output forward pass; what <see cref="Sequential"/> chains.</summary>
public interface IForward
{
    /// <summary>Applies the module to <paramref name="x"/>.</summary>
    Variable Forward(Variable x);
}
