"""The tasks volume on a real cluster (scripts/k8s-e2e.py, after the final manifests).

Filled to its STORE_BUDGET, tasks-api answers 507, the kubelet never evicts it, and every task
it acknowledged is still there. Then the control: the same Deployment without the budget (and
with a small sizeLimit, so that filling it takes seconds) is evicted by the kubelet once the
emptyDir passes its sizeLimit, and its tasks are gone: what the budget exists to prevent.
"""

import json
import secrets
import threading
import time

from cluster_kit import NAMESPACE, call, check, is_error_json, metrics_url, note, wait_answering

# The largest task the API takes: 10,000 characters, each stored as a 6-byte JSON escape
# (about 60 KB a line), so that 200Mi fills in a few thousand requests.
LARGEST_TEXT = "\u0001" * 10_000
# Five users fill 200Mi once their own limits are lifted: the per-user quota (MAX_BYTES_PER_USER,
# 4Mi) and rate (TASK_LIMIT_PER_USER) exist so that no few accounts can do this; here the store's
# own budget is what is tested, so both are turned off for these scenarios.
FILLERS = 5
PER_USER_LIMITS_OFF = ["MAX_TASKS_PER_USER=100000000", "MAX_BYTES_PER_USER=1Ti",
                       "TASK_LIMIT_PER_USER=off"]
# The kubelet's eviction manager looks every 10 s at volume usage that the kubelet measures every
# --volume-stats-agg-period (1 min by default; 10 s on scripts/k8s-local.sh's cluster).
EVICTION_WATCH = 30
# On a loaded machine a measurement (du over the volume) and the eviction after it have taken
# ~100 s: a wait of 90 s failed once in three runs.
EVICTION_DEADLINE = 240
CONTROL_SIZE_LIMIT = "8Mi"


def tokens_of_new_users(users_url, count):
    tokens = []
    for _ in range(count):
        login = {"email": f"fill-{secrets.token_hex(6)}@test.com", "password": "testers"}
        call("POST", f"{users_url}/signup", login)
        status, body = call("POST", f"{users_url}/login", login)
        if status != 200:
            raise RuntimeError(f"login for the fill answered {status} {body}")
        tokens.append(body["token"])
    return tokens


