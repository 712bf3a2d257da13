#!/usr/bin/env bash
# DNS load harness entry point (`npm run bench:dns -- [flags]`).
# Installs what it needs from Debian when missing (dnsperf, knot, dnsmasq-base; taskset comes
# with util-linux), waiting for the apt/dpkg lock instead of fighting it, then runs the node
# orchestrator. Flags and environment variables are documented in bench/dns/orchestrate.ts, e.g.
#   bash bench/dns/run.sh --duration 3 --reps 3
#   BENCH_SERVICES=10000 bash bench/dns/run.sh --servers herald,knot,node-responder
set -euo pipefail

cd "$(dirname "$0")/../.."

need=()
for pkg in dnsperf knot dnsmasq-base; do
  if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]; then
    need+=("$pkg")
  fi
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: missing Debian packages: ${need[*]} (run as root, or apt-get install them)" >&2
    exit 1
  fi
  echo "bench: installing ${need[*]}" >&2
  # DPkg::Lock::Timeout makes apt wait (up to 10 min) for another apt/dpkg to finish.
  # policy-rc.d, when present, keeps the packaged daemons from starting; the harness runs its own.
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"; then
    apt-get -o DPkg::Lock::Timeout=600 update
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${need[@]}"
  fi
fi
command -v taskset >/dev/null || { echo "bench: taskset (util-linux) is missing" >&2; exit 1; }

export BENCH_COMMAND="${BENCH_COMMAND:-bash bench/dns/run.sh $*}"
exec node --import tsx bench/dns/orchestrate.ts "$@"
