#!/usr/bin/env python3
"""Soak and auth-outage-under-load for the release binaries.

  scripts/soak.py [--seconds 30]     CI runs 30 s; by hand, e.g. --seconds 600

1. Soak: 64 connections (48 on tasks-api: GET/POST /tasks, /network; 16 on users-api: /network,
   /readyz, /login) for --seconds. Must end with 0 non-2xx and 0 socket errors; prints RSS and
   open file descriptors of each service at a third of the run and at its end, both under load,
   and fails if descriptors grew by more than 64 (one per connection: keep-alive pools) or RSS
   grew by more than 16 MiB plus 64 bytes per task stored between the readings (the store's
   index takes 16 bytes a task, up to twice that while a list grows) plus, for auth, one 19 MiB
   argon2 block per core; beyond that is a leak. One user writes every task, so tasks-api runs
   with its per-user caps (tasks, bytes, rate) far above the defaults or off. Each service gets
   its own caller key and METRICS_PORT, fresh every run; /metrics is read there.
2. auth killed under load: wrk on GET /tasks while auth is SIGKILLed, then restarted on the same
   port. While it is down every answer must be a 503 well within 3 s (wrk's max latency), no
   request may hang, and once auth is back the next request succeeds with no restart of tasks.
"""
import argparse, json, os, re, secrets, shutil, signal, subprocess, sys, tempfile, time

from service_kit import call, caller_keys, free_port, metrics_text, wait_ready

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
LUA = os.path.join(ROOT, "scripts", "soak")
# The soak's Lua scripts count errors and report with the benchmark's common.lua.
os.environ["BENCH_LUA_DIR"] = os.path.join(ROOT, "bench", "wrk")


def usage(pid):
    status = open(f"/proc/{pid}/status").read()
    rss_kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return rss_kib, len(os.listdir(f"/proc/{pid}/fd"))


def wrk_command(url, script, connections, seconds):
    return ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", os.path.join(LUA, script), url]


def wrk_result(output):
    """The BENCH_RESULT line bench/wrk/common.lua prints, as the soak reads it."""
    line = json.loads(output.split("BENCH_RESULT ", 1)[1].splitlines()[0])
    errors = line["socket_errors"]
    return {"requests": line["requests"], "non2xx": line["non2xx"],
            "socket_errors": errors["connect"] + errors["read"] + errors["write"],
            "timeouts": errors["timeout"], "p99_us": line["p99_us"], "max_us": line["max_us"]}


