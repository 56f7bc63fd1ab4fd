#!/usr/bin/env bash
# The lesson end to end on a real Kubernetes, from nothing: a Docker engine and the images from
# our Dockerfiles (auth, users, tasks and the frontend), the local cluster (scripts/k8s-local.sh: built once, cached), the images moved
# into it without a registry, then scripts/k8s-e2e.py (every stage, the final manifests, the Helm
# chart), and the cluster taken down again whatever happened.
#
#   scripts/k8s-e2e.sh [k8s-e2e.py options, e.g. --only final]
#   scripts/k8s-e2e.sh --only 5-scale-out     stage 5 alone: 3 replicas of users and tasks on PostgreSQL
#
# Needs root. Exits 3 (after saying why) where no Docker engine can be had, like
# scripts/docker-engine.sh; otherwise 0 when every check passed, 1 when one failed.
# Set K8S_E2E_KEEP=1 to leave the cluster up afterwards (then: scripts/k8s-local.sh down).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/bin:/usr/sbin:$PATH"   # Debian's docker client, matching Debian's engine
IMAGES=(kub-network-auth:latest kub-network-users:latest kub-network-tasks:latest kub-network-frontend:latest)
# Stage 5's database: Docker's official image, or where nothing can be pulled the stand-in of the
# same name that scripts/airgap-images.sh builds. Loaded only when stage 5 runs.
DATABASE_IMAGE=postgres:15-bookworm
scale_out_wanted() { # all scenarios, or `--only` naming 5-scale-out or one built on it
  [[ " $* " != *" --only "* || " $* " == *" 5-scale-out "* || " $* " == *" 7-gateway "* \
    || " $* " == *" helm-gateway "* ]]
}
START=$SECONDS
phase() { printf '[k8s-e2e %4ds] %s\n' "$((SECONDS - START))" "$*" >&2; }

[[ $(id -u) == 0 ]] || { echo "k8s-e2e: needs root (kubelet, iptables)" >&2; exit 1; }
rc=0; scripts/docker-engine.sh || rc=$?
((rc == 0)) || exit "$rc"
scripts/airgap-images.sh
phase "images from Dockerfile.{auth,users,tasks,frontend}"
for image in "${IMAGES[@]}"; do
  name=${image%%:*}
  docker build -q -f "Dockerfile.${name#kub-network-}" -t "$image" . >/dev/null
done
docker image ls 'kub-network-*' --format '  {{.Repository}}:{{.Tag}} {{.Size}}' >&2
LOAD=("${IMAGES[@]}")
if scale_out_wanted "$@"; then
  docker image inspect "$DATABASE_IMAGE" >/dev/null 2>&1 \
    || { echo "k8s-e2e: no image $DATABASE_IMAGE in Docker (scripts/airgap-images.sh provides it)" >&2; exit 1; }
  LOAD+=("$DATABASE_IMAGE")
fi

TOOLS=$(scripts/k8s-tools.sh | tail -n 1)
phase "Kubernetes build (cached after the first run)"
scripts/k8s-local.sh build
phase "cluster up"
trap '[[ ${K8S_E2E_KEEP:-0} == 1 ]] || scripts/k8s-local.sh down' EXIT
eval "$(scripts/k8s-local.sh up)"
scripts/k8s-local.sh load-images "${LOAD[@]}"
phase "end-to-end checks"
python3 scripts/k8s-e2e.py --kubectl "$TOOLS/kubectl" --helm "$TOOLS/helm" "$@"
phase "done"
