"""What the scripts that drive the real binaries share: a free port, a JSON call, readiness."""
import json
import socket
import sys
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, body=None, token=None, timeout=10, with_headers=False):
    """(status, body decoded from JSON, or its text when it is not JSON), over a new connection,
    and the response headers too `with_headers`; HTTP errors are answers too, not exceptions.
    Raises OSError when nothing answers."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.status, decoded(response.read()), response.headers
    except urllib.error.HTTPError as error:
        answer = error.code, decoded(error.read()), error.headers
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
