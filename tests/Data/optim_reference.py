# Regenerates optim_reference.json: torch.optim.AdamW / SGD trajectories and clip_grad_norm_ on fixed gradients.
# Run with a Python that has PyTorch (e.g. Debian's python3-torch): /usr/bin/python3 optim_reference.py
import json
import torch

torch.manual_seed(0)
shapes = {"w1": (3, 4), "b1": (4,), "w2": (5,)}
init = {k: torch.randn(s) for k, s in shapes.items()}
steps = 4
grads = [{k: torch.randn(s) for k, s in shapes.items()} for _ in range(steps)]
skip = {(2, "w2")}  # w2 has no gradient at step 2 (0-based): torch skips it and does not advance its step


def run(make_optimizer):
    params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
    opt = make_optimizer(params)
    for t in range(steps):
        for k, p in params.items():
            p.grad = None if (t, k) in skip else grads[t][k].clone()
        opt.step()
    return {k: p.detach().flatten().tolist() for k, p in params.items()}, opt


adamw, adamw_opt = run(lambda p: torch.optim.AdamW([
    {"params": [p["w1"], p["b1"]], "lr": 1e-2, "weight_decay": 0.1},
    {"params": [p["w2"]], "lr": 3e-3, "weight_decay": 0.0, "betas": (0.8, 0.99), "eps": 1e-6},
]))
adamw_state = {str(i): {"step": int(s["step"]), "exp_avg": s["exp_avg"].flatten().tolist(), "exp_avg_sq": s["exp_avg_sq"].flatten().tolist()}
               for i, s in enumerate(adamw_opt.state[p] for g in adamw_opt.param_groups for p in g["params"])}
sgd, _ = run(lambda p: torch.optim.SGD([
    {"params": [p["w1"], p["b1"]], "lr": 0.05, "momentum": 0.9, "weight_decay": 0.01},
    {"params": [p["w2"]], "lr": 0.1, "momentum": 0.8, "nesterov": True},
], lr=0.05))

clip_params = {k: torch.nn.Parameter(v.clone()) for k, v in init.items()}
for k, p in clip_params.items():
    p.grad = grads[0][k].clone()
total = torch.nn.utils.clip_grad_norm_(clip_params.values(), max_norm=1.5)

out = {
    "shapes": {k: list(s) for k, s in shapes.items()},
    "init": {k: v.flatten().tolist() for k, v in init.items()},
    "grads": [{k: v.flatten().tolist() for k, v in g.items()} for g in grads],
    "skip": [[t, k] for t, k in sorted(skip)],
    "adamw": adamw,
    "adamw_state": adamw_state,
    "sgd": sgd,
    "clip": {"max_norm": 1.5, "total_norm": float(total), "grads": {k: p.grad.flatten().tolist() for k, p in clip_params.items()}},
    "torch": torch.__version__,
}
with open("optim_reference.json", "w") as f:
    json.dump(out, f, indent=1)
