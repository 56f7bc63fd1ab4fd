"""Who reaches what, with the NetworkPolicies and without them (scripts/k8s-e2e.py, after the final
manifests); and the namespace's Pod Security label.

From an unlabelled Pod in `default`, the frontend Pod, a users and a tasks Pod (an ephemeral debug
container: our images have no shell; it shares the Pod's network namespace, so the Pod's policies
apply), an unlabelled Pod in another namespace and one there labelled like users', all with bash
from the frontend's image; to auth:80, users:8080, tasks:8000, postgres:5432 (Pod addresses: what
policies see; stage 5's database is applied for it), the cluster DNS (UDP lookup, TCP connect) and
198.51.100.2, the test's own host in a network namespace behind a veth pair: never another address.
Expectations are derived from the policies (EGRESS, INGRESS). A closed cell must be refused or time
out with them and connect without them (all deleted, probes repeated until the enforcer caught up,
bounded); put back, every cell must be as expected again. Needs root on the node (ip netns).
"""

import json
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import k8s_scale_out
from cluster_kit import NAMESPACE, check, note

STAGE_5 = Path(__file__).resolve().parent.parent / "kubernetes/stages/5-scale-out"
DATABASE_FILES = ["postgres-init-configmap.yaml", "postgres-statefulset.yaml", "postgres-service.yaml",
                  "postgres-network-policy.yaml", "postgres-clients-network-policy.yaml"]
IMAGE = "kub-network-frontend:latest"
ELSEWHERE = "probe-elsewhere"
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn", "audit")}
# The outside host: a /30 of TEST-NET-2 (RFC 5737, never routed on the internet).
NETNS, HOST_IF, NETNS_IF = "kub-probe-outside", "kub-probe-h", "kub-probe-n"
HOST_ADDRESS, OUTSIDE, OUTSIDE_PORT = "198.51.100.1", "198.51.100.2", 8080
SERVED = Path(tempfile.gettempdir()) / "kub-probe-outside"   # its one page: the run's nonce
HOLD = "trap 'exit 0' TERM; sleep 1800 & wait"   # a probe container's PID 1, until `kill 1`
OURS = ("app.kubernetes.io/part-of", "kub-network")

# The allow rules of the policies, one row each: (policy, who, to, port). who is a set of
# app.kubernetes.io/name values (of Pods of ours in `default`), "ours" (any Pod of ours there) or
# "anyone" (any Pod, any namespace). default-deny-network-policy isolates every Pod of `default`
# both ways: a cell is open if its source is outside `default` or an EGRESS row lets it out, AND
# its target is outside `default` (DNS, the outside host) or an INGRESS row lets it in.
EGRESS = [
    ("auth-clients-network-policy", {"users", "tasks"}, "auth", 80),   # they call auth
    ("frontend-network-policy", {"frontend"}, "users", 8080),          # nginx's /api/users/
    ("frontend-network-policy", {"frontend"}, "tasks", 8000),          # nginx's /api/tasks/
    ("postgres-clients-network-policy", {"users", "tasks"}, "postgres", 5432),  # stage 5's data
    ("dns-network-policy", "ours", "dns", 53),                         # our Pods ask the DNS
]
INGRESS = [
    ("users-network-policy", "anyone", "users", 8080),    # public: from any Pod, any namespace
    ("tasks-network-policy", "anyone", "tasks", 8000),    # public too
    ("auth-network-policy", {"users", "tasks"}, "auth", 80),             # no namespaceSelector:
    ("postgres-network-policy", {"users", "tasks"}, "postgres", 5432),   # `default`'s Pods only
]
# Column: (app whose Pods it reaches, port, probe kind); "dns" and "outside" are no Pods of ours.
TARGETS = {"auth:80": ("auth", 80, "tcp"), "users:8080": ("users", 8080, "tcp"),
           "tasks:8000": ("tasks", 8000, "tcp"), "postgres:5432": ("postgres", 5432, "tcp"),
           "dns udp": ("dns", 53, "dns"), "dns tcp:53": ("dns", 53, "tcp"),
           OUTSIDE: ("outside", OUTSIDE_PORT, "http")}
CLOSED = {"refused", "timeout", "unreachable", "failed"}

