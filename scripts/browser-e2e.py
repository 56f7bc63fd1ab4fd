#!/usr/bin/env python3
"""The tasks page in a real browser: Debian's chromium, driven by Playwright for Python.

  scripts/browser-e2e.py                   starts `dev-stack` (page, users, tasks, auth) itself
  scripts/browser-e2e.py --url URL --mode M   a page already served (compose, the local cluster)
      [--resolve HOST:ADDRESS] [--ca-file CA]  its host name at that address (stage 7's
                                              kub-network.test), its certificate verified with CA

Installs what it needs on first use: Playwright into the venv target/browser-venv (PyPI; its own
browser download is never used) and, if /usr/bin/chromium is missing, Debian's chromium.

The walk-through, at 375 px wide, as a person with a keyboard and a screen reader would find it
(every field reached by its label, every button by its name):
  sign up, log in, add two tasks (the second titled `<script>…</script>` with an `<img onerror>`
  text), see both listed; page through seven tasks five at a time; log out. Checked: each step's
  message; the tasks' titles and texts shown as text, never as HTML (no script ran, no img was
  made); the path panel names the service that answered, how it found auth, the Pod and the
  request id; no horizontal scrolling at 375 px; no console error or uncaught exception.
Saves a full-page screenshot at 375 px to target/artifacts/browser/tasks-page-<mode>.png
(--readme-shot also copies it to docs/images/tasks-page.png).
Prints one PASS/FAIL line per check, then `browser: N passed, N failed`; exits 1 on a failure.
"""
import argparse, os, re, shutil, subprocess, sys, tempfile, time, traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from service_kit import free_port  # noqa: E402

VENV = os.path.join(ROOT, "target", "browser-venv")
ARTIFACTS = os.path.join(ROOT, "target", "artifacts", "browser")
CHROMIUM = "/usr/bin/chromium"
SCRIPT_TITLE = "<script>window.__pwned = true</script>"
IMG_TEXT = '<img src="x" onerror="window.__pwned = true">'


def ensure_tools():
    """Re-runs this script inside the venv with Playwright, installing what is missing."""
    if not os.path.exists(CHROMIUM):
        print("browser: installing Debian's chromium (apt-get)", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                       check=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    check = subprocess.run([python, "-c", "import playwright.sync_api"], capture_output=True)
    if check.returncode != 0:
        print("browser: installing Playwright into target/browser-venv (pip)", flush=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "playwright==1.65.2"], check=True)
    if os.path.realpath(sys.prefix) != os.path.realpath(VENV):
        os.execv(python, [python, *sys.argv])


def browser_home(workdir, ca_file):
    """A HOME for chromium whose NSS database trusts `ca_file` to identify web sites (how
    chromium on Linux learns a CA; certutil from Debian's libnss3-tools)."""
    if not shutil.which("certutil"):
        subprocess.run(["bash", os.path.join(ROOT, "scripts/apt-install.sh"), "libnss3-tools"], check=True)
    home = os.path.join(workdir, "home")
    nssdb = os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "kub-network local CA", "-t", "C,,",
                    "-i", ca_file], check=True)
    return home


class Report:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def start_dev_stack(workdir):
    """dev-stack on free ports; returns (process, page URL)."""
    subprocess.run(["cargo", "build", "-q", "-p", "dev-stack"], cwd=ROOT, check=True)
    page, users, tasks, auth = (free_port() for _ in range(4))
    log = open(os.path.join(workdir, "dev-stack.log"), "w")
    process = subprocess.Popen(
        [os.path.join(ROOT, "target", "debug", "dev-stack"), "--page-port", str(page),
         "--users-port", str(users), "--tasks-port", str(tasks), "--auth-port", str(auth)],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    url = f"http://localhost:{page}/"
    import urllib.request
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"dev-stack did not serve the page; log in {workdir}/dev-stack.log")


