#!/usr/bin/env python3
"""One stage of kubernetes/, run with the real binaries and the env its Pods would get.

Called by scripts/k8s-stage-run.sh, which owns the network namespace:
  k8s-stage-run.py hosts STAGE.json        /etc/hosts for the namespace: every Service's DNS names
  k8s-stage-run.py run STAGE.json ...      inside `ip netns exec`: mounts, processes, the flow

STAGE.json is a rendered stage from scripts/k8s-validate.sh: a JSON array of objects in the order
`kubectl apply` creates them. What `run` reproduces, per Pod of each Deployment:
  - each container's env exactly as the kubelet builds it: the image's ENV (Dockerfile.<x>),
    then the variables Kubernetes injects for every Service of the namespace created before the
    Deployment (<SVC>_SERVICE_HOST, _SERVICE_PORT, _SERVICE_PORT_<NAME>, <SVC>_PORT,
    <SVC>_PORT_<port>_TCP{,_PROTO,_PORT,_ADDR}, and the same for the `kubernetes` Service), then
    the container's `env:` (literals; secretKeyRef -> a generated secret; fieldRef -> fake Pod
    identity); HOSTNAME is the Pod name;
  - every Service: a ClusterIP (10.96.0.x) on the namespace's lo, its DNS names in /etc/hosts;
    port == targetPort is required (no relay), and the Service must select the Pod whose
    container listens there;
  - volumes: a fresh tmpfs per emptyDir mount under the image's WORKDIR /app, which is itself
    read-only (readOnlyRootFilesystem), processes run as runAsUser/runAsGroup with cwd /app;
  - the Pod's sysctls (net.ipv4.ip_unprivileged_port_start lets auth bind :80 as uid 10001).
All Pods share the one network namespace (so listen ports must differ; they do), which is also
how the containers of one Pod share localhost. Then: every readiness probe answers 200, each
users/tasks process logs the auth source the stage is about, signup -> login -> POST /tasks ->
GET /tasks through the LoadBalancer Services' names, and SIGTERM ends each process with 0.
"""

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = "/app"  # the images' WORKDIR (Dockerfile.*), read-only in the Pods
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
KUBERNETES_SERVICE = {"name": "kubernetes", "ip": "10.96.0.1",
                      "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}
IMAGES = {  # image -> (binary, Dockerfile)
    "kub-network-auth:latest": ("auth-api", "Dockerfile.auth"),
    "kub-network-users:latest": ("users-api", "Dockerfile.users"),
    "kub-network-tasks:latest": ("tasks-api", "Dockerfile.tasks"),
}
# What each stage must show. "auth": can users reach auth (stage 1: no, signup answers 503);
# "tasks": whether the stage has tasks; "sources": which discovery each binary must log.
EXPECT = {
    "1-users-alone": {"auth": False, "tasks": False,
                      "sources": {"users-api": "AUTH_ADDRESS"}},
    "2-pod-internal": {"auth": True, "tasks": False,
                       "sources": {"users-api": "AUTH_ADDRESS"}},
    "3-pod-to-pod-clusterip": {"auth": True, "tasks": False,
                               "sources": {"users-api": "AUTH_SERVICE_SERVICE_HOST"}},
    "4-pod-to-pod-dns": {"auth": True, "tasks": True,
                         "sources": {"users-api": "AUTH_ADDRESS",
                                     "tasks-api": "AUTH_SERVICE_SERVICE_HOST"}},
}
EXPECT["final"] = EXPECT["4-pod-to-pod-dns"]  # kubectl apply -f kubernetes/, file order


class StageError(Exception):
    pass


def say(msg):
    print(f"  {msg}", flush=True)


def ns_of(obj):
    return obj.get("metadata", {}).get("namespace") or "default"


def services(objects):
    """(index, object, clusterIP) of every Service, IPs handed out in creation order."""
    out, n = [], 10
    for i, o in enumerate(objects):
        if o.get("kind") == "Service":
            out.append((i, o, f"10.96.0.{n}"))
            n += 1
    return out


def hosts(objects):
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback",
             f"{KUBERNETES_SERVICE['ip']} kubernetes kubernetes.default "
             "kubernetes.default.svc kubernetes.default.svc.cluster.local"]
    for _, svc, ip in services(objects):
        name, ns = svc["metadata"]["name"], ns_of(svc)
        names = [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]
        if ns == "default":  # a short name resolves through the Pod's search path
            names.insert(0, name)
        lines.append(f"{ip} {' '.join(names)}")
    return "\n".join(lines) + "\n"


