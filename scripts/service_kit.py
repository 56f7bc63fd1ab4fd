"""What the scripts that drive the real binaries share: a free port, caller keys, a JSON call,
readiness."""
import json
import secrets
import socket
import sys
import time
import http.client
import urllib.parse


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def exchange(connection, method, path, body=None, token=None):
    """(status, decoded body, headers) of one request on an open `http.client` connection."""
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    return response.status, decoded(response.read()), response.headers


def call(method, url, body=None, token=None, timeout=10, with_headers=False):
    """(status, body decoded from JSON, or its text when it is not JSON), over a new connection
    as curl makes it, and the response headers too `with_headers`; HTTP errors are answers too,
    not exceptions. Raises OSError when nothing answers, NoHandshake when the connection could
    not be opened in time."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        try:
            connection.connect()
        except TimeoutError as error:
            raise NoHandshake(str(error)) from error
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        answer = exchange(connection, method, path, body, token)
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
