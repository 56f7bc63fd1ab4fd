"""The chart's edge on a real cluster (scripts/k8s-e2e.py, scenario helm-gateway).

Stage 7's Gateway implementation (kubernetes/stages/7-gateway/traefik) applied once, as a team
installs Traefik apart from the services; then `helm install --set gateway.enabled=true` with the
TLS Secret and the CA's ConfigMap, and:
  - Traefik accepts the chart's Gateway and its 4 HTTPRoutes;
  - `helm test`: the chart's own test Pod (templates/tests/gateway-routes-test.yaml) asks the
    Gateway for the public routes, the hidden ones, a name the certificate lacks and the HTTP
    redirect, from inside the cluster, over HTTPS verified with the CA;
  - from outside, through gateway-service's NodePort: the walk-through, every hidden route 404,
    the redirect and HSTS.
"""

from pathlib import Path

import k8s_gateway
from cluster_kit import NAMESPACE, PART_OF, check

SCENARIO = "helm-gateway"
ROOT = Path(__file__).resolve().parent.parent
CA_CONFIG_MAP = "kub-network-ca"  # the chart's gateway.tests.caConfigMap.name


def install(cluster):
    """Secrets, CA, implementation, chart. Returns the CA's file."""
    cluster.clean()
    cluster.create_secret()
    ca_file = k8s_gateway.tls_secret(cluster)
    cluster.run("delete", "-n", NAMESPACE, "configmap", CA_CONFIG_MAP, "--ignore-not-found")
    cluster.run("create", "configmap", CA_CONFIG_MAP, "-n", NAMESPACE, f"--from-file=ca.crt={ca_file}")
    cluster.run("label", "-n", NAMESPACE, "configmap", CA_CONFIG_MAP, PART_OF)
    cluster.run("apply", "-k", str(ROOT / "kubernetes/stages/7-gateway/traefik"))
    cluster.run("install", "kub-network", str(ROOT / "charts/kub-network"), "-n", NAMESPACE,
                "--set", "gateway.enabled=true", "--wait", "--timeout", "3m", tool=cluster.helm)
    cluster.run("wait", "-n", NAMESPACE, "--for=condition=Available", "deployment/gateway-deployment",
                "--timeout=120s")
    return ca_file


def helm_test(cluster):
    done = cluster.run("test", "kub-network", "-n", NAMESPACE, "--logs", "--timeout", "2m",
                       check=False, tool=cluster.helm, both=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    check(f"{SCENARIO}: helm test, the chart's test Pod through the Gateway (inside the cluster, "
          "TLS verified with the CA)",
          done.returncode == 0 and lines and not any(line.startswith("FAIL") for line in lines),
          f"exit {done.returncode}: " + "; ".join(lines)
          + (f"; {done.stderr.strip()[-600:]}" if done.returncode else ""))


def run(cluster, walk_through):
    ca_file = install(cluster)
    edge, plain = k8s_gateway.edge_urls(cluster, ca_file)
    k8s_gateway.gateway_accepted(cluster, edge, name=SCENARIO)
    helm_test(cluster)
    token = walk_through(SCENARIO, edge, edge)
    k8s_gateway.tls_verified(edge, ca_file, name=SCENARIO)
    k8s_gateway.redirects_and_hsts(edge, plain, name=SCENARIO)
    k8s_gateway.hidden_routes_404(edge, token, name=SCENARIO)
