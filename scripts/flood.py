#!/usr/bin/env python3
"""Flood test for the release binaries: abuse resistance under real load.

  scripts/flood.py [--seconds 10]    CI runs 10 s; by hand, e.g. --seconds 120

Every check runs against the three release binaries on loopback, with their default settings
except where a check says otherwise. Each actor of a check connects from its own loopback
address (127.0.0.1-5; Linux routes all of 127/8 to lo), because the limits and caps under test
count per client address: only the attacker's address may be limited, never a legitimate one.

1. Login flood. One account is the flood's target, another a legitimate user. wrk floods
   POST /login with a wrong password for the target from 127.0.0.1 on 256 connections (the
   default MAX_CONNECTIONS_PER_ADDRESS: the most one address may hold) for --seconds; its Lua
   counts the answers by status. Without limits every wrong password costs one argon2 hash
   (19 MiB, tens of ms on a core), so the flood takes every core from every other user. Checked:
   (a) logins of the legitimate account from 127.0.0.2, a few spread over the flood (fewer than
       the default LOGIN_LIMIT_PER_ACCOUNT of 10/min), each answer 200 within 1 s;
   (b) GET /tasks from 127.0.0.3 (one keep-alive connection, sequential requests) keeps its p99
       within 3x of the p99 measured the same way before the flood;
   (c) at least 90% of the flood's answers are 429, each with a Retry-After header.
2. Signup burst. 60 signups with distinct emails from 127.0.0.4, 8 at a time: at most
   SIGNUP_LIMIT_PER_ADDRESS (default 10/min) get 201, every other answer is 429 with a
   Retry-After (whole seconds, at least 1) and a JSON {"message"}. Signups cost a hash and a
   durable write each, and distinct emails dodge any per-account limit: only the per-address
   one stops a bot creating accounts.
3. Half-open connections. A second tasks-api (same auth-api, own folder) runs with its open-file
   limit at 1,024 (soft and hard, so raising the soft one to the hard one gains nothing) and
   HEADER_READ_TIMEOUT=3s. 2,000 connections from 127.0.0.1 each send an incomplete request head
   and go silent: without caps they would take every descriptor and the service could neither
   accept anyone nor open its own connection to auth. Checked: (a) GET /tasks from 127.0.0.5 is
   served (200) within 1 s while they are open; (b) every connection the service kept (did not
   refuse with its canned 503) is closed by the service within the header timeout plus 1 s, none
   is left open or unanswered; (c) the service is alive afterwards and serves again.
Finally every service must exit 0 on SIGTERM.

Prints one PASS/FAIL line per check with the measured figures (the lines a closing note quotes),
then `flood: N passed, N failed`; exits 1 on any failure. Service logs (RUST_LOG=warn) are in a
temporary folder, kept and named when a check fails.
"""
import argparse, contextlib, http.client, json, os, resource, secrets, shutil, subprocess, sys
import tempfile, threading, time, traceback
from concurrent.futures import ThreadPoolExecutor

from flood_kit import (REQUEST_TIMEOUT_S, HalfOpenClient, Report, Stack, connection, files_limit, ms, once,
                       open_files, p99, sleep_until)
from service_kit import caller_keys, exchange, free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.path.join(ROOT, "scripts", "flood")
# The flood's Lua reports requests, latency and socket errors with the benchmark's common.lua.
os.environ["BENCH_LUA_DIR"] = os.path.join(ROOT, "bench", "wrk")

# Who connects from where. The services count limits and caps per client address, so each
# actor has its own: the flood's address may be limited, the others must not be.
FLOOD_ADDRESS = "127.0.0.1"        # wrk (its default source) and the half-open connections
LEGIT_LOGIN_ADDRESS = "127.0.0.2"  # the legitimate user's logins during the flood
PROBE_ADDRESS = "127.0.0.3"        # GET /tasks latency, before and during the flood
SIGNUP_ADDRESS = "127.0.0.4"       # the signup burst
HALF_OPEN_PROBE_ADDRESS = "127.0.0.5"  # GET /tasks while 2,000 half-open connections are open

