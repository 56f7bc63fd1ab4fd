#!/usr/bin/env python3
"""The lesson on a running Kubernetes cluster, checked from outside it as a learner would.

For stages 1 to 4 (`kubectl apply -k kubernetes/stages/<stage>`), then the final manifests, the
same objects as stage 6 (the `kubectl create secret …` lines exactly as the README says, then
`kubectl apply -f kubernetes/`), then
the Helm chart (`helm install`), each on a clean namespace:
  - the Deployments become Available;
  - the README's curl walk-through through users-service and tasks-service, from outside the
    cluster, through their NodePorts (as minikube users do before `minikube tunnel`);
  - GET /network shows what the stage teaches, as the real kubelet and DNS set it;
  - nothing of auth is reachable from outside the cluster;
  - GET /metrics answers on each Pod's own port (9090) only, 404 on the public ports;
  - where auth runs: Pods labelled exactly like users-api but not given its key get no hash and
    no token from auth (401; tasks' key: 403), the same Pod given users' Secret does
    (scripts/k8s_security.py);
  - `kubectl rollout restart` of every Deployment, then the walk-through again (the final
    manifests instead restart under a request loop, below; the chart also goes to
    values-production.yaml, where GET /network answers 404).
After the final manifests also: the frontend (stage 6): its page and /api/users/, /api/tasks/
proxied to the Services by their cluster DNS names, and the walk-through in a real browser through
frontend-service's NodePort (scripts/browser-e2e.py --mode k8s; the chart gets the same checks
but the browser); a deleted tasks Pod comes back empty (emptyDir), a burst of signups gets 429
(every outside client is one address behind the node), a deleted auth Pod gives no error (a 503
JSON at most), auth scaled to 0 gives 503 JSON then heals without restarts, `kubectl rollout
restart` under a request loop
fails no request, the NetworkPolicies are admitted and enforced (scripts/k8s_policy_matrix.py:
who reaches what, with them and without them), a tasks volume filled to its STORE_BUDGET
answers 507 and is not evicted (its data intact), and without the budget the kubelet does evict
the Pod and its data (scripts/k8s_volume.py).
Stage 5 (scale-out: three users and tasks replicas on PostgreSQL) also: the Services spread
requests over the replicas, data written through one Pod is read through the others, and the
data survives the database Pod (scripts/k8s_scale_out.py).
Stage 7 (the Gateway: stage 5 and the frontend behind Traefik, HTTPS only) through its one way
in, https://kub-network.test, verified with a local CA: the walk-through, TLS, the redirect,
HSTS, 404 for every non-public route, two clients throttled apart (scripts/k8s_gateway.py).
Last, the chart with gateway.enabled behind stage 7's Traefik, and its `helm test`
(scripts/k8s_helm_gateway.py).

Before all of it the namespace is labelled for Pod Security `restricted`, and a Pod it refuses is
refused: every Pod of every scenario is then admitted under that profile.

Prints one line per check and `k8s-e2e: N passed, N failed`; exits 1 on any failure.
Needs KUBECONFIG pointing at the cluster, the images already in it, and kubectl (and helm for
the chart) on PATH or given by --kubectl/--helm. scripts/k8s-e2e.sh does all of that.
"""

import argparse
import os
import secrets
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from cluster_kit import (NAMESPACE, PART_OF, RESULTS, SECRETS, Cluster, call, check, is_error_json,
                         note, wait_answering, wait_auth_reachable, watch_outage)
from service_kit import NoHandshake, poll
from k8s_volume import full_volume_answers_507_without_eviction, without_budget_the_pod_is_evicted
from k8s_security import metrics_off_the_public_path, network_route_off, only_users_api_gets_tokens
import k8s_gateway
import k8s_helm_gateway
import k8s_scale_out
import k8s_policy_matrix

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["1-users-alone", "2-pod-internal", "3-pod-to-pod-clusterip", "4-pod-to-pod-dns"]
SCALE_OUT = k8s_scale_out.STAGE
GATEWAY = k8s_gateway.STAGE
# The Secrets each stage needs (kubernetes/README.md creates them all at once): users-api's key
# from stage 1, auth's secret once auth runs, tasks-api's key once tasks runs (stage 3's auth has
# no tasks caller, so it starts without it).
STAGE_SECRETS = {"1-users-alone": ["users-auth-key"],
                 "2-pod-internal": ["auth-secret", "users-auth-key"],
                 "3-pod-to-pod-clusterip": ["auth-secret", "users-auth-key"]}
