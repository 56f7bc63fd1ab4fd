"""What scripts/flood.py needs around its checks: PASS/FAIL lines, HTTP from a chosen loopback
source address, the services by PID, and a client holding thousands of half-open connections."""
import errno, http.client, math, os, resource, selectors, socket, subprocess, time

from service_kit import exchange, free_port, wait_ready

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release")
# Bounded waits: no request of the flood waits longer than this for its answer.
REQUEST_TIMEOUT_S = 5.0
# A connect not complete this long after the last was started is counted as never connected
# (the service stopped accepting and its backlog is full).
CONNECT_WAIT_S = 3.0


class Report:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, name, ok, detail):
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def connection(port, source):
    """A keep-alive HTTP connection to 127.0.0.1:port from the source address `source`."""
    return http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S,
                                      source_address=(source, 0))


def once(port, source, method, path, body=None, token=None):
    """(status or the error's name, Retry-After, body, seconds) of one request on a new connection."""
    conn = connection(port, source)
    started = time.perf_counter()
    try:
        status, answer, headers = exchange(conn, method, path, body, token)
        retry_after = headers.get("Retry-After")
    except (OSError, http.client.HTTPException) as error:
        status, retry_after, answer = type(error).__name__, None, None
    finally:
        conn.close()
    return status, retry_after, answer, time.perf_counter() - started


def p99(samples):
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def sleep_until(moment):
    time.sleep(max(0.0, moment - time.monotonic()))


class Stack:
    """The services this run started, each by its PID (each with a METRICS_PORT of its own:
    they share a host); stopped with SIGTERM at the end."""

    def __init__(self, work):
        self.work = work
        self.procs = {}

    def start(self, name, binary, env, port, open_files=None):
        log = open(os.path.join(self.work, f"{name}.log"), "ab")

        def limit_files():
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        try:
            self.procs[name] = subprocess.Popen(
                [os.path.join(RELEASE, binary)],
                env={"PATH": os.environ["PATH"], "RUST_LOG": "warn", "PORT": str(port),
                     "METRICS_PORT": str(free_port()), **env},
                stdout=log, stderr=log, preexec_fn=limit_files if open_files else None)
        finally:
            log.close()
        wait_ready(port)
        return self.procs[name]

    def stop(self):
        """SIGTERM each service still running; (name, exit code, or None when it had to be
        SIGKILLed after 10 s)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        codes = []
        for name, proc in self.procs.items():
            try:
                codes.append((name, proc.wait(timeout=10)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes.append((name, None))
        return codes


class HalfOpenClient:
    """Many non-blocking sockets, each sending `head` once connected and then only
    reading, watched with one selector. Per socket: when the head was sent, when the first
    byte and the end (FIN or RST) came, what came, and how it ended."""

    def __init__(self, port, head):
        self.port, self.head = port, head
        self.selector = selectors.DefaultSelector()
        self.conns = []

    def open(self, count):
        for n in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            conn = {"sock": sock, "state": "connecting", "sent": None, "first_byte": None,
                    "ended": None, "data": b"", "outcome": None}
            self.conns.append(conn)
            error = sock.connect_ex(("127.0.0.1", self.port))
            if error not in (0, errno.EINPROGRESS):
                self.end(conn, f"connect failed ({errno.errorcode.get(error, error)})", registered=False)
                continue
            self.selector.register(sock, selectors.EVENT_WRITE, conn)
            if n % 16 == 15:
                self.poll(0)  # take answers as they come, so their times are true
        deadline = time.monotonic() + CONNECT_WAIT_S
        while self.count("connecting") and time.monotonic() < deadline:
            self.poll(0.05)
        for conn in self.conns:
            if conn["state"] == "connecting":
                self.end(conn, "never connected")

    def watch(self, until):
        while self.count("open") and time.monotonic() < until:
            self.poll(0.1)

    def count(self, state):
        return sum(1 for conn in self.conns if conn["state"] == state)

    def poll(self, timeout):
        for key, _ in self.selector.select(timeout):
            conn = key.data
            if conn["state"] == "connecting":
                self.connected(conn)
            elif conn["state"] == "open":
                self.readable(conn)

    def connected(self, conn):
        sock = conn["sock"]
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self.end(conn, f"connect failed ({errno.errorcode.get(error, error)})")
            return
        conn["sent"] = time.monotonic()
        try:
            sock.send(self.head)
        except OSError:
            pass  # refused before the head went out: the reading below sees the answer or the reset
        conn["state"] = "open"
        self.selector.modify(sock, selectors.EVENT_READ, conn)

    def readable(self, conn):
        try:
            data = conn["sock"].recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self.end(conn, "reset")
            return
        if data:
            if conn["first_byte"] is None:
                conn["first_byte"] = time.monotonic()
            conn["data"] += data
            return
        self.end(conn, "closed")

    def end(self, conn, outcome, registered=True):
        if registered:
            self.selector.unregister(conn["sock"])
        conn["sock"].close()
        conn["ended"] = time.monotonic()
        if conn["data"].startswith(b"HTTP/1.1 503"):
            outcome = "refused"
        elif conn["data"]:
            outcome = f"answered {conn['data'][:12].decode(errors='replace')!r} then {outcome}"
        conn["outcome"], conn["state"] = outcome, "ended"

    def close_all(self):
        for conn in self.conns:
            if conn["state"] != "ended":
                self.end(conn, "still open")
        self.selector.close()


def open_files(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def files_limit(pid):
    with open(f"/proc/{pid}/limits") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                return " / ".join(line.split()[3:5])
    return "?"
