#!/usr/bin/env bash
# Cluster benchmark entry point (`npm run bench:cluster -- [flags]`): 3 Herald servers against 3
# etcd 3.4 members (Debian etcd-server). Checks for taskset (util-linux) and etcd, then runs the
# orchestrator pinned to the client core; it pins the members to the server cores itself.
# Flags and environment variables are documented in bench/cluster/orchestrate.ts, e.g.
#   bash bench/cluster/run.sh --trials 3 --writes 200 --duration 2 --reps 1
#   bash bench/cluster/run.sh --systems herald
set -euo pipefail

cd "$(dirname "$0")/../.."

command -v taskset >/dev/null || { echo "bench: taskset (util-linux) is missing" >&2; exit 1; }
command -v etcd >/dev/null || echo "bench:cluster: etcd is missing (apt-get install etcd-server); only --systems herald will run" >&2

client_cpu="${BENCH_CLIENT_CPU:-1}"
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--client-cpu" ]; then j=$((i + 1)); client_cpu="${!j}"; fi
  case "${!i}" in --client-cpu=*) client_cpu="${!i#--client-cpu=}" ;; esac
done

export BENCH_COMMAND="${BENCH_COMMAND:-npm run bench:cluster${*:+ -- $*}}"
exec taskset -c "$client_cpu" node --import tsx bench/cluster/orchestrate.ts "$@"