# What GET /network must show, per scenario: for each public service, how it finds auth.
# "clusterip" stands for auth-service's real ClusterIP, read from the cluster.
DNS_STAGE = {"users": ("AUTH_ADDRESS", "auth-service.default"),
             "tasks": ("AUTH_SERVICE_SERVICE_HOST", "clusterip:80")}
EXPECT = {
    "1-users-alone": {"users": ("AUTH_ADDRESS", "localhost:80")},
    "2-pod-internal": {"users": ("AUTH_ADDRESS", "localhost:80")},
    "3-pod-to-pod-clusterip": {"users": ("AUTH_SERVICE_SERVICE_HOST", "clusterip:80")},
    "4-pod-to-pod-dns": DNS_STAGE,
    SCALE_OUT: DNS_STAGE,
    "final": DNS_STAGE,
    "helm": DNS_STAGE,
}

def walk_through(scenario, users, tasks):
    """The README's curl steps; returns the token (None where auth is not there yet)."""
    email = f"learner-{secrets.token_hex(4)}@test.com"
    credentials = {"email": email, "password": "testers"}
    status, body = call("POST", f"{users}/signup", credentials)
    if scenario == "1-users-alone":
        check(f"{scenario}: POST /signup answers 503 JSON (auth is not there yet)",
              status == 503 and is_error_json(body), f"{status} {body}")
        return None
    check(f"{scenario}: POST /signup", status == 201 and body == {"message": "User created!"},
          f"{status} {body}")
    status, body = call("POST", f"{users}/login", credentials)
    token = body.get("token") if isinstance(body, dict) else None
    check(f"{scenario}: POST /login", status == 200 and bool(token), f"{status}")
    if tasks is None:
        return token
    task = {"title": f"{scenario} task", "text": "Learn Kubernetes networking"}
    status, body = call("POST", f"{tasks}/tasks", task, token)
    created = body.get("createdTask", {}) if isinstance(body, dict) else {}
    check(f"{scenario}: POST /tasks", status == 201 and created.get("title") == task["title"],
          f"{status} {body}")
    status, body = call("GET", f"{tasks}/tasks", token=token)
    titles = [t["title"] for t in body.get("tasks", [])] if isinstance(body, dict) else []
    check(f"{scenario}: GET /tasks lists it", status == 200 and titles == [task["title"]],
          f"{status} {titles}")
    return token


def check_network(cluster, scenario, urls):
    """GET /network of each public service against what the scenario teaches."""
    cluster_ip = None
    if any("clusterip" in raw for _, raw in EXPECT[scenario].values()):
        cluster_ip = cluster.get("service", "auth-service")["spec"]["clusterIP"]
    for app, (source, raw) in EXPECT[scenario].items():
        status, network = call("GET", f"{urls[app]}/network")
        if not check(f"{scenario}: {app} GET /network answers", status == 200, str(status)):
            continue
        auth, pod = network["auth"], network["pod"]
        want_raw = raw.replace("clusterip", cluster_ip or "")
        note(f"{app}: source={auth['source']} rawValue={auth['rawValue']} "
             f"resolved={auth['resolvedAddresses']} reachable={auth['reachable']} pod={pod}")
        check(f"{scenario}: {app} found auth through {source}={want_raw}",
              (auth["source"], auth["rawValue"]) == (source, want_raw),
              f"{auth['source']}={auth['rawValue']}")
        if cluster_ip:
            check(f"{scenario}: {app} resolves auth to auth-service's ClusterIP {cluster_ip}",
                  auth["resolvedAddresses"] == [cluster_ip], str(auth["resolvedAddresses"]))
        reachable = scenario != "1-users-alone"
        check(f"{scenario}: {app} reachable={reachable}", auth["reachable"] is reachable)
        # The Pod that answered (one of several replicas in stage 5), as the cluster has it.
        real = next((p for p in cluster.pods(app) if p["metadata"]["name"] == pod.get("name")),
                    None) or cluster.ready_pod(app)
        want_pod = {"name": real["metadata"]["name"], "namespace": NAMESPACE,
                    "ip": real["status"]["podIP"], "node": real["spec"]["nodeName"]}
        check(f"{scenario}: {app} pod block from the downward API", pod == want_pod,
              f"{pod} != {want_pod}" if pod != want_pod else "")


