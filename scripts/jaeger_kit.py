"""Jaeger for the scripts that check or measure traces: the test bed's Jaeger 2 (built from its
module by scripts/test-bed-build.sh, configured by jaeger/config.yaml) on free loopback
ports, and one trace as its API shows it."""
import os, subprocess, sys

from service_kit import call, free_port, poll

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jaeger_binary():
    """The test bed's jaeger, built first if needed (a few minutes, once)."""
    subprocess.run(["bash", f"{ROOT}/scripts/test-bed-build.sh", "jaeger"], check=True)
    folder = subprocess.run(["bash", f"{ROOT}/scripts/test-bed-build.sh", "--bin"], check=True,
                            capture_output=True, text=True).stdout.strip()
    return f"{folder}/jaeger"


def start_jaeger(work):
    """(process, {"otlp", "query", "grpc", "health": port}) of a healthy Jaeger; its log in `work`."""
    binary = jaeger_binary()
    ports = {name: free_port() for name in ("otlp", "query", "grpc", "health")}
    env = {"PATH": os.environ["PATH"],
           "JAEGER_OTLP_HTTP_ADDRESS": f"127.0.0.1:{ports['otlp']}",
           "JAEGER_QUERY_ADDRESS": f"127.0.0.1:{ports['query']}",
           "JAEGER_QUERY_GRPC_ADDRESS": f"127.0.0.1:{ports['grpc']}",
           "JAEGER_HEALTH_ADDRESS": f"127.0.0.1:{ports['health']}"}
    log = open(f"{work}/jaeger.log", "w")
    process = subprocess.Popen([binary, "--config", f"{ROOT}/jaeger/config.yaml"],
                               env=env, stdout=log, stderr=log)
    if not poll(lambda: call("GET", f"http://127.0.0.1:{ports['health']}/status")[0] == 200, 60):
        process.kill()
        sys.exit(f"FAIL Jaeger never became healthy (log: {work}/jaeger.log)")
    return process, ports


def trace_in_jaeger(query_port, trace_id):
    """Jaeger's view of one trace: {span id: span}, each span with its service, resource tags,
    name, parent and tags as dicts; {} while it is not there."""
    status, body = call("GET", f"http://127.0.0.1:{query_port}/api/traces/{trace_id}")
    if status != 200 or not isinstance(body, dict) or not body.get("data"):
        return {}
    trace = body["data"][0]
    processes = trace["processes"]
    spans = {}
    for span in trace["spans"]:
        parents = [ref["spanID"] for ref in span.get("references", []) if ref["refType"] == "CHILD_OF"]
        process = processes[span["processID"]]
        spans[span["spanID"]] = {
            "service": process["serviceName"],
            "resource": {tag["key"]: tag["value"] for tag in process.get("tags", [])},
            "name": span["operationName"],
            "parent": parents[0] if parents else None,
            "tags": {tag["key"]: tag["value"] for tag in span.get("tags", [])},
        }
    return spans


def stop_all(processes, grace=10):
    """SIGTERM to each process still running, then SIGKILL to any not gone after `grace` s."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
