#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root with publish/gpu-runner.tar.xz present (benchmarks/gpu/publish.sh;
# name publish/gpu-runner.tar.xz in the device run's carry):
#   1. the CUDA parity checks of every op family against the CPU backend and the GPU timings of the main kernels
#      (Ssm.Benchmarks gpu, SSM_DEVICE=cuda) → $OUT/ssm-gpu.json
#   2. the PyTorch-CUDA peer on the same shapes (peer_cuda.py reads them from ssm-gpu.json) → $OUT/torch-cuda.json
#   3. a Markdown table of both (report_gpu.py) → $OUT/gpu-table.md
#
#   benchmarks/gpu/run.sh [runner options, e.g. --reps 20]        OUT defaults to ./out/gpu
# With SSM_DEVICE=ilgpu-cpu and --tiny the same script checks the runner end to end without a GPU.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/benchmarks/gpu"
out="${OUT:-$root/out/gpu}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tar -C "$work" -xJf "$root/publish/gpu-runner.tar.xz"
export SSM_DEVICE="${SSM_DEVICE:-cuda}"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "runner commit: $(cat "$work/gpu-runner/commit.txt" 2>/dev/null || echo unknown)"
  echo "SSM_DEVICE: $SSM_DEVICE"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.memory,driver_version --format=csv,noheader \
    | sed 's/^/gpu: /'
  echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
} | tee "$out/machine.txt"

status=0
"$work/gpu-runner/Ssm.Benchmarks" gpu --out "$out/ssm-gpu.json" "$@" || status=$?
echo "run.sh: runner exit code $status (1 = a parity check failed)" | tee -a "$out/machine.txt"
python=python3
if [[ "$SSM_DEVICE" == cuda ]] && "$python" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  "$python" "$here/peer_cuda.py" --shapes "$out/ssm-gpu.json" --out "$out/torch-cuda.json" || echo "run.sh: the PyTorch-CUDA peer failed" >&2
fi
"$python" "$here/report_gpu.py" "$out/ssm-gpu.json" "$out/torch-cuda.json" | tee "$out/gpu-table.md"
exit "$status"
