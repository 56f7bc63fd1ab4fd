#!/usr/bin/env bash
# Make sure a Docker engine answers, installing and starting one if possible.
#
#   scripts/docker-engine.sh          ensure an engine (exit 0), or exit 3 with
#                                     the reason when none can be had, so that
#                                     CI can report the container e2e "skipped"
#   scripts/docker-engine.sh stop     stop the dockerd this script started
#
# Order: an engine that already answers is used as is. Otherwise, as root on
# Debian: `apt-get install docker.io docker-compose` (Debian's engine, classic
# builder, docker-compose v1) and start `dockerd` in the background, logging
# to $DOCKERD_LOG. Nothing here is needed on a machine with Docker already set
# up.
#
# Debian's client (/usr/bin/docker) is put first on PATH by all scripts/*.sh:
# a newer client elsewhere on PATH may insist on buildx, which this engine
# lacks.
set -uo pipefail

export PATH="/usr/bin:/usr/sbin:$PATH"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/kub-network-dockerd.log}"
PIDFILE="${DOCKERD_PIDFILE:-/run/kub-network-dockerd.pid}"
START_TIMEOUT="${DOCKERD_START_TIMEOUT:-60}"

log()  { printf '[docker-engine] %s\n' "$*" >&2; }
skip() { printf '[docker-engine] no Docker engine: %s\n' "$*" >&2; exit 3; }

engine_up() { docker info >/dev/null 2>&1; }

if [[ "${1:-}" == stop ]]; then
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    pid="$(cat "$PIDFILE")"
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    rm -f "$PIDFILE"
  else
    log "no dockerd started by this script is running"
  fi
  exit 0
fi

if engine_up; then
  log "engine answers: $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
  exit 0
fi

[[ "$(id -u)" == 0 ]] || skip "not root, cannot install or start dockerd (start Docker yourself)"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[[ -x /usr/bin/docker ]] || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || skip "dockerd is not installed and there is no apt-get"
  log "installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "${missing[@]}" >/tmp/kub-network-apt.log 2>&1; then
    apt-get update -q >>/tmp/kub-network-apt.log 2>&1
    apt-get install -y -q "${missing[@]}" >>/tmp/kub-network-apt.log 2>&1 \
      || { tail -n 20 /tmp/kub-network-apt.log >&2; skip "apt-get install ${missing[*]} failed"; }
  fi
fi

# The package's service may have been started by apt (systemd machines).
for _ in 1 2 3; do engine_up && { log "engine answers"; exit 0; }; sleep 1; done

log "starting dockerd (log: $DOCKERD_LOG)"
mkdir -p "$(dirname "$DOCKERD_LOG")"
nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
echo $! >"$PIDFILE"
for _ in $(seq 1 "$START_TIMEOUT"); do
  if engine_up; then
    log "dockerd $(docker version -f '{{.Server.Version}}' 2>/dev/null) is up (pid $(cat "$PIDFILE"))"
    exit 0
  fi
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
  sleep 1
done
tail -n 20 "$DOCKERD_LOG" >&2
skip "dockerd did not come up (see $DOCKERD_LOG)"