def fill(tasks_url, tokens, most=None):
    """One writer per token, each POSTing the largest task until an answer is not 201 (or it
    wrote `most`). Returns the titles acknowledged per token and each writer's last answer."""
    acknowledged = {token: [] for token in tokens}
    last = {}

    def writer(token):
        for n in range(most or 10**9):
            title = f"fill {n}"
            status, body = call("POST", f"{tasks_url}/tasks", {"title": title, "text": LARGEST_TEXT},
                                token=token, timeout=30)
            if status != 201:
                last[token] = (status, body)
                return
            acknowledged[token].append(title)
        last[token] = (201, None)

    threads = [threading.Thread(target=writer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return acknowledged, last


def listed(tasks_url, token):
    """Every task of the token's user, page by page: (titles, whether each text is intact)."""
    titles, intact, after = [], True, None
    while True:
        query = f"?limit=100&after={after}" if after else "?limit=100"
        status, page = call("GET", f"{tasks_url}/tasks{query}", token=token, timeout=30)
        if status != 200:
            raise RuntimeError(f"GET /tasks answered {status} {page}")
        titles += [task["title"] for task in page["tasks"]]
        intact = intact and all(task["text"] == LARGEST_TEXT for task in page["tasks"])
        after = page["nextAfter"]
        if after is None:
            return titles, intact


def store_metrics(cluster):
    status, text = call("GET", f"{metrics_url(cluster, 'tasks')}/metrics")
    values = {}
    for line in str(text).splitlines():
        for name in ("store_bytes", "store_budget_bytes"):
            if line.startswith(f'{name}{{kind="tasks"}} '):
                values[name] = int(float(line.split()[-1]))
    return values


def pod_state(cluster):
    pod = cluster.ready_pod("tasks")
    restarts = sum(s["restartCount"] for s in pod["status"]["containerStatuses"])
    return pod["metadata"]["name"], restarts


def lift_per_user_limits(cluster, urls):
    old = cluster.ready_pod("tasks")["metadata"]["name"]
    cluster.run("set", "env", "-n", NAMESPACE, "deployment/tasks-deployment", *PER_USER_LIMITS_OFF)
    cluster.run("rollout", "status", "-n", NAMESPACE, "deployment/tasks-deployment", "--timeout=180s")
    cluster.ready_pod("tasks", other_than=old)
    wait_answering(urls["tasks"])


def full_volume_answers_507_without_eviction(cluster, urls):
    lift_per_user_limits(cluster, urls)
    before = pod_state(cluster)
    tokens = tokens_of_new_users(urls["users"], FILLERS)
    started = time.time()
    acknowledged, last = fill(urls["tasks"], tokens)
    took = time.time() - started
    stored = sum(len(titles) for titles in acknowledged.values())
    refusals = {status for status, body in last.values() if is_error_json(body)}
    metrics = store_metrics(cluster)
    check("final: tasks filled over HTTP to STORE_BUDGET: every writer stopped by a 507 JSON",
          refusals == {507}, f"{stored} tasks acknowledged in {took:.0f} s; last answers "
          f"{sorted({status for status, _ in last.values()})}")
    check("final: ... tasks.jsonl stays within its budget (/metrics on the Pod's port 9090)",
          0 < metrics.get("store_bytes", 0) <= metrics.get("store_budget_bytes", 0),
          f"{metrics.get('store_bytes', 0) / 2**20:.1f} MiB of "
          f"{metrics.get('store_budget_bytes', 0) / 2**20:.0f} MiB; the emptyDir's sizeLimit is 256Mi")
    time.sleep(EVICTION_WATCH)
    after = pod_state(cluster)
    check(f"final: ... {EVICTION_WATCH} s later the same Pod, not evicted, not restarted",
          after == before, f"{before} -> {after}")
    complete = True
    for token, titles in acknowledged.items():
        back, intact = listed(urls["tasks"], token)
        complete = complete and back == titles and intact
    check("final: ... every acknowledged task is listed back, in order and intact", complete,
          f"{stored} tasks of {len(tokens)} users")


def without_budget_the_pod_is_evicted(cluster, urls):
    deployment = cluster.get("deployment", "tasks-deployment")
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    budget_at = next(i for i, var in enumerate(env) if var["name"] == "STORE_BUDGET")
    patch = [{"op": "remove", "path": f"/spec/template/spec/containers/0/env/{budget_at}"},
             {"op": "replace", "path": "/spec/template/spec/volumes/0/emptyDir/sizeLimit",
              "value": CONTROL_SIZE_LIMIT}]
    old = cluster.ready_pod("tasks")["metadata"]["name"]
    cluster.run("patch", "deployment", "tasks-deployment", "-n", NAMESPACE, "--type=json",
                "-p", json.dumps(patch))
    cluster.run("rollout", "status", "-n", NAMESPACE, "deployment/tasks-deployment", "--timeout=180s")
    pod = cluster.ready_pod("tasks", other_than=old)["metadata"]["name"]
    wait_answering(urls["tasks"])
    [token] = tokens_of_new_users(urls["users"], 1)
    # 200 of the largest tasks: about 12 MB, past the 8Mi sizeLimit.
    acknowledged, _ = fill(urls["tasks"], [token], most=200)
    stored = len(acknowledged[token])
    written_at, evicted = time.time(), None
    while time.time() < written_at + EVICTION_DEADLINE and not evicted:
        status = cluster.get("pod", pod)["status"]
        if status.get("reason") == "Evicted":
            evicted = status.get("message", "Evicted")
        time.sleep(1)
    check(f"final: control without STORE_BUDGET (sizeLimit {CONTROL_SIZE_LIMIT}): the kubelet "
          "evicts the tasks Pod", evicted is not None,
          f"{stored} tasks written; "
          f"{evicted or f'no eviction within {EVICTION_DEADLINE} s'} "
          f"({time.time() - written_at:.0f} s after the last write)")
    cluster.ready_pod("tasks", other_than=pod)
    wait_answering(urls["tasks"])
    back, _ = listed(urls["tasks"], token)
    check("final: ... and its replacement starts with an empty volume: every task is gone",
          evicted is not None and back == [], f"{len(back)} of {stored} tasks left")
    note("that is what STORE_BUDGET prevents: eviction deletes the emptyDir")
