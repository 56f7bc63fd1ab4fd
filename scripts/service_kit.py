"""What the scripts that drive the real binaries share: a free port, caller keys, a JSON call,
readiness."""
import json
import random
import secrets
import socket
import sys
import time
import http.client
import ssl
import urllib.parse

# Host names the calls connect to at another address, as `curl --resolve` does, with the CA that
# verifies them over HTTPS (pin()): the Gateway's kub-network.test at the node's address.
PINNED = {}


def pin(host, address, ca_file=None):
    """Calls to `host` connect to `address`; over HTTPS they verify its certificate for `host`
    with `ca_file` (the system's CAs without one). Host header and SNI stay `host`."""
    PINNED[host] = (address, ssl.create_default_context(cafile=ca_file))


# Ports handed out by free_port() in this process: never twice.
_HANDED_OUT = set()


def free_port():
    """A port free a moment ago, for a server this script starts next. Below the kernel's
    ephemeral range (the local ports of outgoing connections): a port the kernel picked from that
    range can be taken by some process's outgoing connection before the server binds it (seen
    once: a flood run's second tasks-api exited with "Address already in use")."""
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    for _ in range(1000):
        port = random.randrange(max(1024, low - 12000), low)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise OSError(f"no free port below {low}")


def caller_keys():
    """Fresh caller keys for one run, as the README's set-up makes them (`openssl rand -hex 32`):
    the variables of (auth, users, tasks). auth knows both keys; each caller has its own."""
    users, tasks = secrets.token_hex(32), secrets.token_hex(32)
    return ({"USERS_API_KEY": users, "TASKS_API_KEY": tasks},
            {"AUTH_API_KEY": users}, {"AUTH_API_KEY": tasks})


def metrics_text(metrics_port, timeout=10):
    """GET /metrics on a service's METRICS_PORT (never its own port, which answers 404)."""
    status, text = call("GET", f"http://127.0.0.1:{metrics_port}/metrics", timeout=timeout)
    if status != 200:
        raise OSError(f"/metrics on port {metrics_port} answered {status}")
    return text


class NoHandshake(TimeoutError):
    """The TCP connection could not even be opened in time: the request never left."""


def exchange(connection, method, path, body=None, token=None, headers=None):
    """(status, decoded body, headers) of one request on an open `http.client` connection."""
    headers = dict(headers or {})
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    return response.status, decoded(response.read()), response.headers


def connection_for(url, timeout=10):
    """An unopened `http.client` connection to `url`'s host, HTTP or HTTPS (verified, see pin())."""
    parts = urllib.parse.urlsplit(url)
    address, context = PINNED.get(parts.hostname, (parts.hostname, None))
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout,
                                                 context=context or ssl.create_default_context())
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    if address != parts.hostname:
        connection._create_connection = lambda to, *rest: socket.create_connection((address, to[1]), *rest)
    return connection


def call(method, url, body=None, token=None, timeout=10, with_headers=False, headers=None):
    """(status, body decoded from JSON, or its text when it is not JSON), over a new connection
    as curl makes it, and the response headers too `with_headers`; HTTP errors are answers too,
    not exceptions. Raises OSError when nothing answers (ssl.SSLError when a certificate does
    not verify), NoHandshake when the connection could not be opened in time."""
    parts = urllib.parse.urlsplit(url)
    connection = connection_for(url, timeout)
    try:
        try:
            connection.connect()
        except TimeoutError as error:
            raise NoHandshake(str(error)) from error
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        answer = exchange(connection, method, path, body, token, headers)
    finally:
        connection.close()
    return answer if with_headers else answer[:2]


def decoded(raw):
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


def poll(predicate, timeout, every=0.3):
    """Until `predicate()` is true (an OSError counts as not yet); whether it became true."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(every)
    return False


def wait_ready(port, seconds=20):
    """Until GET /readyz on the port answers 200; exits the script if it never does."""
    if not poll(lambda: call("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200, seconds, 0.05):
        sys.exit(f"FAIL nothing ready on 127.0.0.1:{port}")
