"""Stage 7, the Gateway (kubernetes/stages/7-gateway), on a real cluster (scripts/k8s-e2e.py).

Traefik, the Gateway implementation, is the one way in: https://kub-network.test/ at
gateway-service's NodePort on the node's address (pinned, as `curl --resolve` would, and
verified with the local CA that scripts/gateway-tls.sh makes; never without verification).
  - the Gateway and every HTTPRoute are accepted by Traefik, and no other Service of ours has a
    NodePort;
  - the chain verifies with the CA for kub-network.test; another name fails verification;
  - HTTP answers 301 to the same path over HTTPS; HTTPS answers carry HSTS;
  - the walk-through (POST /signup, POST /login, POST and GET /tasks) and the page's /api/ calls
    through the edge; every other route of users and tasks (/metrics, /openapi.json, /readyz,
    /healthz, /network) and all of auth's answer 404 at the edge;
  - two clients (two hosts of the test's own, in network namespaces) are throttled apart by
    users-api: one's burst of signups gets 429s, the other's signup still 201, and 40 more
    signups forging the other's address in X-Forwarded-For do not spend its allowance;
  - a figure: latency through the Gateway against straight to tasks-service;
  - users-hpa and tasks-hpa add replicas under load through the Gateway and go back to 2 after
    it, with 0 failed requests.
"""

import http.client
import json
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import k8s_scale_out
from cluster_kit import NAMESPACE, PART_OF, call, check, is_error_json, note
from service_kit import PINNED, connection_for, exchange, pin, poll

STAGE = "7-gateway"
ROOT = Path(__file__).resolve().parent.parent
HOST = "kub-network.test"
TLS_DIR = Path(tempfile.gettempdir()) / "kub-network-e2e-tls"
TLS_SECRET = "kub-network-tls"
HSTS = "max-age=31536000"
# Routes of users-api and tasks-api that the edge must not serve, and auth-api's (behind no route).
HIDDEN = ["/metrics", "/openapi.json", "/readyz", "/healthz", "/network", "/hashed-password",
          "/token", "/verify-token", "/api/users/metrics", "/api/tasks/readyz"]
# Two clients of the test's own, each a host in a network namespace behind a veth pair: a /30 of
# TEST-NET-2 (RFC 5737) each, apart from the policy matrix's 198.51.100.0/30.
CLIENTS = {"a": ("198.51.100.17", "198.51.100.18"), "b": ("198.51.100.21", "198.51.100.22")}


def tls_secret(cluster):
    """The TLS Secret, from a CA of the test's own (scripts/gateway-tls.sh). Returns the CA's file."""
    made = subprocess.run(["bash", str(ROOT / "scripts/gateway-tls.sh"), str(TLS_DIR), HOST],
                          capture_output=True, text=True, timeout=60, check=True)
    note(made.stderr.strip().replace("\n", "; "))
    cluster.run("delete", "-n", NAMESPACE, "secret", TLS_SECRET, "--ignore-not-found")
    cluster.run("create", "secret", "tls", TLS_SECRET, "-n", NAMESPACE,
                f"--cert={TLS_DIR / 'tls.crt'}", f"--key={TLS_DIR / 'tls.key'}")
    cluster.run("label", "-n", NAMESPACE, "secret", TLS_SECRET, PART_OF)
    return TLS_DIR / "ca.crt"


def apply_stage(cluster):
    """The Secrets and the volume of stage 5, the TLS Secret, then `kubectl apply -k
    kubernetes/stages/7-gateway`. Returns the CA's file."""
    cluster.create_secret()
    k8s_scale_out.create_postgres_secret(cluster)
    k8s_scale_out.provide_volume(cluster)
    ca_file = tls_secret(cluster)
    cluster.run("apply", "-k", str(ROOT / "kubernetes/stages" / STAGE))
    return ca_file


def edge_urls(cluster, ca_file):
    """https://kub-network.test:<NodePort> and http://…, kub-network.test pinned to the node."""
    ports = {p["name"]: p["nodePort"] for p in cluster.get("service", "gateway-service")["spec"]["ports"]}
    pin(HOST, cluster.node_address(), str(ca_file))
    return f"https://{HOST}:{ports['https']}", f"http://{HOST}:{ports['http']}"


def conditions(status):
    """{type: status} of a status block's conditions (an object's, or a route's per parent)."""
    return {c["type"]: c["status"] for c in status.get("conditions", [])}