def walk_through(page, url, report, mode, shot):
    from playwright.sync_api import expect

    # Listening before the page loads: a CSP violation or an error while loading counts too.
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(url)
    status = page.get_by_role("status")
    path = page.locator("#path li")
    email = f"browser-{int(time.time() * 1000)}@test.com"

    newest_seq = "Number(document.querySelector('#path li')?.dataset.seq || 0)"

    def traced():
        """How many requests the page has traced in its path panel."""
        return page.evaluate(newest_seq)

    def wait_traced(count):
        # An attribute, not wait_for_function: the page's CSP forbids evaluating strings.
        expect(path.first).to_have_attribute("data-seq", str(count))

    def add_task(title, text):
        """Adds a task through the form; returns once the page has stored and reloaded."""
        before = traced()
        page.get_by_label("Title").fill(title)
        page.get_by_label("Text").fill(text)
        page.get_by_role("button", name="Add task").click()
        wait_traced(before + 2)  # the POST, then the reload of the list
        expect(status).to_have_text(re.compile(r"^Task stored\. \d+ task\(s\) shown\.$"))

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("testers")
    page.get_by_role("button", name="Sign up").click()
    expect(status).to_have_text("Signed up. Now log in.")
    report.check("sign up", True, email)

    before = traced()
    page.get_by_label("Password").press("Enter")  # a form's Enter: its first button, Log in
    wait_traced(before + 2)  # the login, then the first page of tasks
    expect(page.get_by_text(f"Logged in as {email}.")).to_be_visible()
    report.check("log in with Enter in the password field", True)

    for title, text in [("First task", "Do it!"), (SCRIPT_TITLE, IMG_TEXT)]:
        add_task(title, text)
    tasks = page.locator("#tasks li")
    expect(tasks).to_have_count(2)
    titles = page.locator("#tasks .task-title").all_text_contents()
    texts = page.locator("#tasks .task-text").all_text_contents()
    report.check("two tasks added and listed", titles == ["First task", SCRIPT_TITLE], repr(titles))
    escaped = (texts[1] == IMG_TEXT and page.locator("#tasks script, #tasks img").count() == 0
               and page.evaluate("window.__pwned") is None)
    report.check("a <script> title and an <img onerror> text are shown as text", escaped)

    for n in range(3, 8):
        add_task(f"Task {n}", "x")
    expect(tasks).to_have_count(7)
    report.check("a new task is in view after adding it, past the first page",
                 tasks.last.locator(".task-title").inner_text() == "Task 7")
    page.get_by_role("button", name="Load my tasks").click()
    expect(tasks).to_have_count(5)
    page.get_by_role("button", name="Load more").dblclick()  # one page, however many clicks
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    expect(status).to_have_text("7 task(s) shown.")
    report.check("paging: 5 tasks, then Load more shows all 7", tasks.count() == 7,
                 f"{tasks.count()} shown")

    newest = path.first
    panel = newest.inner_text()
    entries = path.count()
    filled = all(part in panel for part in ("tasks-api", "auth found by", "request id", "Pod"))
    request_id = newest.locator("dt:text-is('request id') + dd").inner_text()
    report.check("the path panel names service, auth source, Pod and request id",
                 filled and len(request_id) >= 8 and entries == 4 and traced() == 19,
                 f"{entries} entries; newest: " + " | ".join(panel.splitlines()[:12]))

    width = page.evaluate("document.documentElement.scrollWidth")
    report.check("usable at 375 px: no horizontal scrolling", width <= 375, f"scrollWidth {width}")

    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, f"tasks-page-{mode}.png")
    page.screenshot(path=path, full_page=True)
    if shot:
        shutil.copyfile(path, os.path.join(ROOT, "docs", "images", "tasks-page.png"))
    report.check("screenshot at 375 px", os.path.getsize(path) > 10_000, os.path.relpath(path, ROOT))

    page.get_by_role("button", name="Log out").click()
    expect(status).to_have_text("Logged out.")
    report.check("log out forgets the token and the list",
                 tasks.count() == 0 and page.evaluate("sessionStorage.length") == 0)
    report.check("no console error or uncaught exception", not problems, repr(problems[:3]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a page already served (default: start dev-stack)")
    parser.add_argument("--mode", default="dev-stack", help="names the screenshot")
    parser.add_argument("--readme-shot", action="store_true", help="also update docs/images/tasks-page.png")
    parser.add_argument("--resolve", help="HOST:ADDRESS: the URL's host name at that address")
    parser.add_argument("--ca-file", help="the CA that verifies the page's certificate")
    args = parser.parse_args()
    ensure_tools()
    from playwright.sync_api import sync_playwright

    report = Report()
    workdir = tempfile.mkdtemp(prefix="kub-browser-")
    process = None
    try:
        url = args.url
        if not url:
            process, url = start_dev_stack(workdir)
        print(f"browser: {url} ({args.mode}) in {CHROMIUM}", flush=True)
        with sync_playwright() as playwright:
            flags, env = ["--no-sandbox"], dict(os.environ)
            if args.resolve:
                host, address = args.resolve.rsplit(":", 1)
                flags.append(f"--host-resolver-rules=MAP {host} {address}")
            if args.ca_file:
                env["HOME"] = browser_home(workdir, args.ca_file)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags, env=env)
            page = browser.new_page(viewport={"width": 375, "height": 812})
            page.set_default_timeout(15_000)
            try:
                walk_through(page, url, report, args.mode, args.readme_shot)
            except Exception:
                traceback.print_exc()
                page.screenshot(path=os.path.join(workdir, "failure.png"), full_page=True)
                report.check("the walk-through ran to its end", False, f"screenshot in {workdir}")
            browser.close()
    finally:
        if process:
            process.terminate()
            process.wait(timeout=20)
    print(f"browser: {report.passed} passed, {report.failed} failed", flush=True)
    if report.failed:
        print(f"browser: logs in {workdir}", flush=True)
        sys.exit(1)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
