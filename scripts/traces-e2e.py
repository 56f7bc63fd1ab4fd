#!/usr/bin/env python3
"""Traces, black-box: the release binaries send their spans over OTLP/HTTP to a real Jaeger 2
(built from its module by scripts/test-bed-build.sh, configured by jaeger/config.yaml),
and Jaeger's own API shows one trace per request with spans from each service.

- `GET /tasks` with a `traceparent`: tasks-api's and auth-api's spans under that trace id, parent
  to child, tasks exporting `http/json` and auth `http/protobuf`; the call's `auth.found_by` and
  peer address; the Pod's `k8s.*` from the downward-API variables.
- `POST /login` likewise through users-api.
- A caller's "not sampled" flag is followed: that trace never reaches Jaeger.
- A collector that accepts connections and never answers: the service still starts, every
  request is answered (its queue fills and drops spans), and SIGTERM still exits promptly.

  python3 scripts/traces-e2e.py      (needs Go for the first build of Jaeger, ~5 min on 2 cores)
"""
import os, secrets, signal, socket, subprocess, sys, tempfile, time

from flood_kit import RELEASE, ROOT, Report
from jaeger_kit import start_jaeger, stop_all, trace_in_jaeger
from service_kit import call, caller_keys, free_port, poll, wait_ready

# The last export at shutdown may take FLUSH_TIMEOUT (2 s, crates/kub-http/src/traces.rs);
# with a stuck collector, SIGTERM to exit must stay within it plus the drain's own moment.
EXIT_WITHIN_S = 6.0


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "auth-api", "-p", "users-api",
                    "-p", "tasks-api"], cwd=ROOT, check=True)


def wait_for_trace(query_port, trace_id, services):
    """The trace once spans of every one of `services` are in it (or what there is after 20 s)."""
    found = {}

    def complete():
        found.update(trace_in_jaeger(query_port, trace_id))
        return services <= {span["service"] for span in found.values()}

    poll(complete, 20, 0.25)
    return found


def one(spans, service, name):
    matches = [(span_id, span) for span_id, span in spans.items()
               if span["service"] == service and span["name"] == name]
    return matches[0] if matches else (None, None)


def ancestors(spans, span_id):
    seen = []
    while span_id in spans and spans[span_id]["parent"]:
        span_id = spans[span_id]["parent"]
        seen.append(span_id)
    return seen


def traceparent(sampled=True):
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"


def check_request_trace(report, query_port, what, entry, url, body, token, found_by):
    """`what` through `entry` ("tasks-api" or "users-api") and its call to auth: one trace."""
    trace_id, caller_span, header = traceparent()
    status, _ = call(*url, body=body, token=token, headers={"traceparent": header})
    spans = wait_for_trace(query_port, trace_id, {entry, "auth-api"})
    server_id, server = one(spans, entry, what)
    route = {"users-api": "POST /token", "tasks-api": "POST /verify-token"}[entry]
    client_id, client = one(spans, entry, route)
    auth_id, auth = one(spans, "auth-api", route)
    report.check(f"{what}: one trace in Jaeger, {entry} and auth-api", bool(server and client and auth),
                 f"status {status}, {len(spans)} spans: "
                 + ", ".join(sorted(f"{s['service']} {s['name']}" for s in spans.values())))
    if not (server and client and auth):
        return
    report.check(f"{what}: parent to child, from the caller's span to auth's",
                 server["parent"] == caller_span and server_id in ancestors(spans, client_id)
                 and auth["parent"] == client_id,
                 f"{entry} {what} under {server['parent']} (caller {caller_span}); "
                 f"auth's span under {auth['parent']} (client span {client_id})")
    report.check(f"{what}: how auth was found, and where it answered",
                 client["tags"].get("auth.found_by") == found_by
                 and client["tags"].get("network.peer.address") == "127.0.0.1",
                 f"auth.found_by={client['tags'].get('auth.found_by')!r}, "
                 f"network.peer.address={client['tags'].get('network.peer.address')!r}")
    report.check(f"{what}: the Pod and the answer on the spans",
                 server["resource"].get("k8s.pod.name") == f"{entry}-test"
                 and str(server["tags"].get("http.response.status_code")) == str(status),
                 f"k8s.pod.name={server['resource'].get('k8s.pod.name')!r}, "
                 f"http.response.status_code={server['tags'].get('http.response.status_code')!r}")


