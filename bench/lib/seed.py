#!/usr/bin/env python3
"""Seeds the running services over HTTP (keep-alive, a few threads) and prints one JSON object:
{"users": [{"email", "password", "token", "sub"}], "tasks": <created>}.

Usage: seed.py <users-port> <tasks-port> <users> <tasks-per-user>
       seed.py --tasks-only <tasks-port> <seed.json> <tasks-per-user>
Signs up and logs in <users> users, then stores <tasks-per-user> tasks for each of them, so
the first user's GET /tasks page is read from a store shared with other owners. With
--tasks-only, stores the tasks of the users of an earlier run's output (their tokens) in
another tasks-api (the PostgreSQL one), the same way, and prints that output again.
"""
import base64
import http.client
import json
import sys
from concurrent.futures import ThreadPoolExecutor


def call(conn, method, path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=json.dumps(body), headers=headers)
    answer = conn.getresponse()
    data = answer.read()
    if not 200 <= answer.status < 300:
        raise SystemExit(f"seed: {method} {path} -> {answer.status} {data[:200]!r}")
    return json.loads(data)


def jwt_sub(token):
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))["sub"]


def user(users_port, index):
    conn = http.client.HTTPConnection("127.0.0.1", users_port, timeout=30)
    creds = {"email": f"bench-{index}@bench.test", "password": f"bench-password-{index}"}
    call(conn, "POST", "/signup", creds)
    token = call(conn, "POST", "/login", creds)["token"]
    conn.close()
    return {**creds, "token": token, "sub": jwt_sub(token)}


def tasks_for(tasks_port, person, count):
    conn = http.client.HTTPConnection("127.0.0.1", tasks_port, timeout=30)
    for number in range(count):
        call(conn, "POST", "/tasks",
             {"title": f"Seed task {number}", "text": f"Seeded for {person['email']}."},
             person["token"])
    conn.close()
    return count


def main():
    if sys.argv[1] == "--tasks-only":
        tasks_port, per_user = int(sys.argv[2]), int(sys.argv[4])
        with open(sys.argv[3]) as f:
            people = json.load(f)["users"]
        users = len(people)
    else:
        users_port, tasks_port, users, per_user = (int(arg) for arg in sys.argv[1:5])
        with ThreadPoolExecutor(max_workers=4) as pool:
            people = list(pool.map(lambda index: user(users_port, index), range(users)))
    # Interleave owners: each worker posts for one user, all at once (group commit).
    with ThreadPoolExecutor(max_workers=max(1, users)) as pool:
        created = sum(pool.map(lambda person: tasks_for(tasks_port, person, per_user), people))
    json.dump({"users": people, "tasks": created}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
