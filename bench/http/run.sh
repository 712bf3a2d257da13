#!/usr/bin/env bash
# HTTP load harness entry point (`npm run bench:http -- [flags]`).
# Raises the open-file limit (10,000 parked watchers need as many sockets on each side), checks
# for taskset (util-linux), then runs the orchestrator pinned to the client core; it pins the
# servers to the server core itself. Flags and environment variables are documented in
# bench/http/orchestrate.ts, e.g.
#   bash bench/http/run.sh --duration 5 --reps 3
#   BENCH_WATCHERS=0 bash bench/http/run.sh
set -euo pipefail

cd "$(dirname "$0")/../.."

command -v taskset >/dev/null || { echo "bench: taskset (util-linux) is missing" >&2; exit 1; }

want=65536
hard="$(ulimit -Hn)"
if [ "$hard" != "unlimited" ] && [ "$hard" -lt "$want" ]; then
  # Raising the hard limit needs root; otherwise take what the hard limit allows.
  ulimit -Hn "$want" 2>/dev/null || want="$hard"
fi
ulimit -Sn "$want" 2>/dev/null || true
echo "bench:http: open-file limit $(ulimit -Sn)" >&2

client_cpu="${BENCH_CLIENT_CPU:-1}"
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--client-cpu" ]; then j=$((i + 1)); client_cpu="${!j}"; fi
  case "${!i}" in --client-cpu=*) client_cpu="${!i#--client-cpu=}" ;; esac
done

export BENCH_COMMAND="${BENCH_COMMAND:-npm run bench:http${*:+ -- $*}}"
exec taskset -c "$client_cpu" node --import tsx bench/http/orchestrate.ts "$@"
