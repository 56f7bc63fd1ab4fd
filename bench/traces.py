#!/usr/bin/env python3
"""What tracing costs, in one run: GET /tasks (a page of 20) under wrk (64 connections, 2
threads) against three auth + tasks pairs that differ only in their OTEL_* settings:

  off         no OTEL_* at all (the default)
  on, 1%      OTEL_EXPORTER_OTLP_ENDPOINT set, OTEL_TRACES_SAMPLER=traceidratio, ARG=0.01
  on, 100%    OTEL_EXPORTER_OTLP_ENDPOINT set, OTEL_TRACES_SAMPLER=always_on

The spans go to a real Jaeger (scripts/jaeger_kit.py) on the same machine, which takes its own
share of the cores at 100%. The three run in alternating rounds (the order rotated each round),
so a noisy moment of the machine falls on all of them; the report takes each one's median over
the rounds. Release binaries, loopback. Figures are reported, never asserted.

  python3 bench/traces.py [--rounds 4] [--seconds 5]
"""
import argparse, json, os, secrets, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
from flood_kit import RELEASE, ROOT  # noqa: E402
from jaeger_kit import start_jaeger, stop_all  # noqa: E402
from service_kit import call, caller_keys, free_port, wait_ready  # noqa: E402

TASKS_PER_PAGE = 20


def wrk(port, token, seconds, name):
    """wrk's BENCH_RESULT (bench/wrk/common.lua) for GET /tasks on `port`."""
    env = {**os.environ, "BENCH_LUA_DIR": f"{ROOT}/bench/wrk", "BENCH_TOKEN": token, "BENCH_NAME": name}
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--timeout", "10s", "--latency",
                          "-s", f"{ROOT}/bench/wrk/get_tasks.lua", f"http://127.0.0.1:{port}/tasks"],
                         env=env, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_RESULT "))
    return json.loads(line.removeprefix("BENCH_RESULT "))


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "auth-api", "-p", "users-api",
                    "-p", "tasks-api"], cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kub-bench-traces-")
    jaeger, jaeger_ports = start_jaeger(work)
    otlp = f"http://127.0.0.1:{jaeger_ports['otlp']}"
    configs = {
        "off": {},
        "on, 1%": {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_TRACES_SAMPLER": "traceidratio",
                   "OTEL_TRACES_SAMPLER_ARG": "0.01"},
        "on, 100%": {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp, "OTEL_TRACES_SAMPLER": "always_on"},
    }
    secret = secrets.token_hex(32)
    auth_keys, users_key, tasks_key = caller_keys()
    base = {"PATH": os.environ["PATH"], "RUST_LOG": "warn"}
    processes, tasks_ports, pids = [jaeger], {}, {}

    def start(binary, env, name):
        port = free_port()
        log = open(f"{work}/{name}.log", "w")
        process = subprocess.Popen([f"{RELEASE}/{binary}"], stdout=log, stderr=log, env={
            **base, **env, "PORT": str(port), "METRICS_PORT": str(free_port())})
        processes.append(process)
        wait_ready(port)
        return port, process.pid

    try:
        for index, (name, otel) in enumerate(configs.items()):
            auth_port, auth_pid = start("auth-api", {"JWT_SECRET": secret, **auth_keys, **otel}, f"auth-{index}")
            tasks_env = {**tasks_key, **otel, "AUTH_ADDRESS": f"127.0.0.1:{auth_port}",
                         "TASKS_FOLDER": f"{work}/tasks-{index}", "TASK_LIMIT_PER_USER": "off"}
            tasks_ports[name], tasks_pid = start("tasks-api", tasks_env, f"tasks-{index}")
            pids[name] = {"auth": auth_pid, "tasks": tasks_pid}
            if index == 0:
                users_port, _ = start("users-api", {**users_key, "AUTH_ADDRESS": f"127.0.0.1:{auth_port}",
                                                    "USERS_FOLDER": f"{work}/users"}, "users")
        users = f"http://127.0.0.1:{users_port}"
        creds = {"email": "bench-traces@test.com", "password": "testers"}
        assert call("POST", f"{users}/signup", creds)[0] == 201
        token = call("POST", f"{users}/login", creds)[1]["token"]   # valid for every auth: one secret
        for port in tasks_ports.values():
            for n in range(TASKS_PER_PAGE):
                task = {"title": f"task {n}", "text": "A page of tasks."}
                assert call("POST", f"http://127.0.0.1:{port}/tasks", task, token)[0] == 201

        results = {name: [] for name in configs}
        names = list(configs)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names):] + names[:round_ % len(names)]:
                result = wrk(tasks_ports[name], token, args.seconds, name)
                results[name].append(result)
                print(f"round {round_ + 1} {name}: {result['rps']:.0f} req/s, p99 "
                      f"{result['p99_us'] / 1000:.2f} ms, non-2xx {result['non2xx']}", file=sys.stderr)
        rss = {name: {service: rss_mib(pid) for service, pid in pair.items()} for name, pair in pids.items()}
    finally:
        stop_all(processes)

    off_rps = statistics.median(r["rps"] for r in results["off"])
    off_p99 = statistics.median(r["p99_us"] for r in results["off"])
    print(f"\nGET /tasks (page of {TASKS_PER_PAGE}), wrk -t2 -c64, {args.rounds} rounds of {args.seconds} s each, "
          f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    print("| traces | req/s (median) | × off | p99 ms (median) | × off | errors | RSS after: tasks / auth MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p99 = statistics.median(r["p99_us"] for r in runs)
        errors = sum(r["non2xx"] + sum(r["socket_errors"].values()) for r in runs)
        print(f"| {name} | {rps:,.0f} | {rps / off_rps:.2f}× | {p99 / 1000:.2f} | {p99 / off_p99:.2f}× | {errors} | "
              f"{rss[name]['tasks']:.1f} / {rss[name]['auth']:.1f} |")


if __name__ == "__main__":
    main()
