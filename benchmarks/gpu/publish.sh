#!/usr/bin/env bash
# Publishes the benchmark runner (benchmarks/, mode `gpu`) self-contained for linux-x64 — the GPU machine has no .NET —
# into publish/gpu-runner/ (git-ignored) and packs it as publish/gpu-runner.tar.xz, which must stay under 64 MiB (the
# limit of what travels to the GPU machine). A compressed single file; not trimmed (PublishTrimmed breaks ILGPU).
#
#   benchmarks/gpu/publish.sh            then, on the GPU machine:  benchmarks/gpu/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/publish/gpu-runner"
archive="$root/publish/gpu-runner.tar.xz"
rm -rf "$dir" "$archive"
dotnet publish "$root/benchmarks/Ssm.Benchmarks.csproj" -c Release -r linux-x64 --self-contained -nologo -v quiet \
  -p:InvariantGlobalization=true -p:PublishSingleFile=true -p:EnableCompressionInSingleFile=true \
  -p:IncludeNativeLibrariesForSelfExtract=true -p:DebugType=none -o "$dir"
git -C "$root" rev-parse HEAD > "$dir/commit.txt" 2>/dev/null || true
tar -C "$root/publish" -cJf "$archive" gpu-runner
bytes=$(stat -c %s "$archive")
echo "publish.sh: $archive: $((bytes / 1024 / 1024)) MiB ($(du -sh "$dir" | cut -f1) unpacked)"
if ((bytes >= 64 * 1024 * 1024)); then
  echo "publish.sh: the archive is over 64 MiB and will not travel to the GPU machine" >&2
  exit 1
fi