def check_auth_private(cluster, scenario):
    """No Service exposes auth outside the cluster, no auth Pod uses the node's network, and
    everything that answers on a NodePort is users or tasks."""
    services = cluster.get("services", "-l", PART_OF)["items"]
    exposed = [s["metadata"]["name"] for s in services
               if s["spec"].get("selector", {}).get("app.kubernetes.io/name") == "auth"
               and (s["spec"]["type"] != "ClusterIP" or s["spec"].get("externalIPs"))]
    host_network = [p["metadata"]["name"] for p in cluster.pods("auth")
                    if p["spec"].get("hostNetwork")
                    or any(port.get("hostPort") for c in p["spec"]["containers"] for port in c.get("ports", []))]
    answering = {}
    for service in services:
        for port in service["spec"]["ports"]:
            if port.get("nodePort"):
                answering[port["nodePort"]] = what_answers(cluster.node_url(port["nodePort"]))
    check(f"{scenario}: auth has no way in from outside (no NodePort, no host port)",
          not exposed and not host_network
          and set(answering.values()) <= {"users-api", "tasks-api", "the frontend's page", None},
          f"node ports answer as {answering}")


def what_answers(url):
    """users-api or tasks-api (their OpenAPI title), the frontend's page, the status, or None
    when nothing answers within 30 s (kube-proxy programs a new Service's NodePort a moment
    after the Deployment is Available)."""
    if not poll(lambda: call("GET", f"{url}/healthz", timeout=3) is not None, 30):
        return None
    status, api = call("GET", f"{url}/openapi.json")
    if status == 200 and isinstance(api, dict):
        return api.get("info", {}).get("title")
    page_status, page = call("GET", f"{url}/")
    if page_status == 200 and isinstance(page, str) and "<title>kub-network tasks</title>" in page:
        return "the frontend's page"
    return status


def scenario_urls(cluster, scenario):
    names = {"users": "users-service"}
    if scenario in ("4-pod-to-pod-dns", SCALE_OUT, "final", "helm"):
        names["tasks"] = "tasks-service"
    return {app: cluster.service_url(svc) for app, svc in names.items()}


def run_scenario(cluster, scenario, apply):
    cluster.clean()
    started = time.time()
    apply()
    cluster.run("wait", "-n", NAMESPACE, "--for=condition=Available", "deployment", "-l", PART_OF,
                "--timeout=180s")
    urls = scenario_urls(cluster, scenario)
    check(f"{scenario}: Deployments Available and Services answering",
          all(wait_answering(url) for url in urls.values()), f"{time.time() - started:.1f} s")
    if scenario != "1-users-alone":
        check(f"{scenario}: users and tasks reach auth",
              all(wait_auth_reachable(url) for url in urls.values()), f"{time.time() - started:.1f} s")
    if scenario == "2-pod-internal":
        pod = cluster.ready_pod("users")
        containers = [s["name"] for s in pod["status"]["containerStatuses"] if s["ready"]]
        check(f"{scenario}: the users Pod runs users and auth, 2/2 Ready",
              sorted(containers) == ["auth", "users"], str(containers))
    token = walk_through(scenario, urls["users"], urls.get("tasks"))
    check_network(cluster, scenario, urls)
    check_auth_private(cluster, scenario)
    metrics_off_the_public_path(cluster, scenario, urls)
    if scenario != "1-users-alone":
        only_users_api_gets_tokens(cluster, scenario, knows_tasks="tasks" in urls)
    return urls, token


