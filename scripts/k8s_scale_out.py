"""Stage 5, scale-out (kubernetes/stages/5-scale-out), on a real cluster (scripts/k8s-e2e.py).

users-api and tasks-api run three replicas each on one PostgreSQL (a StatefulSet whose data is on
a PersistentVolumeClaim). After the walk-through and GET /network of every scenario:
  - the claim is Bound to a volume, and PostgreSQL's files on it belong to uid 999;
  - users and tasks connect as their own roles (users_api, tasks_api), each owning its schema,
    neither a superuser; tasks' role may not read users' table;
  - each Service spreads requests: over 30 GET /network, each on a new connection as curl makes
    them, name at least two different Pods;
  - the data is shared: a user signed up through one users Pod logs in through the others, a
    task stored through one tasks Pod is listed by the others (Pod IPs, straight from the node);
  - the data survives the database Pod: deleted, the StatefulSet recreates it on the same claim;
    scaled to 0, users and tasks answer 503 JSON; back at 1 they heal without restarting, the
    task still there.

This cluster has no volume provisioner (minikube has a default StorageClass): the test, not the
stage, makes a hostPath PersistentVolume bound in advance to the claim the StatefulSet will make.
"""

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cluster_kit import NAMESPACE, PART_OF, call, check, note, watch_outage
from service_kit import poll

STAGE = "5-scale-out"
ROOT = Path(__file__).resolve().parent.parent
CLAIM = "postgres-data-postgres-statefulset-0"
VOLUME = "kub-network-postgres-volume"
VOLUME_DIR = Path(tempfile.gettempdir()) / "kub-network-postgres-volume"
POSTGRES_POD = "postgres-statefulset-0"
PORTS = {"users": 8080, "tasks": 8000}
POSTGRES_UID = 999
# postgres-secret's keys: the superuser's password, and those of the roles users and tasks use.
DATABASE_PASSWORDS = ("POSTGRES_PASSWORD", "USERS_DB_PASSWORD", "TASKS_DB_PASSWORD")
# More than 30, as the lesson asks; kube-proxy (iptables) picks a Pod per connection at random,
# so two Pods at least are all but certain (a single one: 3 * (1/3)^36).
SPREAD_REQUESTS = 36


def create_postgres_secret(cluster):
    # kubernetes/README.md: kubectl create secret generic postgres-secret --from-literal=POSTGRES_PASSWORD="$(openssl rand -hex 24)" --from-literal=USERS_DB_PASSWORD=… --from-literal=TASKS_DB_PASSWORD=…
    cluster.run("create", "secret", "generic", "postgres-secret", "-n", NAMESPACE,
                *(f"--from-literal={key}={secrets.token_hex(24)}" for key in DATABASE_PASSWORDS))


def provide_volume(cluster):
    """A hostPath PersistentVolume for the claim of postgres-statefulset-0, in an empty folder
    owned by PostgreSQL's uid (the kubelet applies no fsGroup to a hostPath)."""
    remove_volume_folder()
    VOLUME_DIR.mkdir(mode=0o700)
    os.chown(VOLUME_DIR, POSTGRES_UID, POSTGRES_UID)
    volume = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": VOLUME, "labels": {"app.kubernetes.io/part-of": "kub-network"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": "",
            "claimRef": {"namespace": NAMESPACE, "name": CLAIM},
            "hostPath": {"path": str(VOLUME_DIR), "type": "Directory"},
        },
    }
    cluster.run("apply", "-f", "-", stdin=json.dumps(volume))


def remove_volume_folder():
    shutil.rmtree(VOLUME_DIR, ignore_errors=True)


def apply_stage(cluster):
    """`kubectl apply -k kubernetes/stages/5-scale-out`, with its Secrets and volume first."""
    cluster.create_secret()
    create_postgres_secret(cluster)
    provide_volume(cluster)
    cluster.run("apply", "-k", str(ROOT / "kubernetes/stages" / STAGE))


def ready_pods(cluster, app):
    return [p for p in cluster.pods(app)
            if p["status"].get("containerStatuses")
            and all(s["ready"] for s in p["status"]["containerStatuses"])]