# 1. Login flood.
# wrk connections: the default MAX_CONNECTIONS_PER_ADDRESS, the most one address may hold.
FLOOD_CONNECTIONS = 256
# The flood starts before the first reading of (a) and (b), so that they see it at full strength.
FLOOD_RAMP_S = 1.0
# (a) Each legitimate login must answer 200 within this, flood or not (an argon2 check takes
# tens of ms; a login queued behind the flood's hashes takes seconds or times out).
LEGIT_LOGIN_MAX_S = 1.0
# (a) At least this many legitimate logins during the flood, and on long floods one per this
# many seconds: 6 a minute plus the login that fetched the token stay under the default
# LOGIN_LIMIT_PER_ACCOUNT of 10/min, so a 429 here is the flood's fault, not ours.
LEGIT_LOGINS_MIN = 4
LEGIT_LOGIN_EVERY_S = 10
# (b) GET /tasks samples (sequential, one keep-alive connection), before and during the flood;
# during it taken in 5 batches of 100 spread over the flood. p99 of 500 = the 5th slowest.
P99_SAMPLES = 500
P99_BATCHES = 5
P99_WARMUP = 50
# (b) The p99 under the flood may be at most this many times the unloaded one: a flood that
# reaches argon2 takes every core. Measured on a 2-core machine, where wrk shares the cores:
# without limits 6.2x; with 429s answered at once (~48,000 a second) still 4.5-9.8x, the flood
# itself taking both cores; with users-api's 250 ms delay on a 429 (~1,000 a second) 1.1-1.3x.
P99_MAX_RATIO = 3.0
# (b) ... of the unloaded p99, but never of less than this: an unloaded p99 under a millisecond
# is scheduler noise, and two of four CI runs on one machine measured 0.7-0.9 ms unloaded and
# 3.9-4.5 ms during a limited flood (4.5-6.3x) where others measured 1.25x.
P99_FLOOR_S = 0.002
# (b) Fewer samples than this during the flood (requests too slow to take them in time) and the
# p99 means nothing: the check fails.
P99_MIN_SAMPLES = 250
# (c) At least this share of the flood's answers must be 429 (the few before the limits bite
# get 401).
FLOOD_429_SHARE = 0.90

# 2. Signup burst.
SIGNUPS = 60
SIGNUP_WORKERS = 8  # concurrent connections of the burst: a limiter must not race
# users-api's default SIGNUP_LIMIT_PER_ADDRESS (10/min): at most this many 201s in the burst.
SIGNUP_LIMIT_PER_ADDRESS = 10

# 3. Half-open connections.
HALF_OPEN_CONNECTIONS = 2000
# The second tasks-api's open-file limit, soft and hard: fewer descriptors than connections.
HALF_OPEN_FILE_LIMIT = 1024
# Its HEADER_READ_TIMEOUT: 3 s instead of the default 10 s, so that CI stays short.
HEADER_READ_TIMEOUT_S = 3
# (b) Every kept connection must be closed by the service within the header timeout plus this.
CLOSE_SLACK_S = 1.0
# (a), (c) GET /tasks must be served within this while the half-open connections are open: below
# HEADER_READ_TIMEOUT_S (so not served only once they are closed), with room for one SYN
# retransmission (Linux's first is after 1 s) while the 2,000 fill the listen backlog (CI: 1,020 ms).
HALF_OPEN_SERVE_MAX_S = 2.0
# The incomplete head: no blank line after the headers, so it never completes.
HALF_OPEN_HEAD = b"GET /tasks HTTP/1.1\r\nHost: x\r\n"
# Watch the half-open sockets this much longer than the limit, to measure a slow close too.
WATCH_EXTRA_S = 2.0


def sample_tasks(conn, token, count, stop_at=None):
    """Latencies of `count` sequential GET /tasks on `conn` (stopping at `stop_at`, monotonic),
    and the answers that were not 200."""
    latencies, bad = [], []
    for _ in range(count):
        if stop_at is not None and time.monotonic() >= stop_at:
            break
        started = time.perf_counter()
        try:
            status = exchange(conn, "GET", "/tasks", token=token)[0]
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
            conn.close()  # http.client opens a new one (same source address) on the next request
        latencies.append(time.perf_counter() - started)
        if status != 200:
            bad.append(status)
    return latencies, bad


