"""What scripts/k8s-e2e.py needs to drive a cluster and the services in it: kubectl (and helm)
calls, and HTTP calls over a new connection each, as curl in a loop makes them."""

import http.client
import json
import secrets
import subprocess
import time

NAMESPACE = "default"
PART_OF = "app.kubernetes.io/part-of=kub-network"


class Cluster:
    def __init__(self, kubectl, helm):
        self.kubectl, self.helm = kubectl, helm

    def run(self, *args, stdin=None, check=True, tool=None):
        done = subprocess.run([tool or self.kubectl, *args], input=stdin, capture_output=True,
                              text=True, timeout=300)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def get(self, *args):
        return json.loads(self.run("get", "-n", NAMESPACE, *args, "-o", "json"))

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

    def node_port(self, service):
        return self.get("service", service)["spec"]["ports"][0]["nodePort"]

    def clean(self):
        """Deletes everything of the project in the namespace, and the Secret."""
        if self.helm:
            self.run("uninstall", "kub-network", "-n", NAMESPACE, check=False, tool=self.helm)
        self.run("delete", "-n", NAMESPACE, "deployment,service,networkpolicy", "-l", PART_OF,
                 "--ignore-not-found", "--wait=false")
        self.run("delete", "-n", NAMESPACE, "secret", "auth-secret", "--ignore-not-found")
        self.run("delete", "-n", NAMESPACE, "pod", "-l", PART_OF, "--grace-period=1",
                 "--ignore-not-found", "--wait=false")
        deadline = time.time() + 90
        while time.time() < deadline and self.get("pods", "-l", PART_OF)["items"]:
            time.sleep(0.5)

    def create_secret(self):
        # The README's command: kubectl create secret generic auth-secret --from-literal=JWT_SECRET="$(openssl rand -hex 32)"
        self.run("create", "secret", "generic", "auth-secret", "-n", NAMESPACE,
                 f"--from-literal=JWT_SECRET={secrets.token_hex(32)}")


def call(method, url, body=None, token=None, timeout=5.0):
    """(status, JSON body) over a new connection; raises OSError when nothing answers."""
    host, _, path = url.removeprefix("http://").partition("/")
    connection = http.client.HTTPConnection(host, timeout=timeout)
    headers = {"Connection": "close"}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, "/" + path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw or b"null")
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        connection.close()


def wait_answering(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if call("GET", f"{url}/readyz", timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def wait_auth_reachable(url, timeout=30):
    """Until the service's GET /network says auth answers: a Pod being Ready is not yet enough,
    kube-proxy programs the Service's new endpoint a moment later."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            status, network = call("GET", f"{url}/network", timeout=3)
            if status == 200 and network["auth"]["reachable"]:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False