def wait_endpoints(cluster, service, count, timeout=60):
    """Until the Service has `count` ready endpoints (kube-proxy follows a moment later)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        subsets = cluster.get("endpoints", service).get("subsets") or []
        if sum(len(s.get("addresses") or []) for s in subsets) >= count:
            time.sleep(1)
            return True
        time.sleep(0.5)
    return False


def database_on_its_claim(cluster):
    claim = cluster.get("pvc", CLAIM)
    pgdata = VOLUME_DIR / "pgdata"
    version = (pgdata / "PG_VERSION").read_text().strip() if (pgdata / "PG_VERSION").exists() else None
    owner = pgdata.stat().st_uid if pgdata.exists() else None
    check(f"{STAGE}: the database's claim is Bound, its files on the volume belong to uid {POSTGRES_UID}",
          claim["status"].get("phase") == "Bound" and claim["spec"].get("volumeName") == VOLUME
          and version is not None and owner == POSTGRES_UID,
          f"{CLAIM} {claim['status'].get('phase')} to {claim['spec'].get('volumeName')} "
          f"({claim['status'].get('capacity', {}).get('storage')}, hostPath {VOLUME_DIR}); "
          f"pgdata/PG_VERSION {version}, owner uid {owner}")


def service_spreads_requests(cluster, app, url):
    """GET /network through the Service, a new connection each time: which Pods answer."""
    replicas = cluster.get("deployment", f"{app}-deployment")["spec"]["replicas"]
    wait_endpoints(cluster, f"{app}-service", replicas)
    ready = {p["metadata"]["name"] for p in ready_pods(cluster, app)}
    answered, failed = {}, []
    for _ in range(SPREAD_REQUESTS):
        status, network = call("GET", f"{url}/network", timeout=5)
        name = network.get("pod", {}).get("name") if status == 200 else None
        if name:
            answered[name] = answered.get(name, 0) + 1
        else:
            failed.append(status)
    counts = ", ".join(f"{name.rsplit('-', 1)[-1]}: {n}" for name, n in sorted(answered.items()))
    check(f"{STAGE}: {app}-service spreads {SPREAD_REQUESTS} GET /network over its Pods "
          f"(at least 2 of {replicas})",
          len(answered) >= 2 and set(answered) <= ready and not failed,
          f"{len(answered)} Pods answered ({counts}); {len(ready)} Ready; failed {failed}")


def data_shared_between_pods(cluster, token):
    """Straight to the Pods' IPs from the node: written through one, read through the others."""
    users = sorted(ready_pods(cluster, "users"), key=lambda p: p["metadata"]["name"])
    tasks = sorted(ready_pods(cluster, "tasks"), key=lambda p: p["metadata"]["name"])
    short = lambda pod: pod["metadata"]["name"].rsplit("-", 1)[-1]
    at = lambda pod, port: f"http://{pod['status']['podIP']}:{port}"
    login = {"email": f"shared-{secrets.token_hex(4)}@test.com", "password": "testers"}
    signup, _ = call("POST", f"{at(users[0], 8080)}/signup", login)
    logins = [call("POST", f"{at(pod, 8080)}/login", login)[0] for pod in users[1:]]
    check(f"{STAGE}: a user signed up through one users Pod logs in through the others",
          len(users) >= 2 and signup == 201 and logins and all(s == 200 for s in logins),
          f"signup {signup} via {short(users[0])} ({users[0]['status']['podIP']}), login "
          + ", ".join(f"{s} via {short(p)} ({p['status']['podIP']})" for s, p in zip(logins, users[1:])))
    title = f"{STAGE} task {secrets.token_hex(3)}"
    status, body = call("POST", f"{at(tasks[0], 8000)}/tasks", {"title": title, "text": "shared"}, token)
    read = {}
    for pod in tasks[1:]:
        got, page = call("GET", f"{at(pod, 8000)}/tasks", token=token)
        read[short(pod)] = got == 200 and title in [t["title"] for t in page.get("tasks", [])]
    check(f"{STAGE}: a task stored through one tasks Pod is listed by the others",
          len(tasks) >= 2 and status == 201 and read and all(read.values()),
          f"POST {status} via {short(tasks[0])} ({tasks[0]['status']['podIP']}); listed by {read}")
    return title