def wrk(port, script, connections, seconds, env):
    out = subprocess.run(wrk_command(f"http://127.0.0.1:{port}", script, connections, seconds),
                         capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
    return wrk_result(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=30)
    seconds = parser.parse_args().seconds
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "auth-api", "-p", "users-api", "-p", "tasks-api"],
                   cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="kub-soak-")
    ports = {name: free_port() for name in ("auth", "users", "tasks")}
    metrics_ports = {name: free_port() for name in ports}
    secret = secrets.token_hex(32)
    base = {"PATH": os.environ["PATH"], "RUST_LOG": "warn"}
    auth_address = f"127.0.0.1:{ports['auth']}"
    auth_keys, users_key, tasks_key = caller_keys()
    envs = {
        # The soak logs in from one address as fast as 16 connections go: a load test, not a
        # flood to stop (scripts/flood.py checks the limits), so they are off here.
        "auth": {"JWT_SECRET": secret, **auth_keys},
        "users": {"AUTH_ADDRESS": auth_address, "USERS_FOLDER": f"{work}/users", **users_key,
                  "LOGIN_LIMIT_PER_ADDRESS": "off", "LOGIN_LIMIT_PER_ACCOUNT": "off",
                  "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "off",
                  "SIGNUP_LIMIT_PER_ADDRESS": "off", "SIGNUP_LIMIT_PER_ACCOUNT": "off"},
        "tasks": {"AUTH_ADDRESS": auth_address, "TASKS_FOLDER": f"{work}/tasks", **tasks_key,
                  "MAX_TASKS_PER_USER": "100000000", "MAX_BYTES_PER_USER": "1Ti",
                  "TASK_LIMIT_PER_USER": "off"},
    }
    for name, env in envs.items():
        env.update(PORT=str(ports[name]), METRICS_PORT=str(metrics_ports[name]))
    procs = {}

    def start(name):
        log = open(f"{work}/{name}.log", "a")
        procs[name] = subprocess.Popen([f"{RELEASE}/{name}-api"], env={**base, **envs[name]}, stdout=log, stderr=log)
        wait_ready(ports[name])

    failures = []
    codes = {}
    try:
        for name in ("auth", "users", "tasks"):
            start(name)
        users, tasks = f"http://127.0.0.1:{ports['users']}", f"http://127.0.0.1:{ports['tasks']}"
        creds = {"email": "soak@test.com", "password": "testers"}
        assert call("POST", f"{users}/signup", creds)[0] == 201
        token = call("POST", f"{users}/login", creds)[1]["token"]
        env = {"SOAK_TOKEN": token}

        # Warm-up, so allocator pools and connection pools exist before the first reading.
        warm_users = subprocess.Popen(wrk_command(users, "users-mix.lua", 16, 3), stdout=subprocess.DEVNULL)
        wrk(ports["tasks"], "tasks-mix.lua", 48, 3, env)
        warm_users.wait()
        time.sleep(1)

        def stored():
            text = metrics_text(metrics_ports["tasks"])
            return int(re.search(r'stored_records\{kind="tasks"\} (\d+)', text).group(1))

        print(f"soak: {seconds} s at 64 connections (48 tasks-api, 16 users-api)")
        started = time.time()
        users_run = subprocess.Popen(wrk_command(users, "users-mix.lua", 16, seconds), stdout=subprocess.PIPE, text=True)
        tasks_run = subprocess.Popen(wrk_command(tasks, "tasks-mix.lua", 48, seconds), stdout=subprocess.PIPE,
                                     text=True, env={**os.environ, **env})
        # Both readings under load, when auth's argon2 blocks are in use: read while idle, the
        # first could find them returned to the OS and the second not (16 MiB -> 77 MiB once).
        time.sleep(seconds / 3)
        before = {name: usage(proc.pid) for name, proc in procs.items()}
        tasks_before = stored()
        time.sleep(max(seconds - (time.time() - started) - 1, 0))
        after = {name: usage(proc.pid) for name, proc in procs.items()}
        new_tasks = stored() - tasks_before
        tasks_result = wrk_result(tasks_run.communicate()[0])
        users_result = wrk_result(users_run.communicate()[0])
        for name, result in (("tasks-api", tasks_result), ("users-api", users_result)):
            print(f"  {name}: {result['requests']} requests, {result['non2xx']} non-2xx, "
                  f"{result['socket_errors']} socket errors, {result['timeouts']} timeouts, "
                  f"p99 {result['p99_us'] / 1000:.1f} ms, max {result['max_us'] / 1000:.1f} ms")
            if result["non2xx"] or result["socket_errors"] or result["timeouts"]:
                failures.append(f"{name}: errors during the soak: {result}")
        print(f"  tasks stored between the readings: {new_tasks} (elapsed {time.time() - started:.0f} s)")
        for name in procs:
            (rss0, fd0), (rss1, fd1) = before[name], after[name]
            # tasks indexes each task (RSS in KiB: 64 B a task); auth may hold one 19 MiB argon2
            # block per core.
            allowed = 16 * 1024 + (new_tasks * 64 // 1024 if name == "tasks" else 0) + (
                os.cpu_count() * 19 * 1024 if name == "auth" else 0)
            print(f"  {name}-api: RSS {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB, fds {fd0} -> {fd1}")
            # Keep-alive pools may add at most one socket per concurrent connection (64); a
            # leak per request would add thousands.
            if fd1 - fd0 > 64:
                failures.append(f"{name}-api: file descriptors grew {fd0} -> {fd1}")
            if rss1 - rss0 > allowed:
                failures.append(f"{name}-api: RSS grew {rss1 - rss0} KiB, more than {allowed} KiB")

        # auth killed under load, then back on the same port.
        print("outage: auth SIGKILLed under load on GET /tasks, restarted 3 s later")
        load = subprocess.Popen(wrk_command(tasks, "tasks-mix.lua", 32, 7), stdout=subprocess.PIPE, text=True,
                                env={**os.environ, **env})
        time.sleep(2)
        procs["auth"].send_signal(signal.SIGKILL)
        procs["auth"].wait()
        time.sleep(0.5)
        code, body = call("GET", f"{tasks}/tasks", token=token)
        if code != 503 or not isinstance(body, dict) or "message" not in body:
            failures.append(f"auth down: GET /tasks answered {code} {body}, expected 503 JSON")
        time.sleep(2.5)
        start("auth")
        result = wrk_result(load.communicate()[0])
        print(f"  during the outage: {result['requests']} requests, {result['non2xx']} non-2xx (503s), "
              f"{result['socket_errors']} socket errors, {result['timeouts']} timeouts, max {result['max_us'] / 1000:.0f} ms")
        if result["max_us"] >= 3_000_000 or result["timeouts"] or result["socket_errors"]:
            failures.append(f"auth down: a request hung or broke: {result}")
        if result["non2xx"] == 0:
            failures.append("auth down: no 503 seen; the outage did not happen")
        code, _ = call("GET", f"{tasks}/tasks", token=token)
        print(f"  after auth is back: GET /tasks -> {code}")
        if code != 200:
            failures.append(f"after auth came back GET /tasks answered {code}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        codes = {name: proc.wait(timeout=10) for name, proc in procs.items()}
        shutil.rmtree(work, ignore_errors=True)
    for name, code in codes.items():
        if code != 0:
            failures.append(f"{name}-api exited {code} on SIGTERM")
    if failures:
        sys.exit("soak: FAIL\n  " + "\n  ".join(failures))
    print("soak: all checks passed")


if __name__ == "__main__":
    main()