def gateway_accepted(cluster, edge, name=STAGE):
    """Traefik has taken the Gateway (Accepted, Programmed) and every route (Accepted,
    ResolvedRefs), and answers HTTPS with the page."""
    def ready():
        gateway = conditions(cluster.get("gateway", "kub-network-gateway").get("status", {}))
        routes = cluster.get("httproutes", "-l", PART_OF)["items"]
        parents = [conditions(p) for r in routes for p in r.get("status", {}).get("parents", [])]
        return (gateway.get("Accepted") == gateway.get("Programmed") == "True" and len(routes) == 4
                and len(parents) == 4
                and all(p.get("Accepted") == p.get("ResolvedRefs") == "True" for p in parents)
                and call("GET", f"{edge}/", timeout=3)[0] == 200)
    started = time.time()
    ok = poll(ready, 120, every=1)
    gateway = cluster.get("gateway", "kub-network-gateway")
    routes = {r["metadata"]["name"]: [conditions(p) for p in r.get("status", {}).get("parents", [])]
              for r in cluster.get("httproutes", "-l", PART_OF)["items"]}
    check(f"{name}: Traefik accepted the Gateway and its 4 HTTPRoutes, and serves HTTPS",
          ok, f"{time.time() - started:.0f} s; Gateway {conditions(gateway.get('status', {}))}, addresses "
              f"{[a['value'] for a in gateway.get('status', {}).get('addresses', [])]}; routes {routes}")


def only_the_gateway_is_exposed(cluster):
    exposed = sorted(s["metadata"]["name"] for s in cluster.get("services", "-l", PART_OF)["items"]
                     if s["spec"]["type"] != "ClusterIP")
    check(f"{STAGE}: gateway-service is the only Service of ours with a way in from outside",
          exposed == ["gateway-service"], str(exposed))


def handshake(host, port, ca_file):
    """A TLS handshake with the edge naming `host` (SNI and the name verified), trusting `ca_file`
    or else the system's CAs: the certificate's subject and issuer, or why it failed."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    try:
        with socket.create_connection((edge_address(), port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            cert = tls.getpeercert()
            name = lambda field: dict(pair[0] for pair in cert[field])["commonName"]
            return f"verified: {name('subject')} from {name('issuer')}"
    except ssl.SSLError as error:
        return f"refused: {error.reason or error}"


def tls_verified(edge, ca_file, name=STAGE):
    port = int(edge.rsplit(":", 1)[1])
    ours, system, other = (handshake(HOST, port, str(ca_file)), handshake(HOST, port, None),
                           handshake("other.test", port, str(ca_file)))
    check(f"{name}: the chain verifies with the local CA for {HOST}; with the system's CAs, or "
          "for another name, the handshake fails",
          ours.startswith("verified") and system.startswith("refused") and other.startswith("refused"),
          f"{HOST} with the CA: {ours}; with the system's CAs: {system}; other.test: {other}")


def redirects_and_hsts(edge, plain, name=STAGE):
    status, _, headers = call("GET", f"{plain}/tasks?page=2", with_headers=True)
    location = headers.get("Location")
    check(f"{name}: HTTP answers 301 to the same path over HTTPS",
          status == 301 and location == f"https://{HOST}/tasks?page=2", f"{status} {location}")
    answers = {}
    for method, path, body in (("GET", "/", None), ("POST", "/login", {}), ("GET", "/tasks", None),
                               ("GET", "/api/users/network", None), ("GET", "/metrics", None)):
        status, _, headers = call(method, f"{edge}{path}", body, with_headers=True)
        answers[f"{method} {path}"] = (status, headers.get("Strict-Transport-Security"))
    check(f"{name}: HTTPS answers carry Strict-Transport-Security: {HSTS}",
          all(hsts == HSTS for _, hsts in answers.values()), str(answers))


def page_and_its_api(edge, token):
    """The page, and its /api/ calls routed by the Gateway to users and tasks (rewritten to their
    own paths)."""
    status, page = call("GET", f"{edge}/")
    calls = {path: call("GET", f"{edge}{path}", token=token)[0]
             for path in ("/api/users/network", "/api/tasks/network", "/api/tasks/tasks")}
    check(f"{STAGE}: the page and its /api/ calls through the edge",
          status == 200 and "<title>kub-network tasks</title>" in page
          and set(calls.values()) == {200}, f"/ {status}, {calls}")


def hidden_routes_404(edge, token, name=STAGE):
    answers = {path: call("GET", f"{edge}{path}", token=token)[0] for path in HIDDEN}
    answers["POST /api/auth/token"] = call("POST", f"{edge}/api/auth/token", {})[0]
    wrong_method = call("DELETE", f"{edge}/tasks", token=token)
    check(f"{name}: every other route of users and tasks, and all of auth, is 404 at the edge",
          set(answers.values()) == {404}, str(answers))
    check(f"{name}: a wrong method on a public path is the service's own 405 JSON",
          wrong_method[0] == 405 and is_error_json(wrong_method[1]), str(wrong_method))


def latency(edge, cluster, token, count=200):
    """p50 and p99 of GET /tasks, `count` on one kept-alive connection each way: through the
    Gateway (HTTPS, Traefik, a tasks Pod) and straight to tasks-service's ClusterIP (HTTP)."""
    service = f"http://{cluster.get('service', 'tasks-service')['spec']['clusterIP']}:8000"
    figures = {}
    for name, base in (("through the Gateway", edge), ("straight to tasks-service", service)):
        connection = connection_for(f"{base}/tasks")
        times = []
        try:
            for _ in range(count):
                started = time.perf_counter()
                status, _, _ = exchange(connection, "GET", "/tasks", token=token)
                times.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    raise OSError(f"{name}: {status}")
        finally:
            connection.close()
        times.sort()
        figures[name] = (statistics.median(times), times[int(len(times) * 0.99) - 1])
    note(f"{STAGE}: GET /tasks latency, {count} on one connection each: "
         + "; ".join(f"{name} p50 {p50:.2f} ms, p99 {p99:.2f} ms" for name, (p50, p99) in figures.items()))
    return figures


