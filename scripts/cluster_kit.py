"""What scripts/k8s-e2e.py needs to drive a cluster and the services in it: one PASS/FAIL line
per check, kubectl (and helm) calls, and waits on the services (HTTP through service_kit.call: a new connection each time, as
curl in a loop makes them)."""

import json
import secrets
import subprocess
import time

from service_kit import call, poll

NAMESPACE = "default"
RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def note(text):
    print(f"      {text}", flush=True)


def is_error_json(body):
    return isinstance(body, dict) and isinstance(body.get("message"), str)


def watch_outage(probes, healthy, done, seconds, down=None):
    """Calls each probe in turn every 50 ms until done(unavailable, healed) or `seconds`.
    unavailable: each service's first 503 JSON message (starting from `down`, what an earlier
    watch saw: a probe in flight while the outage ends may wait it out and answer as usual);
    healed: the second at which it answered as usual (healthy[app]) again after one; other: every
    other answer (a status, or "no answer" in the probe's timeout)."""
    started = time.time()
    unavailable, healed, other = dict(down or {}), {}, {}
    while time.time() - started < seconds and not done(unavailable, healed):
        for app, probe in probes.items():
            try:
                status, body = probe()
            except OSError:
                status, body = "no answer", None
            if status == 503 and is_error_json(body):
                unavailable.setdefault(app, body["message"])
            elif status == healthy[app]:
                if app in unavailable:
                    healed.setdefault(app, round(time.time() - started, 1))
            else:
                other.setdefault(app, set()).add(status)
        time.sleep(0.05)
    return unavailable, healed, other


PART_OF = "app.kubernetes.io/part-of=kub-network"
# The Secrets of the README, each with the one key it is created with: auth's signing secret,
# and each caller's own key for auth (users-api's, tasks-api's; auth reads both).
SECRETS = {"auth-secret": "JWT_SECRET", "users-auth-key": "AUTH_API_KEY",
           "tasks-auth-key": "AUTH_API_KEY"}
# Every service's GET /metrics, apart from its public port (METRICS_PORT in the manifests).
METRICS_PORT = 9090


class Cluster:
    def __init__(self, kubectl, helm):
        self.kubectl, self.helm = kubectl, helm

    def run(self, *args, stdin=None, check=True, tool=None, both=False):
        """The command's stdout; with `both`, the whole CompletedProcess."""
        done = subprocess.run([tool or self.kubectl, *args], input=stdin, capture_output=True,
                              text=True, timeout=300)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done if both else done.stdout

    def get(self, *args):
        return json.loads(self.run("get", "-n", NAMESPACE, *args, "-o", "json"))

    def declared(self, kind, *source):
        """The names of the `kind` objects (e.g. "networkpolicy") that `kubectl apply <source>`
        creates: what a check expects comes from the manifests, not from a copy of their list."""
        out = self.run("apply", *source, "--dry-run=client", "-o", "name")
        return sorted(line.split("/", 1)[1] for line in out.split()
                      if line.split("/", 1)[0].split(".", 1)[0] == kind)

    def pods(self, app):
        items = self.get("pods", "-l", f"app.kubernetes.io/name={app},{PART_OF}")["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ready_pod(self, app, timeout=120, other_than=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for pod in self.pods(app):
                statuses = pod["status"].get("containerStatuses") or []
                if pod["metadata"]["name"] != other_than and statuses and all(s["ready"] for s in statuses):
                    return pod
            time.sleep(0.5)
        raise RuntimeError(f"no Ready {app} Pod within {timeout} s")

    def node_address(self):
        """The node's InternalIP, where NodePorts answer (`minikube ip` on minikube; kube-proxy
        in nftables mode never serves them on 127.0.0.1)."""
        if not getattr(self, "_node_address", None):
            node = json.loads(self.run("get", "nodes", "-o", "json"))["items"][0]
            self._node_address = next(a["address"] for a in node["status"]["addresses"]
                                      if a["type"] == "InternalIP")
        return self._node_address

    def node_url(self, node_port):
        return f"http://{self.node_address()}:{node_port}"

    def service_url(self, service):
        """http://NODE:PORT of a NodePort or LoadBalancer Service's first port."""
        return self.node_url(self.get("service", service)["spec"]["ports"][0]["nodePort"])

    def clean(self):
        """Deletes everything of the project in the namespace (autoscalers too: one left behind
        would scale the next scenario's Deployment) and stage 7's cluster-wide objects, the
        Secrets, and stage 5's database claim and the PersistentVolume the test made for it."""
        if self.helm:
            self.run("uninstall", "kub-network", "-n", NAMESPACE, check=False, tool=self.helm)
        self.run("delete", "-n", NAMESPACE, "deployment,statefulset,service,networkpolicy,"
                 "poddisruptionbudget,horizontalpodautoscaler,httproute,gateway,serviceaccount,"
                 "configmap,ingress", "-l", PART_OF,
                 "--ignore-not-found", "--wait=false")
        self.run("delete", "gatewayclass,clusterrole,clusterrolebinding", "-l", PART_OF,
                 "--ignore-not-found", "--wait=false")
        self.run("delete", "-n", NAMESPACE, "secret", *SECRETS, "postgres-secret",
                 "kub-network-tls", "--ignore-not-found")
        delete_pods = lambda: self.run("delete", "-n", NAMESPACE, "pod", "-l", PART_OF,
                                       "--grace-period=1", "--ignore-not-found", "--wait=false")
        delete_pods()
        deadline, last = time.time() + 90, time.time()
        while time.time() < deadline and self.get("pods", "-l", PART_OF)["items"]:
            if time.time() - last > 3:
                # Pods a ReplicaSet or StatefulSet still made while it was being deleted get the
                # same short grace period (a service waiting for its database at start-up does
                # not stop before it).
                delete_pods()
                last = time.time()
            time.sleep(0.5)
        self.run("delete", "-n", NAMESPACE, "pvc", "-l", PART_OF, "--ignore-not-found", "--wait=false")
        self.run("delete", "pv", "-l", PART_OF, "--ignore-not-found", "--wait=false")
        while time.time() < deadline and json.loads(
                self.run("get", "pv", "-l", PART_OF, "-o", "json"))["items"]:
            time.sleep(0.5)

    def create_secret(self, names=SECRETS):
        """The Secrets `names` (of SECRETS), as the README creates them, e.g.
        kubectl create secret generic users-auth-key --from-literal=AUTH_API_KEY="$(openssl rand -hex 32)"."""
        for name in names:
            self.run("create", "secret", "generic", name, "-n", NAMESPACE,
                     f"--from-literal={SECRETS[name]}={secrets.token_hex(32)}")


def wait_answering(url, timeout=60):
    """Until the service's GET /readyz answers 200."""
    return poll(lambda: call("GET", f"{url}/readyz", timeout=2)[0] == 200, timeout)


def wait_auth_reachable(url, timeout=30):
    """Until the service's GET /network says auth answers: a Pod being Ready is not yet enough,
    kube-proxy programs the Service's new endpoint a moment later."""

    def reachable():
        status, network = call("GET", f"{url}/network", timeout=3)
        return status == 200 and network["auth"]["reachable"]

    return poll(reachable, timeout)


def metrics_url(cluster, app, port=METRICS_PORT):
    """GET /metrics of a Ready Pod of `app`: on its own port (METRICS_PORT), straight to the Pod's
    address from the node; no Service publishes it."""
    return f"http://{cluster.ready_pod(app)['status']['podIP']}:{port}"
