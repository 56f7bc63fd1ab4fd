"""What the cluster keeps private, on a real cluster (scripts/k8s-e2e.py, every scenario).

- auth's routes answer their caller only: Pods labelled exactly like users-api, but not given
  users-api's key, ask auth for a password hash and a token from inside the cluster. The network
  lets them in (GET /healthz answers 200: the enforced NetworkPolicies admit a copied label), the
  key does not: no key and a made-up key get 401, tasks' key (where auth knows tasks) gets 403.
  The same Pod given users' Secret gets its hash: the requests are right, only the key differs.
  In stage 2, auth listens inside the users Pod, whose policy admits port 8080 alone: there the
  impostor cannot even connect.
- GET /metrics answers on each Pod's METRICS_PORT (9090; auth's 9091 in stage 2, where it shares
  the users Pod), and 404 on the public ports and on every NodePort.

The images are distroless (no shell, no curl); the impostors run the frontend's image, whose
nginx base has bash, and talk HTTP with bash's /dev/tcp.
"""

import json
import secrets
import time

from cluster_kit import METRICS_PORT, NAMESPACE, call, check, is_error_json, note
from service_kit import poll

# The labels of users-api's Pods, copied (kubernetes/users-deployment.yaml).
USERS_LABELS = {"app.kubernetes.io/name": "users", "app.kubernetes.io/component": "users-api",
                "app.kubernetes.io/part-of": "kub-network"}
IMAGE = "kub-network-frontend:latest"
IMPOSTOR = "impostor-"
# Stage 2: auth runs in the users Pod, its /metrics beside users' (kubernetes/stages/2-pod-internal).
POD_INTERNAL_AUTH_METRICS_PORT = 9091

# POSTs each request of REQUESTS (name, path, body) to $AUTH with the key in $KEY (if any),
# and prints each whole answer between markers. A GET /healthz first: the network lets it in.
SCRIPT = r"""
set -u
host=${AUTH%:*}; port=${AUTH##*:}
ask() { # name method path body
  # A port that a NetworkPolicy closes may drop the SYN: give up after 5 s, not TCP's 2 minutes.
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null \
    && exec 3<>"/dev/tcp/$host/$port" || { echo "=== $1"; echo "no connection"; echo "=== end"; return; }
  local auth=""; [ -n "${KEY:-}" ] && auth="Authorization: Bearer $KEY"$'\r\n'
  printf '%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n%s' \
    "$2" "$3" "$host" "${#4}" "$auth" "$4" >&3
  echo "=== $1"; cat <&3; echo; echo "=== end"
  exec 3<&-
}
ask healthz GET /healthz ""
ask hashed-password POST /hashed-password '{"password":"testers"}'
ask token POST /token '{"userId":"admin","password":"testers","hashedPassword":"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA"}'
"""


def parse_answers(log):
    """{name: (status, headers, body)} from the Pod's log."""
    answers, name, lines = {}, None, []
    for line in log.splitlines():
        if line.startswith("=== "):
            if name and line == "=== end":
                head, _, body = "\n".join(lines).replace("\r", "").partition("\n\n")
                first, *header_lines = head.split("\n")
                parts = first.split(" ")
                status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else first
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (h.partition(":") for h in header_lines)}
                try:
                    body = json.loads(body.strip() or "null")
                except ValueError:
                    body = body.strip()
                answers[name] = (status, headers, body)
                name = None
            else:
                name, lines = line[4:], []
        elif name:
            lines.append(line)
    return answers


def secret_env(secret):
    return [{"name": "KEY", "valueFrom": {"secretKeyRef": {"name": secret, "key": "AUTH_API_KEY"}}}]


def run_impostors(cluster, auth, variants):
    """One Pod per variant (name -> env), labelled like users-api, each asking auth at `auth`
    (host:port). Returns {variant: answers}."""
    run = secrets.token_hex(3)
    names = {}
    for variant, env in variants.items():
        name = f"{IMPOSTOR}{variant}-{run}"
        names[variant] = name
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": USERS_LABELS},
            "spec": {
                "restartPolicy": "Never", "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 101, "runAsGroup": 101,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "ask", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                    "command": ["bash", "-c", SCRIPT],
                    "env": [{"name": "AUTH", "value": auth}, *env],
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                }],
            },
        }
        cluster.run("apply", "-f", "-", stdin=json.dumps(pod))
    results = {}
    deadline = time.time() + 90
    try:
        for variant, name in names.items():
            phase = None
            while time.time() < deadline:
                phase = cluster.get("pod", name)["status"].get("phase")
                if phase in ("Succeeded", "Failed"):
                    break
                time.sleep(0.5)
            log = cluster.run("logs", "-n", NAMESPACE, name, check=False)
            results[variant] = parse_answers(log)
            if phase != "Succeeded":
                note(f"{name}: phase {phase}; log: {log.strip()[:300]}")
    finally:
        cluster.run("delete", "pod", "-n", NAMESPACE, *names.values(), "--grace-period=1",
                    "--ignore-not-found", "--wait=false")
    return results


def refused(answer, status):
    """Refused with `status` JSON (401 with a Bearer challenge), before any hashing."""
    if not answer:
        return False
    got, headers, body = answer
    challenge = status != 401 or headers.get("www-authenticate", "").startswith("Bearer")
    return got == status and is_error_json(body) and challenge