# Probes each "cell,kind,host,port" argument at once; prints "cell result" for each.
PROBE = r"""
probe() {
  local out rc
  if [ "$2" = dns ]; then out=$(timeout 5 getent hosts "$3" 2>&1); rc=$?
  else out=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 7; [ "$2" = http ] || exit 0
      printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3' "$3" "$4" "$2" 2>&1); rc=$?; fi
  if [ $rc = 124 ]; then r=timeout
  elif [ $rc != 0 ]; then
    case $out in *refused*) r=refused;; *unreachable*|*"No route"*) r=unreachable;; *) r=failed;; esac
  elif [ "$2" = http ]; then case $out in *NONCE*) r=open;; *) r=wrong-answer;; esac
  else r=open; fi
  echo "$1 $r"
}
cell() { local IFS=,; set -- $1; IFS=' '; probe "$@"; }
for spec in "$@"; do cell "$spec" & done; wait
"""


def allowed(rules, source, app, port):
    labels = source["labels"]
    ours = source["namespace"] == NAMESPACE and labels.get(OURS[0]) == OURS[1]
    return any((who == "anyone" or ours and (who == "ours" or labels.get("app.kubernetes.io/name") in who))
               and (to, number) == (app, port) for _, who, to, number in rules)


def expected_open(source, app, port, pod):
    if pod == source["pod"]:
        return True   # its own address: the connection never leaves the Pod, no policy sees it
    return ((source["namespace"] != NAMESPACE or allowed(EGRESS, source, app, port))
            and (app in ("dns", "outside") or allowed(INGRESS, source, app, port)))


def get(cluster, *args):
    return json.loads(cluster.run("get", *args, "-o", "json"))


def enforce_restricted(cluster):
    """`kubectl label namespace default pod-security.kubernetes.io/enforce=restricted …`, as
    kubernetes/README.md says; then a Pod without the restricted securityContext must be refused
    (a server-side dry run goes through admission)."""
    cluster.run("label", "namespace", NAMESPACE, "--overwrite", *(f"{k}={v}" for k, v in RESTRICTED.items()))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "psa-probe", "namespace": NAMESPACE},
           "spec": {"containers": [{"name": "probe", "image": IMAGE, "imagePullPolicy": "IfNotPresent"}]}}
    done = subprocess.run([cluster.kubectl, "create", "--dry-run=server", "-f", "-"], input=json.dumps(pod),
                          capture_output=True, text=True, timeout=60)
    check("Pod Security: namespace default enforces `restricted` (a Pod without its securityContext "
          "is refused)", done.returncode != 0 and "violates PodSecurity" in done.stderr,
          (done.stderr.strip().splitlines() or ["admitted"])[0][:160])


def probe_pod(namespace, name, labels):
    """A Pod that waits to be exec'd into, admissible under `restricted`."""
    container = {"name": "probe", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                 "command": ["bash", "-c", HOLD],
                 "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                     "capabilities": {"drop": ["ALL"]}}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"restartPolicy": "Never", "automountServiceAccountToken": False,
                     "terminationGracePeriodSeconds": 1, "containers": [container],
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 101, "runAsGroup": 101,
                                         "seccompProfile": {"type": "RuntimeDefault"}}}}


def wait_running(cluster, source):
    """The source's Pod IP, once its probing container runs."""
    key = "ephemeralContainerStatuses" if source.get("ephemeral") else "containerStatuses"
    deadline = time.time() + 120
    while time.time() < deadline:
        status = get(cluster, "pod", "-n", source["namespace"], source["pod"])["status"]
        if any(s["name"] == source["container"] and "running" in s.get("state", {})
               for s in status.get(key) or []):
            return status["podIP"]
        time.sleep(0.5)
    raise RuntimeError(f"{source['pod']}: container {source['container']} not running within 120 s")


def make_sources(cluster, run):
    """{row: {namespace, pod, container, labels, ip}}, the six sources in the matrix's order."""
    users_labels = cluster.get("deployment", "users-deployment")["spec"]["template"]["metadata"]["labels"]
    sources = {}
    for row, namespace, labels in (("probe", NAMESPACE, {}), ("elsewhere", ELSEWHERE, {}),
                                   ("impostor", ELSEWHERE, users_labels)):
        name = f"matrix-{row}-{run}"
        cluster.run("apply", "-f", "-", stdin=json.dumps(probe_pod(namespace, name, labels)))
        sources[row] = {"namespace": namespace, "pod": name, "container": "probe", "labels": labels}
    for app in ("frontend", "users", "tasks"):
        pod = cluster.ready_pod(app)
        sources[app] = {"namespace": NAMESPACE, "pod": pod["metadata"]["name"], "container": app,
                        "labels": pod["metadata"]["labels"]}
        if app != "frontend":   # no shell in its image: a debug container in its Pod
            sources[app].update(container=f"matrix-{run}", ephemeral=True)
            cluster.run("debug", "-n", NAMESPACE, pod["metadata"]["name"], f"--image={IMAGE}",
                        "--image-pull-policy=IfNotPresent", "--profile=restricted",
                        f"--container=matrix-{run}", "--", "bash", "-c", HOLD)
    for source in sources.values():
        source["ip"] = wait_running(cluster, source)
    return {row: sources[row] for row in ("probe", "frontend", "users", "tasks", "elsewhere", "impostor")}