def restarts(cluster):
    return {p["metadata"]["name"]: sum(s["restartCount"] for s in p["status"]["containerStatuses"])
            for app in ("users", "tasks") for p in cluster.pods(app)}


def database_probes(urls, token):
    """tasks' GET /tasks and users' GET /readyz (503 while the database is unreachable), and what
    each answers while it is reachable."""
    probes = {"tasks": lambda: call("GET", f"{urls['tasks']}/tasks", token=token, timeout=5),
              "users": lambda: call("GET", f"{urls['users']}/readyz", timeout=5)}
    return probes, {"tasks": 200, "users": 200}


def listed_titles(urls, token):
    status, body = call("GET", f"{urls['tasks']}/tasks", token=token)
    return [t["title"] for t in body.get("tasks", [])] if status == 200 else []


def data_survives_the_database_pod(cluster, urls, token, title):
    """The database Pod deleted: the StatefulSet recreates it on the same claim; meanwhile users
    and tasks, through their Services, answer as usual, 503 JSON, or nothing (no Pod of the
    Service Ready): the outage may be shorter than a probe, so it is not required. Scaled to 0 it
    is certain: a Pod of each, straight, answers 503 JSON, and heals once the database is back at
    1. The task is still listed and no users or tasks Pod restarted."""
    before = restarts(cluster)
    old = cluster.get("pod", POSTGRES_POD)
    probes, healthy = database_probes(urls, token)
    cluster.run("delete", "pod", "-n", NAMESPACE, POSTGRES_POD, "--wait=false")
    deleted = time.time()

    def back(*_):
        found = cluster.run("get", "pod", "-n", NAMESPACE, POSTGRES_POD, "-o", "json", check=False)
        pod = json.loads(found) if found.strip() else None
        statuses = (pod or {}).get("status", {}).get("containerStatuses") or [{"ready": False}]
        return pod is not None and pod["metadata"]["uid"] != old["metadata"]["uid"] \
            and all(s["ready"] for s in statuses)

    unavailable, _, other = watch_outage(probes, healthy, back, 150)
    other = {app: kinds - {"no answer"} for app, kinds in other.items() if kinds - {"no answer"}}
    new = cluster.get("pod", POSTGRES_POD)
    claim_of = lambda pod: [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]
                            if "persistentVolumeClaim" in v]
    check(f"{STAGE}: the deleted database Pod is recreated by the StatefulSet on the same claim",
          back() and claim_of(new) == claim_of(old) == [CLAIM],
          f"{POSTGRES_POD} uid {old['metadata']['uid'][:8]} -> {new['metadata']['uid'][:8]} in "
          f"{time.time() - deleted:.0f} s, claim {claim_of(new)}, IP {old['status'].get('podIP')} "
          f"-> {new['status'].get('podIP')}")
    healed = poll(lambda: all(probe()[0] == healthy[app] for app, probe in probes.items()), 60)
    check(f"{STAGE}: ... meanwhile tasks and users answer as usual, 503 JSON or nothing, never an "
          "error; then as usual, the task still listed",
          not other and healed and title in listed_titles(urls, token),
          f"503 from {sorted(unavailable) or 'neither (shorter than a probe)'}; other answers "
          f"{other}; as usual again: {bool(healed)}")

    chosen = {app: cluster.ready_pod(app) for app in ("tasks", "users")}
    one = {app: f"http://{pod['status']['podIP']}:{PORTS[app]}" for app, pod in chosen.items()}
    probes, healthy = database_probes(one, token)
    statefulset = "statefulset/postgres-statefulset"
    cluster.run("scale", "-n", NAMESPACE, statefulset, "--replicas=0")
    unavailable, _, other = watch_outage(probes, healthy, lambda down, _: set(down) == set(probes), 90)
    check(f"{STAGE}: database scaled to 0: a tasks and a users Pod answer 503 JSON, never an error",
          set(unavailable) == set(probes) and not other, f"{unavailable}; other answers {other}")
    cluster.run("scale", "-n", NAMESPACE, statefulset, "--replicas=1")
    _, healed, other = watch_outage(probes, healthy, lambda _, up: set(up) == set(probes), 150,
                                    down=unavailable)
    check(f"{STAGE}: ... back at 1: both heal, the task still listed",
          set(healed) == set(probes) and not other and title in listed_titles(one, token),
          f"healed after {healed} s; other answers {other}")
    for app in set(probes) - set(healed):
        pod = chosen[app]["metadata"]["name"]
        for line in cluster.run("logs", "-n", NAMESPACE, pod, "--tail=6", check=False).splitlines():
            note(f"{pod}: {line[:600]}")

    # Through the Service again once its Pods are Ready (their readiness probe failed meanwhile).
    unknown = {"email": f"missing-{secrets.token_hex(4)}@test.com", "password": "testers"}
    answers = poll(lambda: call("POST", f"{urls['users']}/login", unknown)[0] == 401, 60)
    after = restarts(cluster)
    check(f"{STAGE}: ... without restarting any users or tasks Pod",
          after == before and answers,
          f"{len(after)} Pods, restarts {sum(before.values())} -> {sum(after.values())}; "
          f"users-service answers 401 to an unknown login: {answers}")