def service_env(name, ip, ports):
    """The variables the kubelet injects for one Service (pkg/kubelet/envvars)."""
    prefix = name.upper().replace("-", "_")
    env = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for p in ports:
        if p.get("name"):
            env[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
    first = ports[0]
    env[f"{prefix}_PORT"] = f"{first.get('protocol', 'TCP').lower()}://{ip}:{first['port']}"
    for p in ports:
        proto = p.get("protocol", "TCP")
        base = f"{prefix}_PORT_{p['port']}_{proto.upper()}"
        env[base] = f"{proto.lower()}://{ip}:{p['port']}"
        env[f"{base}_PROTO"] = proto.lower()
        env[f"{base}_PORT"] = str(p["port"])
        env[f"{base}_ADDR"] = ip
    return env


def image_env(image):
    """ENV of the image's last build stage (Dockerfile.<x>), if the Dockerfile is there."""
    env = {"PATH": DEFAULT_PATH}
    dockerfile = ROOT / IMAGES[image][1]
    if not dockerfile.exists():
        return env
    text = dockerfile.read_text().replace("\\\n", " ")
    last = re.split(r"(?im)^FROM\s", text)[-1]
    for line in last.splitlines():
        m = re.match(r"\s*ENV\s+(.*)", line)
        if m:
            for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', m.group(1)):
                env[k] = v.strip('"')
    return env


class Pod:
    def __init__(self, index, dep, n):
        self.index, self.dep = index, dep
        self.name = f"{dep['metadata']['name']}-5d9c7b8f6-p{n}x2k"
        self.namespace = ns_of(dep)
        self.ip = f"10.244.0.{10 + n}"
        self.spec = dep["spec"]["template"]["spec"]
        self.labels = dep["spec"]["template"]["metadata"].get("labels", {})


def container_env(pod, c, objects, secret_values):
    if c["image"] not in IMAGES:
        raise StageError(f"{pod.name}/{c['name']}: unknown image {c['image']}")
    env = image_env(c["image"])
    env["HOSTNAME"] = pod.name
    if pod.spec.get("enableServiceLinks", True):
        for i, svc, ip in services(objects):
            if i < pod.index and ns_of(svc) == pod.namespace:
                env.update(service_env(svc["metadata"]["name"], ip, svc["spec"]["ports"]))
    env.update(service_env("kubernetes", KUBERNETES_SERVICE["ip"], KUBERNETES_SERVICE["ports"]))
    fields = {"metadata.name": pod.name, "metadata.namespace": pod.namespace,
              "status.podIP": pod.ip, "spec.nodeName": "minikube"}
    for var in c.get("env", []):
        name = var["name"]
        if "value" in var:
            if "$(" in str(var["value"]):
                raise StageError(f"{name}: $(VAR) references are not emulated")
            env[name] = str(var["value"])
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[name] = secret_values.setdefault((ref["name"], ref["key"]), secrets.token_hex(32))
        elif "fieldRef" in var.get("valueFrom", {}):
            path = var["valueFrom"]["fieldRef"]["fieldPath"]
            if path not in fields:
                raise StageError(f"{name}: fieldRef {path} is not emulated")
            env[name] = fields[path]
        else:
            raise StageError(f"{name}: {var.get('valueFrom')} is not emulated")
    if c.get("envFrom"):
        raise StageError(f"{c['name']}: envFrom is not emulated")
    return env


def listen_port(c, env):
    defaults = {"auth-api": 80, "users-api": 8080, "tasks-api": 8000}
    return int(env.get("PORT") or defaults[IMAGES[c["image"]][0]])


def port_of(c, ref):
    if isinstance(ref, int):
        return ref
    for p in c.get("ports", []):
        if p.get("name") == ref:
            return p["containerPort"]
    raise StageError(f"{c['name']}: no port named {ref!r}")


def http(method, url, body=None, token=None, timeout=5.0):
    """(status, parsed JSON body, seconds) of one request."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    elapsed = time.monotonic() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, parsed, elapsed


def expect(what, got, status, check=None):
    code, body, secs = got
    ok = code == status and (check is None or check(body))
    say(f"{'ok  ' if ok else 'FAIL'} {what}: {code} {json.dumps(body)[:150]} ({secs:.2f}s)")
    if not ok:
        raise StageError(f"{what}: expected {status}, got {code} {body}")
    return body


def run(args):
    objects = json.load(open(args.stage_json))
    stage = args.stage
    want = EXPECT.get(stage)
    svcs = services(objects)
    has = {svc["metadata"]["name"]: (svc, ip) for _, svc, ip in svcs}
    if want is None:
        want = {"auth": True, "tasks": "tasks-service" in has, "sources": {}}
        say(f"note: no expectations recorded for stage {stage}; running the full flow")
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []  # (pod, container, binary, Popen, log path)
    try:
        pods = [Pod(i, o, n) for n, (i, o) in
                enumerate((i, o) for i, o in enumerate(objects) if o.get("kind") == "Deployment")]
        # ClusterIPs on lo.
        for _, svc, ip in svcs:
            subprocess.run(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], check=True)
        subprocess.run(["ip", "addr", "add", f"{KUBERNETES_SERVICE['ip']}/32", "dev", "lo"],
                       check=True)
        # The images' WORKDIR, read-only, with one fresh tmpfs per emptyDir mount.
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "stage-root", WORKDIR],
                       check=True)
        mounts = []
        for pod in pods:
            volumes = {v["name"]: v for v in pod.spec.get("volumes", [])}
            sc = pod.spec.get("securityContext", {})
            for c in pod.spec["containers"]:
                for m in c.get("volumeMounts", []):
                    path = m["mountPath"]
                    if "emptyDir" not in volumes.get(m["name"], {}):
                        raise StageError(f"{pod.name}/{c['name']}: {m['name']} is not an emptyDir")
                    if not path.startswith(WORKDIR + "/") or path in mounts:
                        raise StageError(f"mountPath {path}: only distinct paths under {WORKDIR}")
                    os.makedirs(path)
                    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0777,size=64m",
                                    f"emptydir-{m['name']}", path], check=True)
                    if sc.get("fsGroup") is not None:
                        os.chown(path, -1, sc["fsGroup"])
                    mounts.append(path)
        subprocess.run(["mount", "-o", "remount,ro", WORKDIR], check=True)
        for pod in pods:
            for s in pod.spec.get("securityContext", {}).get("sysctls", []):
                Path("/proc/sys", s["name"].replace(".", "/")).write_text(str(s["value"]))
        # Services: port == targetPort, delivered to the Pod they select.
        secret_values = {}
        plan = []
        for pod in pods:
            for c in pod.spec["containers"]:
                env = container_env(pod, c, objects, secret_values)
                plan.append((pod, c, env, listen_port(c, env)))
        ports = [p for *_, p in plan]
        if len(ports) != len(set(ports)):
            raise StageError(f"listen ports {ports} collide in one network namespace")
        for name, (svc, ip) in has.items():
            sel = svc["spec"].get("selector", {})
            targets = [pod for pod in pods
                       if sel and all(pod.labels.get(k) == v for k, v in sel.items())]
            if len(targets) != 1:
                raise StageError(f"Service {name} selects {len(targets)} Pods")
            for p in svc["spec"]["ports"]:
                target = p.get("targetPort", p["port"])
                backend = [(c, lp) for pod, c, _, lp in plan if pod is targets[0]
                           and (lp == target or any(q.get("name") == target and
                                                    q["containerPort"] == lp
                                                    for q in c.get("ports", [])))]
                if not backend:
                    raise StageError(f"Service {name} port {p['port']}: targetPort {target} "
                                     f"reaches no container of {targets[0].name}")
                if backend[0][1] != p["port"]:
                    raise StageError(f"Service {name}: port {p['port']} != targetPort "
                                     f"{backend[0][1]} needs a relay, not emulated")
                say(f"Service {name}: {ip}:{p['port']} -> {targets[0].name}/"
                    f"{backend[0][0]['name']}:{backend[0][1]}")
        # Start every container as its runAsUser/runAsGroup, cwd = WORKDIR.
        for pod, c, env, lp in plan:
            binary = IMAGES[c["image"]][0]
            sc = {**pod.spec.get("securityContext", {}), **c.get("securityContext", {})}
            cmd = [str(Path(args.bin_dir) / binary)]
            if sc.get("runAsUser") is not None:
                cmd = ["setpriv", f"--reuid={sc['runAsUser']}",
                       f"--regid={sc.get('runAsGroup', sc['runAsUser'])}", "--clear-groups",
                       "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"] + cmd
            log = log_dir / f"{pod.name}.{c['name']}.log"
            shown = {k: v for k, v in env.items() if k != "JWT_SECRET"}
            say(f"start {pod.name}/{c['name']} ({binary}, uid {sc.get('runAsUser', 0)}, "
                f":{lp}) env: {' '.join(f'{k}={v}' for k, v in sorted(shown.items()))}"
                + (" JWT_SECRET=<generated>" if "JWT_SECRET" in env else ""))
            with open(log, "wb") as out:
                procs.append((pod, c, binary, subprocess.Popen(
                    cmd, env=env, cwd=WORKDIR, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT), log))
        # Readiness probes, as the kubelet runs them (port by name or number).
        deadline = time.monotonic() + 30
        for pod, c, binary, proc, log in procs:
            for probe in ("readinessProbe", "livenessProbe"):
                get = c[probe]["httpGet"]
                url = f"http://127.0.0.1:{port_of(c, get['port'])}{get['path']}"
                while True:
                    if proc.poll() is not None:
                        raise StageError(f"{pod.name}/{c['name']} exited {proc.returncode}:\n"
                                         + log.read_text()[-2000:])
                    try:
                        if http("GET", url, timeout=1)[0] == 200:
                            break
                    except OSError:
                        pass
                    if time.monotonic() > deadline:
                        raise StageError(f"{pod.name}/{c['name']}: {probe} {url} never 200")
                    time.sleep(0.1)
            say(f"ok   {pod.name}/{c['name']}: readiness and liveness probes 200")
        # Which discovery each client used.
        for pod, c, binary, proc, log in procs:
            if binary == "auth-api":
                continue
            text = re.sub(r"\x1b\[[0-9;]*m", "", log.read_text())
            m = re.search(r"auth address resolved.*?source=(\S+).*?base_url=(\S+)", text)
            if not m:
                raise StageError(f"{pod.name}/{c['name']}: no 'auth address resolved' log line")
            source = want["sources"].get(binary)
            ok = source is None or m.group(1) == source
            say(f"{'ok  ' if ok else 'FAIL'} {binary} found auth through {m.group(1)}: "
                f"{m.group(2)}" + (f" (expected {source})" if not ok else ""))
            if not ok:
                raise StageError(f"{binary} used {m.group(1)}, expected {source}")
        # The lesson's flow through the LoadBalancer Services' names.
        if "users-service" not in has:
            raise StageError("no users-service in this stage")
        users = f"http://users-service.default:{has['users-service'][0]['spec']['ports'][0]['port']}"
        cred = {"email": f"{stage}@test.com", "password": "testers"}
        if not want["auth"]:
            got = http("POST", f"{users}/signup", cred)
            expect("POST /signup without auth -> 503 JSON {message}", got, 503,
                   lambda b: isinstance(b, dict) and isinstance(b.get("message"), str))
            if got[2] > 3.5:
                raise StageError(f"503 took {got[2]:.1f}s, README promises under 3 s")
            say("skip login and tasks: auth is not part of this stage")
        else:
            expect("POST /signup", http("POST", f"{users}/signup", cred), 201,
                   lambda b: b == {"message": "User created!"})
            token = expect("POST /login", http("POST", f"{users}/login", cred), 200,
                           lambda b: isinstance(b.get("token"), str))["token"]
            if want["tasks"]:
                if "tasks-service" not in has:
                    raise StageError("this stage should have tasks-service")
                tasks = f"http://tasks-service.default:" \
                        f"{has['tasks-service'][0]['spec']['ports'][0]['port']}"
                task = {"title": f"{stage} task", "text": "Learn Kubernetes networking"}
                expect("POST /tasks", http("POST", f"{tasks}/tasks", task, token), 201,
                       lambda b: b["createdTask"]["title"] == task["title"])
                expect("GET /tasks", http("GET", f"{tasks}/tasks", token=token), 200,
                       lambda b: [t["title"] for t in b["tasks"]] == [task["title"]])
                expect("GET /tasks without a token -> 401", http("GET", f"{tasks}/tasks"), 401)
            else:
                say("skip tasks: this stage has no tasks-api (tasks-service)")
        # GET /network: what each public service shows about the way it reached auth.
        for name, binary in (("users-service", "users-api"), ("tasks-service", "tasks-api")):
            if name not in has:
                continue
            base = f"http://{name}.default:{has[name][0]['spec']['ports'][0]['port']}"
            network = expect(f"GET {name}/network", http("GET", f"{base}/network"), 200)
            auth = network["auth"]
            say(f"     {binary} /network: " + json.dumps({
                "source": auth["source"], "rawValue": auth["rawValue"],
                "resolvedAddresses": auth["resolvedAddresses"], "reachable": auth["reachable"],
                "pod": network["pod"]}))
            source = want["sources"].get(binary)
            if source is not None and auth["source"] != source:
                raise StageError(f"{binary} /network shows {auth['source']}, expected {source}")
            if auth["reachable"] != want["auth"]:
                raise StageError(f"{binary} /network says reachable={auth['reachable']}")
            if network["pod"]["name"] is None:
                raise StageError(f"{binary} /network shows no Pod name: downward API not passed")
        # SIGTERM: each exits 0 (graceful shutdown).
        for pod, c, binary, proc, log in procs:
            proc.send_signal(signal.SIGTERM)
        for pod, c, binary, proc, log in procs:
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise StageError(f"{pod.name}/{c['name']} ignored SIGTERM for 10 s")
            if code != 0:
                raise StageError(f"{pod.name}/{c['name']} exited {code} after SIGTERM")
        say("ok   SIGTERM: every process exited 0")
        return 0
    except (StageError, OSError, subprocess.CalledProcessError, KeyError, TypeError) as e:
        say(f"FAIL {type(e).__name__}: {e}")
        for pod, c, binary, proc, log in procs:
            say(f"--- {log.name} (last lines)")
            for line in log.read_text().splitlines()[-8:]:
                say("    " + re.sub(r"\x1b\[[0-9;]*m", "", line))
        return 1
    finally:
        for *_, proc, _log in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["hosts", "run"])
    ap.add_argument("stage_json")
    ap.add_argument("--stage")
    ap.add_argument("--bin-dir")
    ap.add_argument("--log-dir")
    args = ap.parse_args()
    if args.command == "hosts":
        sys.stdout.write(hosts(json.load(open(args.stage_json))))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