def still_works_after_rollout_restart(cluster, scenario, urls):
    """`kubectl rollout restart` of every Deployment: new Pods read the keys from the Secrets
    again, and the walk-through works as before."""
    started = time.time()
    deployments = [d["metadata"]["name"] for d in cluster.get("deployments", "-l", PART_OF)["items"]]
    cluster.run("rollout", "restart", "-n", NAMESPACE, *[f"deployment/{d}" for d in deployments])
    for deployment in deployments:
        cluster.run("rollout", "status", "-n", NAMESPACE, f"deployment/{deployment}", "--timeout=180s")
    # `rollout status` is done once the new Pods are Ready; each old one serves on for
    # SHUTDOWN_DELAY while kube-proxy catches up, and may still get a request (a signup on the
    # old Pod's emptyDir, then a login on the new one, is 401). The walk-through starts once they
    # are gone.
    gone = poll(lambda: all(old_pods_gone(cluster, d) for d in deployments), 90, every=0.5)
    check(f"{scenario}: rollout restart of {', '.join(deployments)}: every new Pod Ready, the old "
          "ones gone", gone and all(wait_answering(url) for url in urls.values())
          and all(wait_auth_reachable(url) for url in urls.values()),
          f"{time.time() - started:.0f} s")
    walk_through(f"{scenario}, after rollout restart", urls["users"], urls.get("tasks"))


def old_pods_gone(cluster, deployment):
    """No Pod of the Deployment is terminating, and it has as many as it wants."""
    spec = cluster.get("deployment", deployment)["spec"]
    selector = ",".join(f"{k}={v}" for k, v in spec["selector"]["matchLabels"].items())
    pods = cluster.get("pods", "-l", selector)["items"]
    return len(pods) == spec.get("replicas", 1) and not any(
        p["metadata"].get("deletionTimestamp") for p in pods)


def frontend_proxies(cluster, scenario):
    """frontend-service's NodePort serves the page, and its nginx reaches users and tasks by their
    Services' cluster DNS names (completed for nginx's resolver, as its start-up line says).
    Returns the page's URL."""
    url = cluster.service_url("frontend-service")
    # The Deployment is Available; kube-proxy and the cluster DNS may need a moment more.
    poll(lambda: call("GET", f"{url}/api/tasks/network", timeout=3)[0] == 200, 60)
    status, page = call("GET", f"{url}/")
    check(f"{scenario}: frontend-service serves the tasks page",
          status == 200 and isinstance(page, str) and "<title>kub-network tasks</title>" in page,
          f"{url}/ -> {status}")
    for app in ("users", "tasks"):
        status, network = call("GET", f"{url}/api/{app}/network")
        pod = network.get("pod", {}) if isinstance(network, dict) else {}
        check(f"{scenario}: frontend /api/{app}/network answered by {app}-api",
              status == 200 and network.get("service") == f"{app}-api" and bool(pod.get("name")),
              f"{status} {network.get('service') if isinstance(network, dict) else network} "
              f"in Pod {pod.get('name')}")
    status, body = call("GET", f"{url}/api/auth/healthz")
    check(f"{scenario}: frontend does not proxy auth (/api/auth/ -> 404 JSON)",
          status == 404 and is_error_json(body), f"{status} {body}")
    others = {path: call("GET", f"{url}{path}")[0]
              for path in ("/api/users/metrics", "/api/tasks/metrics", "/api/users/healthz")}
    check(f"{scenario}: frontend forwards only the lesson's routes (/metrics, /healthz -> 404)",
          set(others.values()) == {404}, str(others))
    log = cluster.run("logs", "-n", NAMESPACE, "deployment/frontend-deployment")
    line = next((l for l in log.splitlines() if "18-kub-frontend.envsh: /api/users/" in l), "")
    check(f"{scenario}: frontend proxies to the Services' DNS names",
          f"users-service.{NAMESPACE}.svc.cluster.local:8080" in line
          and f"tasks-service.{NAMESPACE}.svc.cluster.local:8000" in line, line)
    return url