def psql(cluster, user, sql):
    """`sql` as `user` on the database Pod's local socket (trusted there, as in the image)."""
    done = subprocess.run([cluster.kubectl, "exec", "-n", NAMESPACE, POSTGRES_POD, "--", "psql",
                           "-U", user, "-d", "kub", "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                          capture_output=True, text=True, timeout=60)
    return done.returncode, (done.stdout.strip() or done.stderr.strip())


def services_connect_as_their_own_roles(cluster):
    """users and tasks are connected as users_api and tasks_api (postgres-init made them on the
    first start), neither a superuser, and tasks' role may not read users' table."""
    _, connected = psql(cluster, "kub", "SELECT string_agg(DISTINCT usename, ',' ORDER BY usename) "
                        "FROM pg_stat_activity WHERE datname = 'kub' AND usename <> 'kub'")
    _, superusers = psql(cluster, "kub", "SELECT count(*) FROM pg_roles WHERE rolsuper "
                         "AND rolname IN ('users_api', 'tasks_api')")
    _, owners = psql(cluster, "kub", "SELECT string_agg(nspname || '=' || pg_get_userbyid(nspowner), "
                     "',' ORDER BY nspname) FROM pg_namespace WHERE nspname IN ('users', 'tasks')")
    code, refused = psql(cluster, "tasks_api", "SELECT count(*) FROM users.users")
    check(f"{STAGE}: users and tasks connect as their own roles, each owning its schema; "
          "tasks_api may not read users.users",
          connected == "tasks_api,users_api" and superusers == "0"
          and owners == "tasks=tasks_api,users=users_api"
          and code != 0 and "permission denied" in refused,
          f"connected as {connected}; superusers among them {superusers}; owners {owners}; "
          f"as tasks_api: {refused}")


def network_policies_admitted(cluster):
    names = sorted(p["metadata"]["name"] for p in cluster.get("networkpolicies", "-l", PART_OF)["items"])
    expected = cluster.declared("networkpolicy", "-k", str(ROOT / "kubernetes/stages" / STAGE))
    check(f"{STAGE}: NetworkPolicies admitted, those of the stage (postgres-network-policy among them)",
          "postgres-network-policy" in names and names == expected, str(names))


def scale_out_checks(cluster, urls, token):
    database_on_its_claim(cluster)
    services_connect_as_their_own_roles(cluster)
    network_policies_admitted(cluster)
    for app in ("users", "tasks"):
        service_spreads_requests(cluster, app, urls[app])
    title = data_shared_between_pods(cluster, token)
    data_survives_the_database_pod(cluster, urls, token, title)