def plan(cluster, sources):
    """{(row, column): (probe spec, expected open)}, each column a Pod (another one than the
    source where the app has one), the DNS or the outside host."""
    pods = {app: k8s_scale_out.ready_pods(cluster, app) for app in ("auth", "users", "tasks", "postgres")}
    dns = get(cluster, "service", "-n", "kube-system", "kube-dns")["spec"]["clusterIP"]
    cells = {}
    for row, source in sources.items():
        for column, (app, port, kind) in TARGETS.items():
            pod = None
            if app in pods:
                pod = next((p for p in pods[app] if p["metadata"]["name"] != source["pod"]), pods[app][0])
                host, pod = pod["status"]["podIP"], pod["metadata"]["name"]
            else:
                host = {"dns": "auth-service.default" if kind == "dns" else dns, "outside": OUTSIDE}[app]
            cells[row, column] = (f"{column},{kind},{host},{port}", expected_open(source, app, port, pod))
    return cells


def probe_round(cluster, sources, cells, nonce):
    """Every cell once, each source's probes at once, all sources in parallel: {cell: result}."""
    results = {}

    def one(row, source):
        specs = [spec for (r, _), (spec, _) in cells.items() if r == row]
        try:
            done = subprocess.run([cluster.kubectl, "exec", "-n", source["namespace"], source["pod"], "-c",
                                   source["container"], "--", "bash", "-c", PROBE.replace("NONCE", nonce),
                                   "probe", *specs], capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            return
        for line in done.stdout.splitlines():
            column, _, result = line.rpartition(" ")
            results[row, column] = result
    threads = [threading.Thread(target=one, args=item) for item in sources.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {cell: results.get(cell, "no-result") for cell in cells}


def settle(cluster, sources, cells, nonce, want, timeout):
    """Probe rounds until want(cell, result) holds for every cell at once, or `timeout` s: the last."""
    deadline = time.time() + timeout
    while True:
        results = probe_round(cluster, sources, cells, nonce)
        if all(want(cell, result) for cell, result in results.items()) or time.time() > deadline:
            return results
        time.sleep(1)


def outside_host(pod_ips, nonce):
    """198.51.100.2 in a network namespace of its own, a veth pair to the node, a route back to each
    probing Pod (exactly those addresses, whatever the cluster's Pod CIDR), and the test's HTTP
    server there, whose page is the nonce. Returns the server's process."""
    remove_outside_host()
    SERVED.mkdir()
    (SERVED / "index.html").write_text(nonce)
    for args in (["netns", "add", NETNS], ["link", "add", HOST_IF, "type", "veth", "peer", "name", NETNS_IF,
                                           "netns", NETNS],
                 ["addr", "add", f"{HOST_ADDRESS}/30", "dev", HOST_IF], ["link", "set", HOST_IF, "up"],
                 ["-n", NETNS, "addr", "add", f"{OUTSIDE}/30", "dev", NETNS_IF],
                 ["-n", NETNS, "link", "set", NETNS_IF, "up"], ["-n", NETNS, "link", "set", "lo", "up"],
                 *(["-n", NETNS, "route", "add", f"{ip}/32", "via", HOST_ADDRESS] for ip in set(pod_ips))):
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)
    server = subprocess.Popen(["ip", "netns", "exec", NETNS, sys.executable, "-m", "http.server", "--bind",
                               OUTSIDE, "--directory", str(SERVED), str(OUTSIDE_PORT)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            with socket.create_connection((OUTSIDE, OUTSIDE_PORT), timeout=1) as connection:
                connection.sendall(b"GET / HTTP/1.0\r\n\r\n")
                if nonce.encode() in connection.recv(1024):
                    return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"the outside host {OUTSIDE}:{OUTSIDE_PORT} did not answer")


def remove_outside_host():
    for args in (["netns", "del", NETNS], ["link", "del", HOST_IF]):   # the veth pair goes with either
        subprocess.run(["ip", *args], capture_output=True, timeout=30)
    shutil.rmtree(SERVED, ignore_errors=True)


def restore_policies(cluster, saved):
    """The NetworkPolicies as they were: name, labels, annotations and spec."""
    keep = ("name", "namespace", "labels", "annotations")
    items = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": p["spec"],
              "metadata": {k: p["metadata"][k] for k in keep if k in p["metadata"]}} for p in saved]
    cluster.run("create", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))