def walk_through_in_a_browser(url, scenario="final", through="frontend-service", extra=()):
    """The tasks page's walk-through in chromium (scripts/browser-e2e.py), through the
    frontend's NodePort (stage 7: the Gateway's) from outside the cluster."""
    started = time.time()
    done = subprocess.run([sys.executable, str(ROOT / "scripts/browser-e2e.py"), "--url", f"{url}/",
                           "--mode", "k8s" if scenario == "final" else scenario, *extra],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in (done.stdout + done.stderr).splitlines():
        note(line)
    last = (done.stdout.strip().splitlines() or ["no output"])[-1]
    check(f"{scenario}: the tasks page's walk-through in a real browser, through {through}",
          done.returncode == 0, f"{last} ({time.time() - started:.0f} s)")


def restarts(cluster, app):
    pod = cluster.ready_pod(app)
    return pod["metadata"]["name"], sum(s["restartCount"] for s in pod["status"]["containerStatuses"])


def deleted_tasks_pod_comes_back_empty(cluster, urls, token):
    old = cluster.ready_pod("tasks")["metadata"]["name"]
    cluster.run("delete", "pod", "-n", NAMESPACE, old, "--wait=false")
    new = cluster.ready_pod("tasks", other_than=old)["metadata"]["name"]
    wait_answering(urls["tasks"])
    status, body = call("GET", f"{urls['tasks']}/tasks", token=token)
    check("final: a deleted tasks Pod is replaced by a new Ready one", new != old, f"{old} -> {new}")
    check("final: the new Pod's emptyDir starts empty", status == 200 and body.get("tasks") == [],
          f"{status} {body}")
    note("that is the lesson: an emptyDir lives and dies with its Pod; the task stored before is gone")


def auth_probes(urls, token):
    """One call to users and one to tasks that needs auth, and what each answers while auth is
    up: 401 to an unknown login, 200 to a list."""
    # A new unknown email each time: the probe loops faster than LOGIN_LIMIT_PER_ACCOUNT allows
    # (the per-address limits are lifted by then, see signups_from_one_address_are_throttled).
    login = lambda: {"email": f"nobody-{secrets.token_hex(4)}@test.com", "password": "testers"}
    probes = {"users": lambda: call("POST", f"{urls['users']}/login", login(), timeout=5),
              "tasks": lambda: call("GET", f"{urls['tasks']}/tasks", token=token, timeout=5)}
    return probes, {"users": 401, "tasks": 200}


# How long users and tasks may still answer 503 after a new auth Pod is Ready.
HEAL_AFTER_READY_S = 60


def heal_after_ready(probes, healthy, other):
    """Probes until both answer as usual, or HEAL_AFTER_READY_S; a 503 JSON meanwhile is still the
    outage, any other answer goes into `other`. (the last answers, seconds it took)"""
    started = time.time()
    while True:
        answers = {}
        for app, probe in probes.items():
            try:
                status, body = probe()
            except OSError:
                status, body = "no answer", None
            answers[app] = status
            if status != healthy[app] and not (status == 503 and is_error_json(body)):
                other.setdefault(app, set()).add(status)
        if answers == healthy or other or time.time() - started > HEAL_AFTER_READY_S:
            return answers, time.time() - started
        time.sleep(0.25)


def auth_outage_gives_503_then_heals(cluster, urls, token):
    """The one auth Pod deleted: since Kubernetes 1.28 kube-proxy keeps sending to a terminating
    Pod that still serves (SHUTDOWN_DELAY) while no other is Ready, so users and tasks may see no
    outage at all; whatever they see is a 503 JSON, never an error or a hang. auth scaled to 0 is
    an outage for sure: 503 JSON, healed once it is back at 1; users and tasks never restart."""
    before = {app: restarts(cluster, app) for app in ("users", "tasks")}
    probes, healthy = auth_probes(urls, token)
    old = cluster.ready_pod("auth")["metadata"]["name"]
    cluster.run("delete", "pod", "-n", NAMESPACE, old, "--wait=false")
    deleted = time.time()
    old_gone = lambda *_: all(p["metadata"]["name"] != old for p in
                              cluster.get("pods", "-l", f"app.kubernetes.io/name=auth,{PART_OF}")["items"])
    unavailable, _, other = watch_outage(probes, healthy, old_gone, 90)
    new = cluster.ready_pod("auth", other_than=old)["metadata"]["name"]
    gone_after = time.time() - deleted
    # Ready is the kubelet's word; kube-proxy (the Service's endpoints) and kube-router (the
    # egress allowances to auth, by the new Pod's address) program the path moments later.
    answers, healed_after = heal_after_ready(probes, healthy, other)
    check("final: auth Pod deleted: users and tasks answer as usual or 503 JSON, never an error, "
          f"and as usual with the new auth Pod within {HEAL_AFTER_READY_S} s of it being Ready",
          not other and answers == healthy,
          f"{old} gone after {gone_after:.0f} s, {new} Ready; 503 from "
          f"{sorted(unavailable) or 'neither (the terminating Pod served on)'}; "
          f"other answers {other}; {answers} {healed_after:.1f} s after it was Ready")

    cluster.run("scale", "-n", NAMESPACE, "deployment/auth-deployment", "--replicas=0")
    unavailable, _, other = watch_outage(
        probes, healthy, lambda down, _: set(down) == set(probes), 90)
    check("final: auth scaled to 0: users and tasks answer 503 JSON, never an error",
          set(unavailable) == set(probes) and not other, f"{unavailable}; other answers {other}")
    cluster.run("scale", "-n", NAMESPACE, "deployment/auth-deployment", "--replicas=1")
    _, healed, other = watch_outage(
        probes, healthy, lambda _, up: set(up) == set(probes), 120, down=unavailable)
    check("final: ... back at 1: both heal once the auth Pod is Ready",
          set(healed) == set(probes) and not other,
          f"healed after {healed} s; other answers {other}")
    after = {app: restarts(cluster, app) for app in ("users", "tasks")}
    check("final: ... without restarting users or tasks", after == before, f"{before} -> {after}")


def signups_from_one_address_are_throttled(cluster, urls):
    """Every client outside the cluster reaches users-service through the node: kube-proxy
    rewrites their source to the node's address (externalTrafficPolicy: Cluster), so they are all
    one address to SIGNUP_LIMIT_PER_ADDRESS. A burst past the default 10/min gets 429."""
    answers = [call("POST", f"{urls['users']}/signup",
                    {"email": f"burst-{secrets.token_hex(6)}@test.com", "password": "testers"},
                    with_headers=True)
               for _ in range(14)]
    statuses = [status for status, _, _ in answers]
    throttled = [(body, headers) for status, body, headers in answers if status == 429]
    check("final: a burst of signups from one address is throttled: 429 JSON with Retry-After",
          statuses.count(201) <= 10 and throttled
          and all(is_error_json(body) and headers.get("Retry-After", "").isdigit()
                  for body, headers in throttled),
          f"{statuses.count(201)} created, {len(throttled)} throttled"
          + (f"; {throttled[0][0]['message']!r}" if throttled else ""))
    # The auth outage probe and the rollout loops after this are load generators on one address,
    # as an operator would run one: its limits are lifted, which is itself a rollout of
    # users-deployment.
    cluster.run("set", "env", "-n", NAMESPACE, "deployment/users-deployment",
                "SIGNUP_LIMIT_PER_ADDRESS=off", "LOGIN_LIMIT_PER_ADDRESS=off")
    cluster.run("rollout", "status", "-n", NAMESPACE, "deployment/users-deployment",
                "--timeout=180s")
    # The old Pod, still throttling, drains for SHUTDOWN_DELAY after that: wait until it is gone.
    deadline = time.time() + 90
    while time.time() < deadline and len(
            cluster.get("pods", "-l", f"app.kubernetes.io/name=users,{PART_OF}")["items"]) > 1:
        time.sleep(0.5)
    wait_auth_reachable(urls["users"])


# A client in a loop, about as fast as `while true; do curl …; done`. Unpaced, one Python loop
# takes a whole core on a 2-core machine, starving kube-proxy of the CPU it needs to follow the
# rollout: a test of the machine, not of the drain.
LOOP_PAUSE = 0.01


def rollout_under_load(cluster, deployment, request, expected):
    """`kubectl rollout restart` while a client loops on `request`; every answer must be
    `expected`. New connection per request, as curl in a loop. A handshake that times out never
    reached a Pod (a SYN lost in the node's NAT, not a request the drain dropped): it is retried
    once, as `curl --retry 1` would, and counted in the report; a second one fails."""
    counts = {"ok": 0, "failed": 0, "handshakes retried": 0}
    failures = []
    stop = threading.Event()

    def attempt():
        try:
            return request()
        except NoHandshake:
            counts["handshakes retried"] += 1
            return request()

    def loop():
        while not stop.is_set():
            started = time.time()
            try:
                status, body = attempt()
                good = status == expected
            except Exception as error:  # noqa: BLE001 - any failure to get an answer counts
                status, body, good = "error", repr(error), False
            counts["ok" if good else "failed"] += 1
            if not good and len(failures) < 5:
                failures.append(f"{status} {body} after {time.time() - started:.1f} s")
            time.sleep(LOOP_PAUSE)

    client = threading.Thread(target=loop)
    client.start()
    time.sleep(1)
    started = time.time()
    cluster.run("rollout", "restart", "-n", NAMESPACE, f"deployment/{deployment}")
    cluster.run("rollout", "status", "-n", NAMESPACE, f"deployment/{deployment}", "--timeout=180s")
    # The old Pod drains for SHUTDOWN_DELAY after the new one is Ready: keep going past it.
    time.sleep(8)
    stop.set()
    client.join()
    check(f"final: rollout restart {deployment} under a request loop: 0 failed requests",
          counts["failed"] == 0 and counts["ok"] > 0,
          f"{counts['failed']} failed of {counts['ok'] + counts['failed']} in "
          f"{time.time() - started:.0f} s, {counts['handshakes retried']} handshakes retried "
          f"{failures}")


def run_gateway(cluster):
    """Stage 7 through its one way in, https://kub-network.test (scripts/k8s_gateway.py)."""
    cluster.clean()
    started = time.time()
    ca_file = k8s_gateway.apply_stage(cluster)
    cluster.run("wait", "-n", NAMESPACE, "--for=condition=Available", "deployment", "-l", PART_OF,
                "--timeout=240s")
    edge, plain = k8s_gateway.edge_urls(cluster, ca_file)
    k8s_gateway.gateway_accepted(cluster, edge)
    check(f"{GATEWAY}: users and tasks reach auth (the page's GET /api/*/network)",
          all(wait_auth_reachable(f"{edge}/api/{app}", 60) for app in ("users", "tasks")),
          f"{time.time() - started:.1f} s")
    token = walk_through(GATEWAY, edge, edge)
    k8s_gateway.gateway_checks(cluster, edge, plain, ca_file, token)
    walk_through_in_a_browser(edge, GATEWAY, "the Gateway over HTTPS (the CA trusted by chromium)",
                              ["--resolve", f"{k8s_gateway.HOST}:{cluster.node_address()}",
                               "--ca-file", str(ca_file)])
    # Last: Pods come and go on the node meanwhile, and chromium gives up a page load on the
    # network interfaces they add and remove (net::ERR_NETWORK_CHANGED).
    k8s_gateway.autoscaling_rises_and_falls(cluster, edge, token)


def network_policies_admitted(cluster):
    names = sorted(p["metadata"]["name"] for p in cluster.get("networkpolicies", "-l", PART_OF)["items"])
    expected = cluster.declared("networkpolicy", "-f", str(ROOT / "kubernetes"))
    check("final: NetworkPolicies admitted by the API server, those of kubernetes/",
          names == expected and len(names) > 1, str(names))
    # ... and enforced: who reaches what, with them and without them (scripts/k8s_policy_matrix.py).
    k8s_policy_matrix.probe_matrix(cluster)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--helm", default=None, help="helm binary; without it the chart is skipped")
    parser.add_argument("--only", nargs="*",
                        help=f"scenarios to run: stage names ({SCALE_OUT}, {GATEWAY} too), final, helm, "
                        f"{k8s_helm_gateway.SCENARIO}")
    args = parser.parse_args()
    cluster = Cluster(args.kubectl, args.helm)
    scenarios = [*STAGES, SCALE_OUT, GATEWAY, "final", "helm", k8s_helm_gateway.SCENARIO]
    wanted = args.only or scenarios
    unknown = set(wanted) - set(scenarios)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    started = time.time()

    def apply_stage(stage):
        cluster.create_secret(STAGE_SECRETS.get(stage, SECRETS))
        cluster.run("apply", "-k", str(ROOT / "kubernetes/stages" / stage))

    def apply_final():
        cluster.create_secret()
        cluster.run("apply", "-f", str(ROOT / "kubernetes") + "/")

    def install_chart():
        cluster.create_secret()
        # NodePort: `--wait` would otherwise wait for a LoadBalancer address no one hands out here.
        cluster.run("install", "kub-network", str(ROOT / "charts/kub-network"), "-n", NAMESPACE,
                    "--set", "users.serviceType=NodePort,tasks.serviceType=NodePort,"
                    "frontend.serviceType=NodePort",
                    "--wait", "--timeout", "3m", tool=args.helm)

    try:
        # Pod Security `restricted` on the namespace, before any Pod of any scenario.
        k8s_policy_matrix.enforce_restricted(cluster)
        for stage in [s for s in STAGES if s in wanted]:
            urls, _ = run_scenario(cluster, stage, lambda: apply_stage(stage))
            if stage != "1-users-alone":
                still_works_after_rollout_restart(cluster, stage, urls)
        if SCALE_OUT in wanted:
            started_stage = time.time()
            try:
                urls, token = run_scenario(cluster, SCALE_OUT,
                                           lambda: k8s_scale_out.apply_stage(cluster))
                k8s_scale_out.scale_out_checks(cluster, urls, token)
                still_works_after_rollout_restart(cluster, SCALE_OUT, urls)
            finally:
                cluster.clean()
                k8s_scale_out.remove_volume_folder()
            note(f"{SCALE_OUT}: {time.time() - started_stage:.0f} s")
        if GATEWAY in wanted:
            started_stage = time.time()
            try:
                run_gateway(cluster)
            finally:
                cluster.clean()
                k8s_scale_out.remove_volume_folder()
            note(f"{GATEWAY}: {time.time() - started_stage:.0f} s")
        if "final" in wanted:
            urls, token = run_scenario(cluster, "final", apply_final)
            network_policies_admitted(cluster)
            walk_through_in_a_browser(frontend_proxies(cluster, "final"))
            deleted_tasks_pod_comes_back_empty(cluster, urls, token)
            signups_from_one_address_are_throttled(cluster, urls)
            auth_outage_gives_503_then_heals(cluster, urls, token)
            signup = lambda: call("POST", f"{urls['users']}/signup",
                                  {"email": f"r-{secrets.token_hex(6)}@test.com", "password": "testers"})
            rollout_under_load(cluster, "users-deployment", signup, 201)
            tasks = lambda: call("GET", f"{urls['tasks']}/tasks", token=token)
            rollout_under_load(cluster, "tasks-deployment", tasks, 200)
            rollout_under_load(cluster, "auth-deployment", tasks, 200)
            full_volume_answers_507_without_eviction(cluster, urls)
            without_budget_the_pod_is_evicted(cluster, urls)
        if "helm" in wanted and args.helm:
            urls, _ = run_scenario(cluster, "helm", install_chart)
            frontend_proxies(cluster, "helm")
            still_works_after_rollout_restart(cluster, "helm", urls)
            cluster.run("upgrade", "kub-network", str(ROOT / "charts/kub-network"), "-n", NAMESPACE,
                        "--reuse-values", "-f", str(ROOT / "charts/kub-network/values-production.yaml"),
                        "--wait", "--timeout", "3m", tool=args.helm)
            network_route_off(urls)
        elif "helm" in wanted:
            print("SKIP  helm: no --helm given", flush=True)
        if k8s_helm_gateway.SCENARIO in wanted and args.helm:
            started_stage = time.time()
            k8s_helm_gateway.run(cluster, walk_through)
            note(f"{k8s_helm_gateway.SCENARIO}: {time.time() - started_stage:.0f} s")
    except Exception as error:  # a step that could not even run is a failure, with its reason
        traceback.print_exc()
        check("the scenario ran to the end", False, str(error))
    finally:
        cluster.clean()
    print(f"k8s-e2e: {RESULTS['passed']} passed, {RESULTS['failed']} failed "
          f"({time.time() - started:.0f} s)")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
