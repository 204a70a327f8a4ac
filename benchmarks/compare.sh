#!/usr/bin/env bash
# Side-by-side comparison of Ssm (.NET) with the PyTorch peer on this machine, same shapes, same thread count,
# alternating rounds. Prints a table (report.py) and leaves the raw JSON lines and the table in the output folder, with
# log-log plots of time (and peak memory) against L for the cases with a sequence length and their table (scaling.md),
# written by the .NET report mode (Compare/CompareReport.cs).
#
#   benchmarks/compare.sh [--threads N] [--rounds R] [--reps R] [--small] [--max-tokens N] [--where k=v,..] [--out DIR] [CASE ...]
#
# CASE is a name with a peer script benchmarks/peer/CASE.py and a .NET compare case of the same name
# (benchmarks/Compare/, shapes in benchmarks/cases.json); default: every peer script (peer/common.py and scripts named
# _*.py are shared code and tools, not cases). --max-tokens skips shapes whose batch × length exceeds N (memory and time on small
# machines); --where keeps the shapes whose listed cases.json keys have those values (e.g. d_model=768,length=4096).
# The machine limits (FMA peak, triad bandwidth) are measured by the .NET side in every round.
# The peer is Debian's python3-torch with libopenblas0-pthread (installed here with apt when missing), OpenBLAS pinned
# to the right core type (it misdetects some AVX-512 CPUs) and to N threads, like torch and the .NET side.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"

threads="${SSM_THREADS:-$(nproc)}"
rounds=3
reps=7
small=""
maxtok=()
where=()
out="$root/out/compare"
cases=()
while (($#)); do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --small) small="--small"; shift ;;
    --max-tokens) maxtok=(--max-tokens "$2"); shift 2 ;;
    --where) where=(--where "$2"); shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
    *) cases+=("$1"); shift ;;
  esac
done
if ((${#cases[@]} == 0)); then
  for f in "$here"/peer/*.py; do
    name="$(basename "$f" .py)"
    [[ "$name" == common || "$name" == _* ]] || cases+=("$name")
  done
fi
for c in "${cases[@]}"; do
  [[ -f "$here/peer/$c.py" ]] || { echo "compare.sh: no peer script benchmarks/peer/$c.py" >&2; exit 2; }
done

# ---- the peer: system python3 + Debian's torch + OpenBLAS (pthread build) ----------------------------------------------
python=/usr/bin/python3
missing=()
"$python" -c "import torch" 2>/dev/null || missing+=(python3-torch)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || missing+=(libopenblas0-pthread)
if ((${#missing[@]})); then
  echo "compare.sh: installing ${missing[*]} with apt" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; else export OPENBLAS_CORETYPE=Haswell; fi
export OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" SSM_THREADS="$threads"

# ---- the .NET side ----------------------------------------------------------------------------------------------------
dotnet build "$here/Ssm.Benchmarks.csproj" -c Release -v quiet -nologo >&2
dll="$here/bin/Release/net10.0/Ssm.Benchmarks.dll"

mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(getconf _NPROCESSORS_ONLN) cores; threads: $threads"
  echo "dotnet: $(dotnet --version); torch: $("$python" -c 'import torch; print(torch.__version__)'); OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
  echo "command: benchmarks/compare.sh --threads $threads --rounds $rounds --reps $reps $small ${maxtok[*]} ${where[*]} ${cases[*]}"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"
cat "$out/machine.txt" >&2

run_ssm() { dotnet "$dll" compare "$1" --threads "$threads" --reps "$reps" --round "$2" $small "${maxtok[@]}" "${where[@]}" --json "$results" >&2; }
run_peer() { "$python" "$here/peer/$1.py" --threads "$threads" --reps "$reps" --round "$2" $small "${maxtok[@]}" "${where[@]}" --json "$results" >&2; }

for ((r = 0; r < rounds; r++)); do
  echo "== round $((r + 1))/$rounds" >&2
  run_ssm limits "$r"
  for c in "${cases[@]}"; do
    # Alternate which side goes first so that drifting machine load does not favour one side.
    if ((r % 2 == 0)); then run_peer "$c" "$r"; run_ssm "$c" "$r"; else run_ssm "$c" "$r"; run_peer "$c" "$r"; fi
  done
done

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
{ cat "$out/machine.txt"; echo; python3 "$here/report.py" "$results"; } | tee "$out/table.md"
dotnet "$dll" report "$results" --out "$out" > /dev/null