def print_matrix(cells, with_policies, without):
    note("policy matrix, from (rows) to (columns); a cell expected closed shows with/without the policies:")
    note(f"{'':<10}" + "".join(f"{column:<15}" for column in TARGETS))
    for row in dict.fromkeys(r for r, _ in cells):
        line = ""
        for column in TARGETS:
            got, is_open = with_policies[row, column], cells[row, column][1]
            text = "open" if got == "open" else "closed" if got in CLOSED else got
            if not is_open:
                text += "/" + ("open" if without[row, column] == "open" else without[row, column])
            line += f"{text + ('!' if (got == 'open') != is_open else ''):<14} "
        note(f"{row:<10}{line}")


def probe_matrix(cluster):
    """The matrix with the policies, without them, and with them again; one check per cell."""
    started, run, nonce = time.time(), secrets.token_hex(3), secrets.token_hex(8)
    server, sources, saved = None, {}, None
    dns_pods = get(cluster, "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    check("policy matrix: the cluster DNS runs as Pods labelled k8s-app=kube-dns in kube-system "
          "(what dns-network-policy admits)",
          bool(dns_pods) and not any(p["spec"].get("hostNetwork") for p in dns_pods),
          ", ".join(f"{p['metadata']['name']} {p['status'].get('podIP')}" for p in dns_pods))
    try:
        k8s_scale_out.create_postgres_secret(cluster)
        k8s_scale_out.provide_volume(cluster)
        for name in DATABASE_FILES:
            cluster.run("apply", "-f", str(STAGE_5 / name))
        cluster.run("delete", "namespace", ELSEWHERE, "--ignore-not-found", "--timeout=120s")
        cluster.run("apply", "-f", "-", stdin=json.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ELSEWHERE, "labels": RESTRICTED}}))
        sources = make_sources(cluster, run)
        cluster.run("rollout", "status", "-n", NAMESPACE, "statefulset/postgres-statefulset",
                    "--timeout=180s")
        server = outside_host([source["ip"] for source in sources.values()], nonce)
        cells = plan(cluster, sources)
        want = lambda cell, result: (result == "open") == cells[cell][1] and result in CLOSED | {"open"}
        with_policies = settle(cluster, sources, cells, nonce, want, 60)
        saved = cluster.get("networkpolicies")["items"]
        cluster.run("delete", "networkpolicy", "-n", NAMESPACE, "--all")
        without = settle(cluster, sources, cells, nonce, lambda cell, result: result == "open", 90)
        restore_policies(cluster, saved)
        saved = None
        again = settle(cluster, sources, cells, nonce, want, 90)
        print_matrix(cells, with_policies, without)
        for (row, column), (_, is_open) in cells.items():
            got, off = with_policies[row, column], without[row, column]
            if is_open:
                check(f"policy matrix: {row} -> {column} open", got == "open", got)
            else:
                check(f"policy matrix: {row} -> {column} closed with the policies, open without",
                      got in CLOSED and off == "open", f"{got} with, {off} without")
        wrong = {f"{r} -> {c}": result for (r, c), result in again.items() if not want((r, c), result)}
        check("policy matrix: the policies re-applied, every cell as expected again", not wrong,
              f"{wrong or 'all as expected'} ({time.time() - started:.0f} s in all)")
    finally:
        if saved:
            restore_policies(cluster, saved)
        if server:
            server.terminate()
            server.wait(timeout=10)
        remove_outside_host()
        for source in (s for s in sources.values() if s.get("ephemeral")):
            cluster.run("exec", "-n", NAMESPACE, source["pod"], "-c", source["container"], "--",
                        "bash", "-c", "kill -TERM 1", check=False)
        for args in (["pod", "-n", NAMESPACE, f"matrix-probe-{run}", "--wait=false"],
                     ["namespace", ELSEWHERE, "--timeout=120s"],
                     ["-n", NAMESPACE, *(f"--filename={STAGE_5 / n}" for n in DATABASE_FILES),
                      "--timeout=120s"],
                     ["-n", NAMESPACE, "secret", "postgres-secret"],
                     ["-n", NAMESPACE, "pvc", k8s_scale_out.CLAIM, "--timeout=120s"],
                     ["pv", k8s_scale_out.VOLUME, "--timeout=60s"]):
            cluster.run("delete", *args, "--ignore-not-found", check=False)
        k8s_scale_out.remove_volume_folder()