def show(answers, *names):
    return ", ".join(f"{n} {answers.get(n, ('no answer',))[0]}" for n in names)


def only_users_api_gets_tokens(cluster, scenario, knows_tasks):
    """The impostors' requests, from inside the cluster, to the auth that users-api calls."""
    if scenario == "2-pod-internal":
        pod = cluster.ready_pod("users")
        auth = f"{pod['status']['podIP']}:80"   # auth's container in the users Pod
    else:
        auth = "auth-service.default:80"
    variants = {"nokey": [], "madeup": [{"name": "KEY", "value": secrets.token_hex(32)}],
                "control": secret_env("users-auth-key")}
    if knows_tasks:
        variants["taskskey"] = secret_env("tasks-auth-key")
    started = time.time()
    results = run_impostors(cluster, auth, variants)
    nokey, madeup = results.get("nokey", {}), results.get("madeup", {})
    note(f"{scenario}: Pods labelled {USERS_LABELS} asked auth at {auth} "
         f"({time.time() - started:.0f} s)")
    if scenario == "2-pod-internal":
        # auth listens in the users Pod, whose policy admits port 8080 alone: the network stops
        # the impostor before the key is asked for (users-api itself talks to it over localhost).
        check(f"{scenario}: a Pod labelled like users-api cannot connect to auth's port in the users Pod "
              "(the NetworkPolicies admit 8080 alone)",
              all(answer == {} or all(a[0] == "no connection" for a in answer.values())
                  for answer in results.values()) and "healthz" in nokey,
              show(nokey, "healthz"))
        return
    check(f"{scenario}: a Pod labelled like users-api reaches auth (GET /healthz 200: the labels let it through the NetworkPolicies)",
          nokey.get("healthz", (None,))[0] == 200, show(nokey, "healthz"))
    check(f"{scenario}: ... without users-api's key it gets no hash and no token: 401 JSON, "
          "WWW-Authenticate: Bearer",
          refused(nokey.get("hashed-password"), 401) and refused(nokey.get("token"), 401),
          show(nokey, "hashed-password", "token")
          + (f"; {nokey['token'][2]}" if "token" in nokey else ""))
    check(f"{scenario}: ... nor with a key of its own making: 401",
          refused(madeup.get("hashed-password"), 401) and refused(madeup.get("token"), 401),
          show(madeup, "hashed-password", "token"))
    if knows_tasks:
        tasks = results.get("taskskey", {})
        check(f"{scenario}: ... nor with tasks-api's key: 403 JSON on /token and /hashed-password",
              refused(tasks.get("token"), 403) and refused(tasks.get("hashed-password"), 403),
              show(tasks, "hashed-password", "token"))
    control = results.get("control", {})
    hashed = control.get("hashed-password", (None, {}, None))
    check(f"{scenario}: ... the same Pod given the Secret users-auth-key gets its hash (control)",
          hashed[0] == 200 and isinstance(hashed[2], dict) and "hashedPassword" in hashed[2],
          show(control, "hashed-password", "token"))


def metrics_off_the_public_path(cluster, scenario, urls):
    """GET /metrics on each Pod's metrics port (from the node, straight to the Pod IP), 404 on
    its public port and on every NodePort."""
    served, public = {}, {}
    for app in ("auth", "users", "tasks"):
        for pod in cluster.pods(app):
            ip = pod["status"].get("podIP")
            if not ip or pod["metadata"]["name"].startswith(IMPOSTOR):
                continue
            ports = {"users": [METRICS_PORT], "tasks": [METRICS_PORT], "auth": [METRICS_PORT]}[app]
            main = {"users": 8080, "tasks": 8000, "auth": 80}[app]
            if scenario == "2-pod-internal" and app == "users":
                ports = [METRICS_PORT, POD_INTERNAL_AUTH_METRICS_PORT]
                public[f"{app}:80"] = call("GET", f"http://{ip}:80/metrics")[0]
            for port in ports:
                status, text = call("GET", f"http://{ip}:{port}/metrics")
                served[f"{app}:{port}"] = status == 200 and "# TYPE" in str(text)
            public[f"{app}:{main}"] = call("GET", f"http://{ip}:{main}/metrics")[0]
    for app, url in urls.items():
        public[f"{app}-service"] = call("GET", f"{url}/metrics")[0]
    check(f"{scenario}: GET /metrics answers on each Pod's metrics port",
          served and all(served.values()), str(served))
    check(f"{scenario}: ... and 404 on the public ports and NodePorts",
          public and set(public.values()) == {404}, str(public))


def network_route_off(urls):
    """After `helm upgrade -f values-production.yaml`: GET /network answers 404 on users and
    tasks, which answer the rest as before. (The old Pods drain for SHUTDOWN_DELAY: until
    kube-proxy has dropped them, one may still answer.)"""
    answers = {}
    for app, url in urls.items():
        poll(lambda: call("GET", f"{url}/network", timeout=3)[0] == 404, 30)
        status, body = call("GET", f"{url}/network")
        answers[app] = (status, is_error_json(body), call("GET", f"{url}/healthz")[0])
    check("helm: values-production.yaml turns GET /network off (404 JSON); /healthz still 200",
          all(a == (404, True, 200) for a in answers.values()),
          ", ".join(f"{app}: /network {a[0]}, /healthz {a[2]}" for app, a in answers.items()))