def silent_collector():
    """A socket that accepts connections into its backlog and never answers one."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    return listener


def check_stuck_collector(report, work, env, auth_address, tasks_key, token):
    listener = silent_collector()
    port, metrics_port = free_port(), free_port()
    process = subprocess.Popen([f"{RELEASE}/tasks-api"], env={
        **env, **tasks_key, "AUTH_ADDRESS": auth_address, "TASKS_FOLDER": f"{work}/stuck-tasks",
        "PORT": str(port), "METRICS_PORT": str(metrics_port), "TASK_LIMIT_PER_USER": "off",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{listener.getsockname()[1]}",
        "OTEL_BSP_MAX_QUEUE_SIZE": "64", "OTEL_BSP_SCHEDULE_DELAY": "100"},
        stdout=open(f"{work}/stuck-tasks.log", "w"), stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        wait_ready(port)
        report.check("stuck collector: tasks-api starts", True, f"ready in {time.monotonic() - started:.1f} s")
        statuses = {}
        for _ in range(300):   # past the queue's 64: spans are dropped, requests go on
            status = call("GET", f"http://127.0.0.1:{port}/tasks", token=token, timeout=5)[0]
            statuses[status] = statuses.get(status, 0) + 1
        report.check("stuck collector: every request answered", statuses == {200: 300}, f"statuses {statuses}")
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            code = "still running after 30 s"
        took = time.monotonic() - stopping
        report.check("stuck collector: SIGTERM still exits promptly", code == 0 and took < EXIT_WITHIN_S,
                     f"exit {code} after {took:.1f} s (at most {EXIT_WITHIN_S} s: the last flush waits 2 s)")
    finally:
        if process.poll() is None:
            process.kill()
        listener.close()


def main():
    build()
    work = tempfile.mkdtemp(prefix="kub-traces-")
    report = Report()
    jaeger, jaeger_ports = start_jaeger(work)
    ports = {name: free_port() for name in ("auth", "users", "tasks")}
    auth_keys, users_key, tasks_key = caller_keys()
    auth_address = f"127.0.0.1:{ports['auth']}"
    otlp = f"http://127.0.0.1:{jaeger_ports['otlp']}"
    base = {"PATH": os.environ["PATH"], "RUST_LOG": "warn", "OTEL_BSP_SCHEDULE_DELAY": "200"}
    envs = {
        "auth": {"JWT_SECRET": secrets.token_hex(32), **auth_keys, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp},
        "users": {"AUTH_ADDRESS": auth_address, "USERS_FOLDER": f"{work}/users", **users_key,
                  "OTEL_EXPORTER_OTLP_ENDPOINT": otlp},
        "tasks": {"AUTH_ADDRESS": auth_address, "TASKS_FOLDER": f"{work}/tasks", **tasks_key,
                  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{otlp}/v1/traces",
                  "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
    }
    processes = [jaeger]
    try:
        for name, env in envs.items():
            env.update(PORT=str(ports[name]), METRICS_PORT=str(free_port()), POD_NAME=f"{name}-api-test")
            log = open(f"{work}/{name}.log", "w")
            processes.append(subprocess.Popen([f"{RELEASE}/{name}-api"], env={**base, **env},
                                              stdout=log, stderr=log))
            wait_ready(ports[name])
        users, tasks = f"http://127.0.0.1:{ports['users']}", f"http://127.0.0.1:{ports['tasks']}"
        creds = {"email": "traces@test.com", "password": "tester"}
        assert call("POST", f"{users}/signup", creds)[0] == 201
        token = call("POST", f"{users}/login", creds)[1]["token"]

        check_request_trace(report, jaeger_ports["query"], "GET /tasks", "tasks-api",
                            ("GET", f"{tasks}/tasks"), None, token, "AUTH_ADDRESS (an IP address)")
        check_request_trace(report, jaeger_ports["query"], "POST /login", "users-api",
                            ("POST", f"{users}/login"), creds, None, "AUTH_ADDRESS (an IP address)")

        unsampled, _, header = traceparent(sampled=False)
        call("GET", f"{tasks}/tasks", token=token, headers={"traceparent": header})
        barrier, _, header = traceparent()
        call("GET", f"{tasks}/tasks", token=token, headers={"traceparent": header})
        wait_for_trace(jaeger_ports["query"], barrier, {"tasks-api", "auth-api"})
        left_out = trace_in_jaeger(jaeger_ports["query"], unsampled)
        report.check("a caller's not-sampled flag is followed", not left_out,
                     f"{len(left_out)} spans in Jaeger for the unsampled trace (a later sampled one arrived)")

        check_stuck_collector(report, work, base, auth_address, tasks_key, token)
    finally:
        stop_all(processes)
    print(f"traces-e2e: {report.passed} passed, {report.failed} failed (logs: {work})")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
