using Ssm.Kernels;

namespace Ssm;

public static partial class F
{
    /// <summary>
    /// The Mamba-2 SSD scan (see <see cref="Kernels.SsdScan"/>): s_t = exp(Δ_t a)·s_{t−1} + Δ_t x_t B_tᵀ,
    /// y_t = s_t C_t + D x_t, computed in chunks of <paramref name="chunk"/> steps. x [batch, length, heads, headdim],
    /// dt [batch, length, heads] (Δ, positive), a [heads] (negative), B and C [batch, length, groups, state], D [heads]
    /// or null, initialState [batch, heads, headdim, state] or null. Returns y and the final state
    /// [batch, heads, headdim, state]; both are differentiable through one fused, hand-written backward.
    /// </summary>
    public static (Variable Y, Variable FinalState) SsdScan(Variable x, Variable dt, Variable a, Variable B, Variable C,
        Variable? D = null, Variable? initialState = null, int chunk = 256)
    {
        var (y, final) = Kernels.SsdScan.Forward(x.Data, dt.Data, a.Data, B.Data, C.Data, D?.Data, initialState?.Data, chunk);
        var inputs = new List<Variable> { x, dt, a, B, C };
        if (D is not null) inputs.Add(D);
        if (initialState is not null) inputs.Add(initialState);
        var outputs = Autograd.RecordMany(new[] { y, final }, "SsdScan", inputs.ToArray(), g =>
        {
            var r = Kernels.SsdScan.Backward(x.Data, dt.Data, a.Data, B.Data, C.Data, D?.Data, initialState?.Data, chunk, g[0], g[1]);
            var grads = new List<Tensor?> { Keep(x, r.Dx), Keep(dt, r.Ddt), Keep(a, r.Da), Keep(B, r.DB), Keep(C, r.DC) };
            if (D is not null) grads.Add(Keep(D, r.DD!));
            if (initialState is not null) grads.Add(Keep(initialState, r.DInitialState!));
            return grads.ToArray();
        });
        return (outputs[0], outputs[1]);
    }

    /// <summary>
    /// The Mamba-1 selective scan (see <see cref="Kernels.SelectiveScan"/>): h_t = exp(Δ_t A_d) ⊙ h_{t−1} + Δ_t u_t B_t,
    /// y_t = C_t·h_t + D_d u_t, out = y·SiLU(z) when z is given. u, delta, z [batch, length, channels]; A [channels,
    /// state]; B, C [batch, length, state]; D [channels]; initialState [batch, channels, state]. Returns out and the
    /// final state, both differentiable through one hand-written backward.
    /// </summary>
    public static (Variable Y, Variable FinalState) SelectiveScan(Variable u, Variable delta, Variable A, Variable B, Variable C,
        Variable? D = null, Variable? z = null, Variable? initialState = null)
    {
        var (y, final) = Kernels.SelectiveScan.Forward(u.Data, delta.Data, A.Data, B.Data, C.Data, D?.Data, z?.Data, initialState?.Data);
        var inputs = new List<Variable> { u, delta, A, B, C };
        if (D is not null) inputs.Add(D);
        if (z is not null) inputs.Add(z);
        if (initialState is not null) inputs.Add(initialState);
        var outputs = Autograd.RecordMany(new[] { y, final }, "SelectiveScan", inputs.ToArray(), g =>
        {
            var r = Kernels.SelectiveScan.Backward(u.Data, delta.Data, A.Data, B.Data, C.Data, D?.Data, z?.Data, initialState?.Data, g[0], g[1]);
            var grads = new List<Tensor?> { Keep(u, r.Du), Keep(delta, r.Ddelta), Keep(A, r.DA), Keep(B, r.DB), Keep(C, r.DC) };
            if (D is not null) grads.Add(Keep(D, r.DD!));
            if (z is not null) grads.Add(Keep(z, r.Dz!));
            if (initialState is not null) grads.Add(Keep(initialState, r.DInitialState!));
            return grads.ToArray();
        });
        return (outputs[0], outputs[1]);
    }

    /// <summary>The gradient when <paramref name="input"/> needs one; otherwise disposes it and returns null.</summary>
    private static Tensor? Keep(Variable input, Tensor gradient)
    {
        if (input.RequiresGrad) return gradient;
        gradient.Dispose();
        return null;
    }
}
