#!/usr/bin/env python3
"""Storage faults with the real binaries: a full disk and a read-only folder.

tasks-api's folder is a tiny tmpfs. When it fills up, POST /tasks must answer 507 JSON, GET
/tasks must keep serving, /readyz must turn 503, and the bytes already stored must be
untouched; once space is back, writes work again without a restart. The same for a folder
remounted read-only (503). Needs root (mount); run after `cargo build` (uses target/debug).
"""
import os, secrets, subprocess, sys, tempfile

from service_kit import call, caller_keys, free_port, wait_ready

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug")


def expect(what, got, status):
    code, body = got
    if code != status:
        sys.exit(f"FAIL {what}: expected {status}, got {code} {body}")
    if status >= 400 and not (isinstance(body, dict) and isinstance(body.get("message"), str)):
        sys.exit(f"FAIL {what}: error body is not {{\"message\"}}: {body}")
    print(f"ok   {what}: {code}")
    return body


def main():
    if os.geteuid() != 0:
        sys.exit("fault-storage: needs root to mount a tmpfs")
    work = tempfile.mkdtemp(prefix="kub-fault-")
    disk = os.path.join(work, "disk")
    os.makedirs(disk)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", disk], check=True)
    processes = []
    try:
        auth, users, tasks = free_port(), free_port(), free_port()
        auth_keys, users_key, tasks_key = caller_keys()
        common = {"PATH": os.environ["PATH"], "RUST_LOG": "warn"}
        def start(binary, env):
            # Three services on one host: each its own METRICS_PORT.
            env = {**common, "METRICS_PORT": str(free_port()), **env}
            processes.append(subprocess.Popen([os.path.join(BIN, binary)], env=env))
        start("auth-api", {"PORT": str(auth), "JWT_SECRET": secrets.token_hex(32), **auth_keys})
        start("users-api", {"PORT": str(users), "AUTH_ADDRESS": f"127.0.0.1:{auth}", "USERS_FOLDER": os.path.join(work, "users"), **users_key})
        start("tasks-api", {"PORT": str(tasks), "AUTH_ADDRESS": f"127.0.0.1:{auth}", "TASKS_FOLDER": os.path.join(disk, "tasks"), **tasks_key})
        for port in (auth, users, tasks):
            wait_ready(port)
        u, t = f"http://127.0.0.1:{users}", f"http://127.0.0.1:{tasks}"
        creds = {"email": "test@test.com", "password": "testers"}
        expect("signup", call("POST", f"{u}/signup", creds), 201)
        token = expect("login", call("POST", f"{u}/login", creds), 200)["token"]
        for n in range(3):
            expect(f"store task {n}", call("POST", f"{t}/tasks", {"title": f"kept {n}", "text": "x"}, token), 201)
        store = os.path.join(disk, "tasks", "tasks.jsonl")
        before = open(store, "rb").read()

        # Full disk: fill every free byte.
        filler = os.path.join(disk, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        os.close(fd)
        big = {"title": "too big", "text": "y" * 9000}
        expect("POST on a full disk", call("POST", f"{t}/tasks", big, token), 507)
        expect("/readyz on a full disk", call("GET", f"{t}/readyz"), 503)
        listed = expect("GET on a full disk", call("GET", f"{t}/tasks", token=token), 200)
        assert [x["title"] for x in listed["tasks"]] == ["kept 0", "kept 1", "kept 2"], listed
        assert open(store, "rb").read() == before, "stored bytes changed on a full disk"
        print("ok   stored bytes unchanged after the failed write")
        os.remove(filler)
        expect("/readyz after space is back", call("GET", f"{t}/readyz"), 200)
        expect("POST after space is back", call("POST", f"{t}/tasks", big, token), 201)
        before = open(store, "rb").read()

        # Read-only folder: a store that cannot be written is refused at start-up, with the path.
        tasks_api = processes.pop()
        tasks_api.terminate()
        if tasks_api.wait(timeout=10) != 0:
            sys.exit("FAIL tasks-api did not exit 0 on SIGTERM")
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        env = {"PORT": str(tasks), "AUTH_ADDRESS": f"127.0.0.1:{auth}", "TASKS_FOLDER": os.path.join(disk, "tasks"), **tasks_key}
        refused = subprocess.run([os.path.join(BIN, "tasks-api")], env={**common, **env}, capture_output=True, text=True, timeout=20)
        if refused.returncode != 1 or "tasks.jsonl" not in refused.stderr:
            sys.exit(f"FAIL start on a read-only folder: exit {refused.returncode}, stderr {refused.stderr!r}")
        print(f"ok   start on a read-only folder refused: {refused.stderr.strip()}")
        subprocess.run(["mount", "-o", "remount,rw", disk], check=True)
        assert open(store, "rb").read() == before, "stored bytes changed"
        start("tasks-api", env)
        wait_ready(tasks)
        listed = expect("GET after remounting read-write", call("GET", f"{t}/tasks", token=token), 200)
        assert len(listed["tasks"]) == 4, listed
        print("fault-storage: all checks passed")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
        subprocess.run(["umount", disk], check=False)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
