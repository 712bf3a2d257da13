#!/usr/bin/env bash
# KV load harness entry point (`npm run bench:kv -- [flags]`): Herald's /v1/kv against etcd 3.4
# (Debian etcd-server) and the HTTP ceiling. Checks for taskset (util-linux) and etcd, then runs
# the orchestrator pinned to the client core; it pins the servers to the server core itself.
# Flags and environment variables are documented in bench/kv/orchestrate.ts, e.g.
#   bash bench/kv/run.sh --duration 5 --reps 3
#   bash bench/kv/run.sh --servers herald --cases put
set -euo pipefail

cd "$(dirname "$0")/../.."

command -v taskset >/dev/null || { echo "bench: taskset (util-linux) is missing" >&2; exit 1; }
command -v etcd >/dev/null || echo "bench:kv: etcd is missing (apt-get install etcd-server); only --servers herald will run" >&2

client_cpu="${BENCH_CLIENT_CPU:-1}"
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--client-cpu" ]; then j=$((i + 1)); client_cpu="${!j}"; fi
  case "${!i}" in --client-cpu=*) client_cpu="${!i#--client-cpu=}" ;; esac
done

export BENCH_COMMAND="${BENCH_COMMAND:-npm run bench:kv${*:+ -- $*}}"
exec taskset -c "$client_cpu" node --import tsx bench/kv/orchestrate.ts "$@"