# What a client host runs: `count` signups through the edge, optionally with a forged
# X-Forwarded-For; prints their statuses as JSON.
CLIENT_CODE = """
import json, secrets, sys
sys.path.insert(0, sys.argv[1])
from service_kit import call, pin
edge, host, address, ca, count, forged = sys.argv[2:8]
pin(host, address, ca)
headers = {"X-Forwarded-For": forged} if forged else None
print(json.dumps([call("POST", f"{edge}/signup", {"email": f"edge-{secrets.token_hex(6)}@test.com",
                                                   "password": "testers"}, headers=headers)[0]
                  for _ in range(int(count))]))
"""


def client_host(name, route_to):
    host_side, client = CLIENTS[name]
    netns, host_if, netns_if = f"kub-edge-{name}", f"kub-edge-{name}h", f"kub-edge-{name}n"
    remove_client_host(name)
    for args in (["netns", "add", netns],
                 ["link", "add", host_if, "type", "veth", "peer", "name", netns_if, "netns", netns],
                 ["addr", "add", f"{host_side}/30", "dev", host_if], ["link", "set", host_if, "up"],
                 ["-n", netns, "addr", "add", f"{client}/30", "dev", netns_if],
                 ["-n", netns, "link", "set", netns_if, "up"], ["-n", netns, "link", "set", "lo", "up"],
                 ["-n", netns, "route", "add", f"{route_to}/32", "via", host_side]):
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)
    return netns


def remove_client_host(name):
    for args in (["netns", "del", f"kub-edge-{name}"], ["link", "del", f"kub-edge-{name}h"]):
        subprocess.run(["ip", *args], capture_output=True, timeout=30)


def signups_from(netns, edge, ca_file, count, forged=""):
    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT_CODE,
                           str(Path(__file__).parent), edge, HOST, edge_address(), str(ca_file),
                           str(count), forged], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"client in {netns}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def edge_address():
    return PINNED[HOST][0]


def clients_throttled_apart(cluster, edge, ca_file):
    """Client a signs up in a burst until users-api answers 429 (SIGNUP_LIMIT_PER_ADDRESS, 10/min,
    counted by each replica on its own); then client b's signup is 201. Then a sends 40 more
    signups naming b's address in X-Forwarded-For: believed, they would spend b's allowance on
    every replica; Traefik writes the header itself, so b's next signup is still 201. (What a's
    forged signups get is not asserted: a replica the autoscaler adds meanwhile, or a token that
    refills, lets one through; either way it is a's allowance.)"""
    # The autoscaler's replicas in place first: each new replica starts with full allowances.
    settled = poll(lambda: (lambda d, r, _: d is not None and d == r >= 2)(*replicas(cluster, "users")),
                   90, every=1)
    try:
        a, b = client_host("a", edge_address()), client_host("b", edge_address())
        burst = signups_from(a, edge, ca_file, 45)
        other = signups_from(b, edge, ca_file, 1)
        forged = signups_from(a, edge, ca_file, 40, forged=CLIENTS["b"][1])
        still = signups_from(b, edge, ca_file, 1)
    finally:
        for name in CLIENTS:
            remove_client_host(name)
    check(f"{STAGE}: two clients behind the Gateway are throttled apart by users-api",
          settled and burst.count(429) > 0 and set(burst) <= {201, 429} and other == [201]
          and set(forged) <= {201, 429} and still == [201],
          f"client a ({CLIENTS['a'][1]}): {burst.count(201)} created, {burst.count(429)} throttled; "
          f"client b ({CLIENTS['b'][1]}): {other}; a forging b's address: {forged.count(201)} "
          f"created, {forged.count(429)} throttled; b again: {still}")