# 1. Login flood ---------------------------------------------------------------------------

def legit_login_times(seconds):
    """When (seconds into the flood) the legitimate logins start: spread from the end of the
    ramp to 2 s before the end, so each has its whole second under the flood."""
    count = max(LEGIT_LOGINS_MIN, seconds // LEGIT_LOGIN_EVERY_S)
    first, last = FLOOD_RAMP_S, seconds - LEGIT_LOGIN_MAX_S - 1
    return [first + n * (last - first) / (count - 1) for n in range(count)]


def legit_logins(port, creds, started, times, results):
    for at in times:
        sleep_until(started + at)
        status, _, _, seconds = once(port, LEGIT_LOGIN_ADDRESS, "POST", "/login", creds)
        results.append((at, status, seconds))


def batch_starts(seconds):
    """When (seconds into the flood) each batch of GET /tasks samples starts."""
    first, last = FLOOD_RAMP_S, seconds - 1.5
    return [first + n * (last - first) / (P99_BATCHES - 1) for n in range(P99_BATCHES)]


def wrk_lines(output):
    found = {}
    for line in output.splitlines():
        for tag in ("BENCH_RESULT", "FLOOD_RESULT"):
            if line.startswith(tag + " "):
                found[tag] = json.loads(line[len(tag) + 1:])
    if len(found) != 2:
        raise RuntimeError(f"wrk printed no result lines: {output[-2000:]}")
    return found["BENCH_RESULT"], found["FLOOD_RESULT"]


def login_flood(report, ports, seconds, target, legit, token):
    users, tasks = ports["users"], ports["tasks"]
    # One keep-alive connection for every sample, before and during the flood.
    with contextlib.closing(connection(tasks, PROBE_ADDRESS)) as probe:
        sample_tasks(probe, token, P99_WARMUP)
        unloaded, unloaded_bad = sample_tasks(probe, token, P99_SAMPLES)
        print(f"login flood: POST /login (wrong password) on {FLOOD_CONNECTIONS} connections from "
              f"{FLOOD_ADDRESS} for {seconds} s", flush=True)
        command = ["wrk", "-t1", f"-c{FLOOD_CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
                   "-s", os.path.join(LUA, "login-flood.lua"), f"http://127.0.0.1:{users}/login"]
        flood = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 env={**os.environ, "FLOOD_EMAIL": target["email"], "BENCH_NAME": "login-flood"})
        started = time.monotonic()
        ends = started + seconds
        try:
            times, logins = legit_login_times(seconds), []
            logger = threading.Thread(target=legit_logins, args=(users, legit, started, times, logins), daemon=True)
            logger.start()
            loaded, loaded_bad = [], []
            for at in batch_starts(seconds):
                sleep_until(started + at)
                latencies, bad = sample_tasks(probe, token, P99_SAMPLES // P99_BATCHES, stop_at=ends - 0.1)
                loaded += latencies
                loaded_bad += bad
            logger.join(timeout=seconds + 2 * REQUEST_TIMEOUT_S)
            output = flood.communicate(timeout=seconds + 30)[0]
        finally:
            if flood.poll() is None:
                flood.kill()
                flood.wait()
    bench, counted = wrk_lines(output)

    # (a) the legitimate user logs in.
    ok = len(logins) == len(times) and all(s == 200 and t <= LEGIT_LOGIN_MAX_S for _, s, t in logins)
    each = ", ".join(f"{at:.1f} s: {status} in {ms(t)}" for at, status, t in logins)
    report.check("login flood (a) legitimate logins", ok,
                 f"{len(logins)}/{len(times)} from {LEGIT_LOGIN_ADDRESS} during the flood "
                 f"(must be 200 within {LEGIT_LOGIN_MAX_S:.0f} s) [{each}]")

    # (b) GET /tasks latency.
    before, during = p99(unloaded), p99(loaded) if loaded else float("inf")
    ratio = during / max(before, P99_FLOOR_S)
    ok = (not unloaded_bad and not loaded_bad and len(loaded) >= P99_MIN_SAMPLES
          and ratio <= P99_MAX_RATIO)
    bad = f", not 200: {unloaded_bad[:5]} before, {loaded_bad[:5]} during" if unloaded_bad or loaded_bad else ""
    report.check("login flood (b) GET /tasks p99", ok,
                 f"unloaded {ms(before)} ({len(unloaded)} samples), during the flood {ms(during)} "
                 f"({len(loaded)} samples, max {ms(max(loaded, default=0))}) from {PROBE_ADDRESS}: "
                 f"ratio {ratio:.2f} to max(unloaded, {ms(P99_FLOOR_S)}) (limit {P99_MAX_RATIO:.0f}x){bad}")

    # (c) the flood is refused.
    statuses = {int(k): v for k, v in counted["status"].items()}
    answers = sum(statuses.values())
    share = statuses.get(429, 0) / answers if answers else 0.0
    errors = bench["socket_errors"]
    ok = share >= FLOOD_429_SHARE and counted["no_retry_after"] == 0
    report.check("login flood (c) 429 share", ok,
                 f"{answers} answers in {bench['seconds']:.1f} s ({bench['rps']:.0f} req/s), by status "
                 f"{dict(sorted(statuses.items()))}: {share:.2%} are 429 (at least {FLOOD_429_SHARE:.0%}), "
                 f"{counted['no_retry_after']} of them without Retry-After; wrk p99 {bench['p99_us'] / 1000:.1f} ms, "
                 f"socket errors connect {errors['connect']} read {errors['read']} write {errors['write']} "
                 f"timeout {errors['timeout']}")


# 2. Signup burst ---------------------------------------------------------------------------

def signup_burst(report, ports):
    local, opened = threading.local(), []
    lock = threading.Lock()

    def signup(n):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connection(ports["users"], SIGNUP_ADDRESS)
            with lock:
                opened.append(conn)
        creds = {"email": f"burst-{n}@test.com", "password": "burst-password"}
        try:
            status, body, headers = exchange(conn, "POST", "/signup", creds)
            return status, headers.get("Retry-After"), body
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            return type(error).__name__, None, None

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(SIGNUP_WORKERS) as pool:
            answers = list(pool.map(signup, range(SIGNUPS)))
    finally:
        for conn in opened:
            conn.close()
    took = time.perf_counter() - started
    created = sum(1 for status, _, _ in answers if status == 201)
    limited = [(retry, body) for status, retry, body in answers if status == 429]
    others = {}
    for status, _, _ in answers:
        if status not in (201, 429):
            others[status] = others.get(status, 0) + 1
    waits = [int(retry) for retry, _ in limited if retry is not None and retry.strip().isdigit()]
    # Retry-After in whole seconds, at least 1: a 0 would invite a retry the limit refuses again.
    bad_retry = sum(1 for retry, _ in limited if retry is None or not retry.strip().isdigit() or int(retry) < 1)
    no_message = sum(1 for _, body in limited if not (isinstance(body, dict) and isinstance(body.get("message"), str)))
    ok = 1 <= created <= SIGNUP_LIMIT_PER_ADDRESS and not others and not bad_retry and not no_message
    wait_range = f"{min(waits)}-{max(waits)} s" if waits else "none"
    report.check("signup burst", ok,
                 f"{SIGNUPS} signups (distinct emails) from {SIGNUP_ADDRESS}, {SIGNUP_WORKERS} at a time, "
                 f"in {took:.2f} s: {created} x 201 (1 to {SIGNUP_LIMIT_PER_ADDRESS} allowed), "
                 f"{len(limited)} x 429, others {others or 'none'}; Retry-After {wait_range}, "
                 f"{bad_retry} 429s without a valid one, {no_message} without a JSON message")


# 3. Half-open connections ------------------------------------------------------------------

def half_open(report, stack, ports, work, token, tasks_key):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < HALF_OPEN_CONNECTIONS + 256:
        raise RuntimeError(f"this script may open only {soft} files (hard limit {hard}); "
                           f"{HALF_OPEN_CONNECTIONS + 256} needed")
    port = free_port()
    # Same auth-api, own folder; HEADER_READ_TIMEOUT short so that CI stays short, and an
    # open-file limit below the number of connections (soft = hard: nothing to raise).
    proc = stack.start("tasks-half-open", "tasks-api",
                       {"AUTH_ADDRESS": f"127.0.0.1:{ports['auth']}", "TASKS_FOLDER": os.path.join(work, "tasks-half-open"),
                        "HEADER_READ_TIMEOUT": f"{HEADER_READ_TIMEOUT_S}s", **tasks_key},
                       port, open_files=HALF_OPEN_FILE_LIMIT)
    print(f"half-open: {HALF_OPEN_CONNECTIONS} connections from {FLOOD_ADDRESS} send an incomplete "
          f"head and go silent; tasks-api with open files (soft / hard) {files_limit(proc.pid)}, "
          f"HEADER_READ_TIMEOUT={HEADER_READ_TIMEOUT_S}s", flush=True)
    status = once(port, HALF_OPEN_PROBE_ADDRESS, "GET", "/tasks", token=token)[0]
    if status != 200:
        raise RuntimeError(f"the second tasks-api answers GET /tasks with {status} before any load")

    client = HalfOpenClient(port, HALF_OPEN_HEAD)
    served = []
    try:
        client.open(HALF_OPEN_CONNECTIONS)
        service_files = open_files(proc.pid)
        # (a) served while they are open; in a thread, so that the closes are timed meanwhile.
        asker = threading.Thread(target=lambda: served.append(
            once(port, HALF_OPEN_PROBE_ADDRESS, "GET", "/tasks", token=token)), daemon=True)
        asker.start()
        last_sent = max((c["sent"] for c in client.conns if c["sent"] is not None), default=time.monotonic())
        client.watch(last_sent + HEADER_READ_TIMEOUT_S + CLOSE_SLACK_S + WATCH_EXTRA_S)
        asker.join(timeout=2 * REQUEST_TIMEOUT_S)
    finally:
        client.close_all()

    if served:
        status, _, _, seconds = served[0]
        report.check("half-open (a) served meanwhile", status == 200 and seconds <= HALF_OPEN_SERVE_MAX_S,
                     f"GET /tasks from {HALF_OPEN_PROBE_ADDRESS}: {status} in {ms(seconds)} "
                     f"(must be 200 within {HALF_OPEN_SERVE_MAX_S:.0f} s); the service held {service_files} files")
    else:
        report.check("half-open (a) served meanwhile", False, f"GET /tasks from {HALF_OPEN_PROBE_ADDRESS} never returned")

    refused = [c for c in client.conns if c["outcome"] == "refused"]
    kept = [c for c in client.conns if c["outcome"] != "refused" and c["sent"] is not None]
    outcomes = {}
    for conn in client.conns:
        outcomes[conn["outcome"]] = outcomes.get(conn["outcome"], 0) + 1
    limit = HEADER_READ_TIMEOUT_S + CLOSE_SLACK_S
    closes = [c["ended"] - c["sent"] for c in kept if c["outcome"] != "still open"]
    slowest_refusal = max((c["first_byte"] - c["sent"] for c in refused if c["sent"] and c["first_byte"]), default=0)
    # Every kept connection closed by the service in time; none never connected, none left open.
    ok = (outcomes.get("still open", 0) == 0 and len(refused) + len(kept) == HALF_OPEN_CONNECTIONS
          and all(seconds <= limit for seconds in closes))
    closed = (f"{len(closes)} closed by the service after {min(closes):.2f}-{max(closes):.2f} s "
              f"(slowest close {max(closes):.2f} s, limit {limit:.1f} s)" if closes
              else f"none closed by the service within {limit + WATCH_EXTRA_S:.0f} s (limit {limit:.1f} s)")
    slowest = f" (slowest answer {ms(slowest_refusal)})" if refused else ""
    report.check("half-open (b) closed in time", ok,
                 f"{len(refused)} refused at once with 503{slowest}, {len(kept)} kept: {closed}; "
                 f"outcomes {dict(sorted(outcomes.items()))}")

    time.sleep(0.5)  # let the service see our closes
    alive = proc.poll() is None
    status, _, _, seconds = once(port, HALF_OPEN_PROBE_ADDRESS, "GET", "/tasks", token=token)
    report.check("half-open (c) alive afterwards", alive and status == 200 and seconds <= HALF_OPEN_SERVE_MAX_S,
                 f"process {'running' if alive else f'exited {proc.returncode}'}, GET /tasks from "
                 f"{HALF_OPEN_PROBE_ADDRESS}: {status} in {ms(seconds)}, {open_files(proc.pid)} files open")


# -------------------------------------------------------------------------------------------

def run(report, name, check, *args):
    """Runs one check; an error in it (not in the service) is that check's FAIL, and the next
    check still runs."""
    try:
        check(report, *args)
    except (Exception, SystemExit) as error:  # noqa: BLE001: any error is this check's failure
        traceback.print_exc()
        report.check(name, False, f"could not complete: {type(error).__name__}: {error}")


def install_wrk():
    if shutil.which("wrk"):
        return
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of the login flood (at least 5)")
    parser.add_argument("--no-build", action="store_true", help="use the release binaries as they are")
    args = parser.parse_args()
    seconds = max(5, args.seconds)
    began = time.monotonic()
    install_wrk()
    if not args.no_build:
        built = subprocess.run(["cargo", "build", "--release", "--locked", "-q",
                                "-p", "auth-api", "-p", "users-api", "-p", "tasks-api"], cwd=ROOT)
        if built.returncode != 0:
            print(f"FAIL build: cargo exited {built.returncode}\nflood: 0 passed, 1 failed")
            sys.exit(1)
    # 2,000 half-open sockets plus wrk's and ours: raise our soft open-file limit to the hard one.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass

    report = Report()
    work = tempfile.mkdtemp(prefix="kub-flood-")
    stack = Stack(work)
    ports = {name: free_port() for name in ("auth", "users", "tasks")}
    auth_address = f"127.0.0.1:{ports['auth']}"
    auth_keys, users_key, tasks_key = caller_keys()
    try:
        # Defaults everywhere (the limits and caps under test), except tasks-api's
        # HEADER_READ_TIMEOUT in check 3 (its own instance); fresh caller keys.
        stack.start("auth", "auth-api", {"JWT_SECRET": secrets.token_hex(32), **auth_keys}, ports["auth"])
        stack.start("users", "users-api", {"AUTH_ADDRESS": auth_address, "USERS_FOLDER": f"{work}/users", **users_key},
                    ports["users"])
        stack.start("tasks", "tasks-api", {"AUTH_ADDRESS": auth_address, "TASKS_FOLDER": f"{work}/tasks", **tasks_key},
                    ports["tasks"])

        # Two accounts, signed up from the flood's address (2 of its 10 signups a minute); the
        # legitimate one logs in once from its own address for a token (1 of its 10 a minute).
        target = {"email": "flood-target@test.com", "password": "target-password"}
        legit = {"email": "legit@test.com", "password": "legit-password"}
        for creds in (target, legit):
            status, _, body, _ = once(ports["users"], FLOOD_ADDRESS, "POST", "/signup", creds)
            if status != 201:
                raise SystemExit(f"signup of {creds['email']} answered {status} {body}")
        status, _, body, _ = once(ports["users"], LEGIT_LOGIN_ADDRESS, "POST", "/login", legit)
        if status != 200:
            raise SystemExit(f"login of {legit['email']} answered {status} {body}")
        token = body["token"]

        run(report, "login flood", login_flood, ports, seconds, target, legit, token)
        run(report, "signup burst", signup_burst, ports)
        run(report, "half-open", half_open, stack, ports, work, token, tasks_key)
    except SystemExit as stop:  # a service never became ready, or the accounts could not be made
        report.check("setup", False, str(stop.code).removeprefix("FAIL "))
    except Exception as error:  # noqa: BLE001: e.g. a binary missing; the summary still follows
        traceback.print_exc()
        report.check("setup", False, f"{type(error).__name__}: {error}")
    finally:
        codes = stack.stop()
    if codes:
        report.check("shutdown", all(code == 0 for _, code in codes),
                     ", ".join(f"{name} {'SIGKILLed after 10 s' if code is None else f'exited {code}'}"
                               for name, code in codes) + " on SIGTERM")
    if report.failed:
        print(f"flood: service logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"flood: took {time.monotonic() - began:.0f} s")
    print(f"flood: {report.passed} passed, {report.failed} failed")
    sys.exit(1 if report.failed else 0)


if __name__ == "__main__":
    main()