class Load:
    """`threads` clients, each on one kept-alive HTTPS connection to the edge (verified), each
    repeating `path` with `pause` s between requests until stop(); every answer but a 200, and
    every broken connection (then opened anew), is a failure."""

    def __init__(self, edge, path, token, threads, pause):
        self.counts, self.failures, self.stopping = {"ok": 0, "failed": 0}, [], threading.Event()
        self.workers = [threading.Thread(target=self.run, args=(edge, path, token, pause))
                        for _ in range(threads)]
        for worker in self.workers:
            worker.start()

    def run(self, edge, path, token, pause):
        connection = None
        while not self.stopping.is_set():
            try:
                connection = connection or connection_for(edge, timeout=15)
                status, body, _ = exchange(connection, "GET", path, token=token)
                good = status == 200
            except (OSError, http.client.HTTPException) as error:
                status, body, good = "error", repr(error), False
                connection.close()
                connection = None
            self.counts["ok" if good else "failed"] += 1
            if not good and len(self.failures) < 5:
                self.failures.append(f"{path}: {status} {str(body)[:120]}")
            time.sleep(pause)
        if connection:
            connection.close()

    def stop(self):
        self.stopping.set()
        for worker in self.workers:
            worker.join()
        return self.counts


def replicas(cluster, app):
    """(the autoscaler's desired replicas, Ready Pods, the CPU use it last saw in % of requests)."""
    hpa = cluster.get("hpa", f"{app}-hpa")["status"]
    cpu = next((m["resource"]["current"].get("averageUtilization")
                for m in hpa.get("currentMetrics") or [] if m.get("type") == "Resource"), None)
    ready = cluster.get("deployment", f"{app}-deployment")["status"].get("readyReplicas", 0)
    return hpa.get("desiredReplicas"), ready, cpu


def autoscaling_rises_and_falls(cluster, edge, token):
    """users-hpa and tasks-hpa (2 to 6 replicas): under load through the Gateway (GET /tasks,
    GET /api/users/network, clients without pause) both add replicas; then, with a light load
    that goes on (a request every 0.1 s each), both go back to 2. Not one request fails in
    either direction."""
    apps = {"tasks": "/tasks", "users": "/api/users/network"}
    measured = poll(lambda: all(replicas(cluster, app)[2] is not None for app in apps), 120, every=2)
    light = {app: Load(edge, path, token, 1, 0.1) for app, path in apps.items()}
    heavy = {app: Load(edge, path, token, 3, 0) for app, path in apps.items()}
    started, peak, up = time.time(), {app: 2 for app in apps}, {}
    while time.time() - started < 240 and len(up) < len(apps):
        for app in apps:
            desired, ready, _ = replicas(cluster, app)
            peak[app] = max(peak[app], ready)
            if ready > 2:
                up.setdefault(app, round(time.time() - started))
        time.sleep(2)
    cpu = {app: replicas(cluster, app)[2] for app in apps}
    heavy_counts = {app: load.stop() for app, load in heavy.items()}
    calmed, down = time.time(), {}
    while time.time() - calmed < 300 and len(down) < len(apps):
        for app in apps:
            desired, ready, _ = replicas(cluster, app)
            peak[app] = max(peak[app], ready)
            if app in up and desired == 2 and ready == 2:
                down.setdefault(app, round(time.time() - calmed))
        time.sleep(2)
    light_counts = {app: load.stop() for app, load in light.items()}
    failed = sum(c["failed"] for c in [*heavy_counts.values(), *light_counts.values()])
    total = sum(c["ok"] + c["failed"] for c in [*heavy_counts.values(), *light_counts.values()])
    failures = [f for load in [*heavy.values(), *light.values()] for f in load.failures]
    check(f"{STAGE}: users-hpa and tasks-hpa add replicas under load through the Gateway and go "
          "back to 2 after it, 0 failed requests",
          measured and set(up) == set(apps) and set(down) == set(apps) and failed == 0 and total > 0,
          f"up to {peak} Ready ({up} s after the load began, CPU {cpu} % of requests), back to 2 "
          f"{down} s after it eased; {failed} failed of {total} {failures}")
    return up, down


def gateway_checks(cluster, edge, plain, ca_file, token):
    only_the_gateway_is_exposed(cluster)
    tls_verified(edge, ca_file)
    redirects_and_hsts(edge, plain)
    page_and_its_api(edge, token)
    hidden_routes_404(edge, token)
    clients_throttled_apart(cluster, edge, ca_file)
    latency(edge, cluster, token)
