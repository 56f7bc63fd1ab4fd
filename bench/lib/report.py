#!/usr/bin/env python3
"""Turns bench/run.sh's measurements (one JSON object per line) into <out>.json and <out>.md,
and prints the Markdown. Targets are evaluated and reported, never asserted.

Usage: report.py <measure.jsonl> <out-prefix> key=value…   (run metadata)
"""
import json
import statistics
import sys

MIB = 1024
FULL_RSS_TARGET = 0.8  # of the manifest's memory limit
FULL_READY_TARGET_MS = 2000
NOT_BELOW_BASELINE = 0.95  # req/s after / before: "must not fall", less run-to-run noise


def full_volume(rows):
    """Per service and build ("current", "baseline"): the store file, medians over the rounds of
    start-up and RSS on an empty and on the full store, and what that is per record and beside
    the manifest's memory limit."""
    manifests = {r["service"]: r for r in rows if r["kind"] == "manifest"}
    files = {r["service"]: r for r in rows if r["kind"] == "full-file"}
    runs = {}
    for r in rows:
        if r["kind"] == "full":
            runs.setdefault((r["service"], r["build"], r["store"]), []).append(r)
    summary = {}
    for (service, build, store), group in runs.items():
        if store != "full":
            continue
        empty, file, manifest = runs.get((service, build, "empty"), []), files[service], manifests[service]
        limit_kib = manifest["memory_limit_bytes"] / 1024

        def median(group, field):
            return statistics.median(r[field] for r in group) if group else None

        rss_full, rss_empty = median(group, "rss_kib"), median(empty, "rss_kib")
        hwm_full = median(group, "hwm_kib")
        summary.setdefault(service, {})[build] = {
            "records": file["records"], "file_bytes": file["bytes"],
            "file_bytes_per_record": file["bytes"] / file["records"],
            "budget": file["budget"], "budget_bytes": file["budget_bytes"],
            "manifest": manifest, "rounds": len(group),
            "ready_ms_empty": median(empty, "ready_ms"), "ready_ms_full": median(group, "ready_ms"),
            "ready_ms_full_runs": [r["ready_ms"] for r in group],
            "rss_kib_empty": rss_empty, "rss_kib_full": rss_full, "hwm_kib_full": hwm_full,
            "hwm_kib_empty": median(empty, "hwm_kib"),
            "rss_bytes_per_record": (rss_full - rss_empty) * 1024 / file["records"]
            if rss_empty is not None else None,
            "rss_full_of_limit": rss_full / limit_kib, "hwm_full_of_limit": hwm_full / limit_kib,
        }
    checks = [r for r in rows if r["kind"] == "full-check"]
    metrics = [r for r in rows if r["kind"] == "full-metrics"]
    return summary, checks, metrics


def full_volume_md(summary, checks, metrics, meta):
    md = []
    if not summary:
        return md
    some = next(iter(next(iter(summary.values())).values()))
    manifest = some["manifest"]
    if manifest["store_budget_source"] != "manifest":
        source = "no STORE_BUDGET in the manifests yet: 200Mi assumed"
    elif some["budget"] == manifest["store_budget"]:
        source = "the manifests' STORE_BUDGET"
    else:
        source = f"instead of the manifests' {manifest['store_budget']}: smoke or BENCH_FULL_BUDGET"

    def build_name(build):
        return f"baseline {meta['baseline']}" if build == "baseline" else build

    md.append(f"Store at full volume: each service started on a store file of ordinary records "
              f"filled up to the last whole line under STORE_BUDGET = {some['budget']} ({source}), "
              f"with STORE_BUDGET set; the manifests give the emptyDir sizeLimit "
              f"{manifest['size_limit']} and memory limit {manifest['memory_limit']}. "
              f"{some['rounds']} round(s) alternating an empty and the full store, each on a "
              f"freshly started process, medians; VmRSS and VmHWM read once ready and idle.")
    md.append("")
    md.append("| service | build | records | file bytes / record | ready (empty) | ready (full) "
              "| VmRSS empty | VmRSS full | VmHWM full | RSS per record | VmRSS full / limit "
              "| VmHWM full / limit |")
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for service, builds in summary.items():
        for build, f in builds.items():
            limit = f["manifest"]["memory_limit"]
            md.append(
                f"| {service}-api | {build_name(build)} | {f['records']:,} | {f['file_bytes_per_record']:.0f} B | "
                f"{f['ready_ms_empty']:.0f} ms | **{f['ready_ms_full']:.0f} ms** | "
                f"{f['rss_kib_empty'] / MIB:.1f} MiB | **{f['rss_kib_full'] / MIB:.1f} MiB** | "
                f"{f['hwm_kib_full'] / MIB:.1f} MiB | {f['rss_bytes_per_record']:.1f} B | "
                f"**{f['rss_full_of_limit']:.0%}** of {limit} | {f['hwm_full_of_limit']:.0%} of {limit} |")
    md.append("")
    md.append("| check on the full store | service | build | want | got | ok? |")
    md.append("|---|---|---|---:|---:|:-:|")
    for c in checks:
        md.append(f"| {c['check']} | {c['service']}-api | {build_name(c['build'])} | {c['want']} | "
                  f"{c['got']} | {'yes' if c['got'] == c['want'] else '**no**'} |")
    for m in metrics:
        md.append(f"| /metrics store_bytes / store_budget_bytes | {m['service']}-api | {build_name(m['build'])} "
                  f"| | {m['store_bytes']} / {m['store_budget_bytes']} | |")
    return md


def full_volume_targets(summary, checks, target):
    targets = []
    for service, builds in summary.items():
        f = builds.get("current")
        if not f:
            continue
        limit, what = f["manifest"]["memory_limit"], f"{service}-api at full volume ({f['budget']})"
        targets.append(target(f"{what}: VmRSS once ready < {FULL_RSS_TARGET:.0%} of the {limit} limit",
                              f"{f['rss_kib_full'] / MIB:.1f} MiB = {f['rss_full_of_limit']:.0%}",
                              f["rss_full_of_limit"] < FULL_RSS_TARGET))
        targets.append(target(f"{what}: peak VmHWM < {FULL_RSS_TARGET:.0%} of the {limit} limit",
                              f"{f['hwm_kib_full'] / MIB:.1f} MiB = {f['hwm_full_of_limit']:.0%}",
                              f["hwm_full_of_limit"] < FULL_RSS_TARGET))
        slowest = max(f["ready_ms_full_runs"])
        targets.append(target(f"{what}: ready < 2 s after start (slowest of the rounds)",
                              f"{slowest} ms", slowest < FULL_READY_TARGET_MS))
        mine = [c for c in checks if c["service"] == service and c["build"] == "current"]
        right = sum(c["got"] == c["want"] for c in mine)
        targets.append(target(f"{what}: one more write 507, reads 200, file unchanged",
                              f"{right} of {len(mine)} checks", mine and right == len(mine)))
    return targets


def alternating_rounds(wrk, cpu):
    """Medians over run.sh's alternating before/after rounds ("ab-<route>-<build>#<round>"):
    req/s, p99 and tasks-api's CPU time per request."""
    rows = []
    for route, label in (("get", "GET /tasks (page of 20)"), ("post", "POST /tasks")):
        runs = {build: [r for name, r in wrk.items() if name.startswith(f"ab-{route}-{build}#")]
                for build in ("baseline", "current")}
        if not all(runs.values()):
            continue
        n = len(runs["current"])

        def median(build, value):
            return statistics.median(value(r) for r in runs[build])

        def cpu_us(r):
            used = cpu[r["name"]]
            return used["ticks"] / used["hz"] * 1e6 / r["requests"]

        for what, value, fmt in ((f"req/s, median of {n} alternating rounds", lambda r: r["rps"], "{:.0f}"),
                                 ("p99 ms, median", lambda r: r["p99_us"] / 1e3, "{:.2f}"),
                                 ("tasks-api CPU per request, µs, median", cpu_us, "{:.0f}")):
            rows.append((f"{label}: {what}", median("baseline", value), median("current", value), fmt))
    return rows


def before_after(wrk, rss_by_phase, full, meta, cpu):
    """Rows (label, before, after, format) comparing the baseline's tasks-api with the current one."""
    if "base-get-tasks" not in wrk:
        return []

    def rss_grew_per_task(service, run):
        grew = (rss_by_phase["after-post-tasks"][service]["rss_kib"]
                - rss_by_phase["after-get-tasks"][service]["rss_kib"]) * 1024
        stored = wrk[run]["requests"] - wrk[run]["non2xx"]
        return grew / stored if stored else None

    rows = alternating_rounds(wrk, cpu)
    for route, label in (("get-tasks", "GET /tasks (page of 20)"), ("post-tasks", "POST /tasks")):
        before, after = wrk["base-" + route], wrk[route]
        label += ", one run each"
        rows.append((f"{label}: req/s", before["rps"], after["rps"], "{:.0f}"))
        rows.append((f"{label}: p50 ms", before["p50_us"] / 1e3, after["p50_us"] / 1e3, "{:.2f}"))
        rows.append((f"{label}: p99 ms", before["p99_us"] / 1e3, after["p99_us"] / 1e3, "{:.2f}"))
        rows.append((f"{label}: non-2xx and socket errors", before["non2xx"] + sum(
            before["socket_errors"].values()), after["non2xx"] + sum(after["socket_errors"].values()),
            "{:.0f}"))
    rows.append(("tasks-api VmRSS after the POST load, MiB",
                 rss_by_phase["after-post-tasks"]["base-tasks"]["rss_kib"] / MIB,
                 rss_by_phase["after-post-tasks"]["tasks"]["rss_kib"] / MIB, "{:.1f}"))
    rows.append(("RSS growth per task the POST load stored, bytes",
                 rss_grew_per_task("base-tasks", "base-post-tasks"),
                 rss_grew_per_task("tasks", "post-tasks"), "{:.0f}"))
    pair = full.get("tasks", {})
    if "baseline" in pair and "current" in pair:
        b, a = pair["baseline"], pair["current"]
        n, limit = f"{a['records']:,} tasks", a["manifest"]["memory_limit"]
        rows.append((f"full volume ({n}): start to /readyz, ms", b["ready_ms_full"], a["ready_ms_full"], "{:.0f}"))
        rows.append((f"full volume: VmRSS once ready, MiB", b["rss_kib_full"] / MIB, a["rss_kib_full"] / MIB, "{:.1f}"))
        rows.append((f"full volume: VmHWM (peak), MiB", b["hwm_kib_full"] / MIB, a["hwm_kib_full"] / MIB, "{:.1f}"))
        rows.append((f"full volume: VmRSS / {limit} limit, %", 100 * b["rss_full_of_limit"],
                     100 * a["rss_full_of_limit"], "{:.0f}"))
        rows.append(("full volume: RSS per stored task, bytes", b["rss_bytes_per_record"],
                     a["rss_bytes_per_record"], "{:.1f}"))
    return rows


def before_after_md(rows, meta):
    if not rows:
        return []
    after = f"work tree ({meta['commit']}{' + changes' if meta.get('dirty') == 'yes' else ''})"
    md = [f"Before/after: tasks-api of BENCH_BASELINE={meta['baseline']} (built in a git worktree) "
          f"beside the {after}, in this run: the same seeded store, auth-api and wrk settings, "
          "between the same two ceiling runs (GET: after, then before; POST: before, then "
          "after), then short rounds alternating which build goes first (medians, with the CPU "
          "time tasks-api spent per request); full volume as above, rounds alternating the two "
          "builds.", "",
          f"| measure | before ({meta['baseline']}) | after | after / before |", "|---|---:|---:|---:|"]
    for label, before, after_value, fmt in rows:
        ratio = f"{after_value / before:.2f}×" if before else ""
        show = (lambda v: "" if v is None else fmt.format(v))
        md.append(f"| {label} | {show(before)} | {show(after_value)} | {ratio} |")
    return md


def backends(rows, wrk, rss_by_phase, ceiling_rps, meta):
    """The file store beside PostgreSQL: run.sh's "<route>" and "pg-<route>" runs (the same
    tasks-api binary, auth-api and wrk settings), and PostgreSQL beside its own ceiling, the
    mean of "ceiling-db-1" and "ceiling-db-2" (the ceiling's hop plus one bare query on a pool
    like the service's), which bracket both backends' runs. None when the run had no
    PostgreSQL."""
    db_ceilings = [wrk[name] for name in ("ceiling-db-1", "ceiling-db-2") if name in wrk]
    if "pg-get-tasks" not in wrk or not db_ceilings:
        return None
    db_rps = statistics.mean(c["rps"] for c in db_ceilings)
    db_p99_ms = statistics.mean(c["p99_us"] for c in db_ceilings) / 1e3

    def errors(r):
        return r["non2xx"] + sum(r["socket_errors"].values())

    routes = []
    for name, label in (("get-tasks", "GET /tasks (page of 20)"), ("post-tasks", "POST /tasks")):
        f, p = wrk[name], wrk["pg-" + name]
        routes.append({
            "route": label,
            "file": {"rps": f["rps"], "p50_ms": f["p50_us"] / 1e3, "p99_ms": f["p99_us"] / 1e3,
                     "errors": errors(f), "rps_vs_ceiling": f["rps"] / ceiling_rps},
            "postgres": {"rps": p["rps"], "p50_ms": p["p50_us"] / 1e3, "p99_ms": p["p99_us"] / 1e3,
                         "errors": errors(p), "requests": p["requests"],
                         "rps_vs_db_ceiling": p["rps"] / db_rps,
                         "p99_vs_db_ceiling": p["p99_us"] / 1e3 / db_p99_ms},
            "postgres_vs_file_rps": p["rps"] / f["rps"],
        })
    tasks_pg = {phase: rss_by_phase.get(phase, {}).get("tasks-pg")
                for phase in ("after-get-tasks", "after-post-tasks")}
    return {
        "settings": next((r for r in rows if r["kind"] == "pg"), {}),
        "pool_size": int(meta.get("pg_pool_size", 10)),
        "db_ceiling": {"runs": db_ceilings, "rps": db_rps, "p99_ms": db_p99_ms,
                       "rps_vs_hop_ceiling": db_rps / ceiling_rps},
        "routes": routes,
        "stored": wrk["pg-post-tasks"]["requests"] - wrk["pg-post-tasks"]["non2xx"],
        "rows": next((r for r in rows if r["kind"] == "pg-rows"), {}),
        "tasks_pg_rss": tasks_pg,
    }


def backends_md(b, ceiling_rps):
    if not b:
        return []
    pg = b["settings"]
    md = [f"Backends: the file store beside PostgreSQL {pg.get('version', '?')}, a server of the "
          "run's own with PostgreSQL's default durability, as the file store fsyncs every append "
          f"it acknowledges: fsync={pg.get('fsync', '?')}, synchronous_commit="
          f"{pg.get('synchronous_commit', '?')}, wal_sync_method={pg.get('wal_sync_method', '?')}"
          f" (shared_buffers={pg.get('shared_buffers', '?')}). Its runs use the same tasks-api "
          f"binary, with DATABASE_URL and a pool of {b['pool_size']} connections (each pinged "
          "before it is handed out), the same auth-api, seeded tasks and wrk settings, between "
          "the same ceiling runs (GET file then PostgreSQL, POST PostgreSQL then file). PostgreSQL's "
          "ceiling is `ceiling front-db`: the ceiling's hop plus one `SELECT $1::int8` on a pool "
          f"of the same size: " + ", ".join(
              f"{c['name']} {c['rps']:.0f} req/s (p99 {c['p99_us'] / 1e3:.2f} ms)"
              for c in b["db_ceiling"]["runs"])
          + f", {b['db_ceiling']['rps_vs_hop_ceiling']:.2f}× the hop-only ceiling's {ceiling_rps:.0f}.",
          "",
          "| route | file req/s | file p99 ms | PostgreSQL req/s | PostgreSQL p99 ms "
          "| PostgreSQL ceiling req/s | PostgreSQL × its ceiling req/s | PostgreSQL × its ceiling p99 "
          "| PostgreSQL × file req/s | errors (file / PostgreSQL) |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in b["routes"]:
        f, p = r["file"], r["postgres"]
        md.append(f"| {r['route']} | {f['rps']:.0f} | {f['p99_ms']:.2f} | {p['rps']:.0f} | "
                  f"{p['p99_ms']:.2f} | {b['db_ceiling']['rps']:.0f} | **{p['rps_vs_db_ceiling']:.2f}** | "
                  f"{p['p99_vs_db_ceiling']:.2f} | {r['postgres_vs_file_rps']:.2f} | "
                  f"{f['errors']} / {p['errors']} |")
    md.append("")
    rows, rss = b["rows"], b["tasks_pg_rss"]
    line = (f"The PostgreSQL POST run stored {b['stored']:,} tasks, all of one user (each POST "
            "bumps that user's row in task_counts, which its insert then waits on")
    if rows.get("owner_tasks_before_post") is not None:
        line += (f": {rows['owner_tasks_before_post']:,} before the run, "
                 f"{rows['owner_tasks']:,} after it")
    line += ")"
    if rows:
        line += (f"; the table then held {rows['tasks']:,} tasks, the database "
                 f"{rows['database_bytes'] / 1e6:.0f} MB")
    if all(rss.values()):
        line += (f". tasks-api on PostgreSQL: VmRSS {rss['after-get-tasks']['rss_kib'] / MIB:.1f} MiB "
                 f"after the GET load, {rss['after-post-tasks']['rss_kib'] / MIB:.1f} MiB after the POST load")
    md.append(line + ".")
    return md


def main():
    source, out = sys.argv[1], sys.argv[2]
    meta = dict(arg.split("=", 1) for arg in sys.argv[3:])
    rows = [json.loads(line) for line in open(source) if line.strip()]
    wrk = {r["name"]: r for r in rows if r["kind"] == "wrk"}
    hyper = {r["name"]: r for r in rows if r["kind"] == "hyperfine"}
    ready_runs = {}
    for r in rows:
        if r["kind"] == "ready":
            ready_runs.setdefault(r["name"], []).append(r["ms"])
    ready = {name: statistics.median(ms) for name, ms in ready_runs.items()}

    # Growth measurements are named "<name>@<round>": the median over the rounds.
    def over_rounds(table, fields):
        grouped = {}
        for name, r in table.items():
            if "@" in name:
                grouped.setdefault(name.split("@")[0], []).append(r)
        return {name: {**{f: statistics.median(r[f] for r in runs) for f in fields},
                       "rounds": len(runs)} for name, runs in grouped.items()}

    gwrk = over_rounds(wrk, ("p50_us", "p99_us", "rps", "non2xx"))
    ghyper = over_rounds(hyper, ("median_ms", "mean_ms"))
    argon2 = next(r for r in rows if r["kind"] == "argon2")
    growth = next((r for r in rows if r["kind"] == "growth"), {})
    rss = [r for r in rows if r["kind"] == "rss"]

    cores = int(meta["cores"])
    ceilings = [wrk[name] for name in ("ceiling-1", "ceiling-2") if name in wrk]
    ceiling_rps = sum(c["rps"] for c in ceilings) / len(ceilings)
    ceiling_p99 = sum(c["p99_us"] for c in ceilings) / len(ceilings)
    verify_ms = argon2["median_ms"]
    argon2_bound = cores * 1000.0 / verify_ms

    def errors(r):
        return r["non2xx"] + sum(r["socket_errors"].values())

    routes = {}
    for name, label in (("login", "POST /login"), ("get-tasks", "GET /tasks (page of 20)"),
                        ("post-tasks", "POST /tasks")):
        r = wrk[name]
        routes[name] = {
            "route": label, "rps": r["rps"], "p50_ms": r["p50_us"] / 1e3,
            "p99_ms": r["p99_us"] / 1e3, "non2xx": r["non2xx"],
            "socket_errors": r["socket_errors"], "requests": r["requests"],
            "rps_vs_ceiling": r["rps"] / ceiling_rps, "p99_vs_ceiling": r["p99_us"] / ceiling_p99,
        }
    routes["login"]["rps_vs_argon2_bound"] = wrk["login"]["rps"] / argon2_bound

    final_rss = {}
    for r in rss:
        if r["phase"] in ("after-post-tasks", "after-ceiling"):
            final_rss[r["service"]] = {"rss_kib": r["rss_kib"], "hwm_kib": r["hwm_kib"]}
    rss_by_phase = {}
    for r in rss:
        rss_by_phase.setdefault(r["phase"], {})[r["service"]] = {
            "rss_kib": r["rss_kib"], "hwm_kib": r["hwm_kib"]}

    def p50(name):
        return gwrk[name]["p50_us"] / 1e3

    growth_summary = {
        "tasks": growth.get("tasks"), "file_bytes": growth.get("file_bytes"),
        "ready_ms_median": ready, "ready_ms_runs": ready_runs,
        "wrk_median_over_rounds": gwrk, "curl_median_over_rounds": ghyper,
        "post_p50_ratio": p50("large-post") / p50("empty-post"),
        "post_1c_ratio": p50("large-post-1c") / p50("empty-post-1c"),
        "get_first_1c_ratio": p50("large-get-first-1c") / p50("empty-get-first-1c"),
        "get_middle_1c_ratio": p50("large-get-middle-1c") / p50("empty-get-first-1c"),
        "get_middle_rps_ratio": gwrk["large-get-middle"]["rps"] / gwrk["empty-get-first"]["rps"],
        "tasks_rss_kib": rss_by_phase.get("growth-large-loaded@1", {}).get("tasks", {}).get("rss_kib"),
    }
    # Memory per stored task, from the POST run (every 2xx stored one task).
    grew = (rss_by_phase["after-post-tasks"]["tasks"]["rss_kib"]
            - rss_by_phase["after-get-tasks"]["tasks"]["rss_kib"]) * 1024
    stored = wrk["post-tasks"]["requests"] - wrk["post-tasks"]["non2xx"]
    bytes_per_task = grew / stored if stored else None

    def target(text, value, met):
        return {"target": text, "measured": value, "met": bool(met)}

    targets = []
    for name in ("get-tasks", "post-tasks"):
        r = routes[name]
        targets.append(target(f"{r['route']}: req/s >= 0.7x ceiling",
                              f"{r['rps_vs_ceiling']:.2f}x", r["rps_vs_ceiling"] >= 0.7))
        targets.append(target(f"{r['route']}: p99 <= 1.5x ceiling p99",
                              f"{r['p99_vs_ceiling']:.2f}x", r["p99_vs_ceiling"] <= 1.5))
        errs = errors(wrk[name])
        targets.append(target(f"{r['route']}: 0 errors", str(errs), errs == 0))
    login_ratio = routes["login"]["rps_vs_argon2_bound"]
    targets.append(target("POST /login: req/s >= 0.9x argon2 bound", f"{login_ratio:.2f}x",
                          login_ratio >= 0.9))
    for service in ("auth", "users", "tasks"):
        kib = final_rss[service]["rss_kib"]
        targets.append(target(f"{service}-api RSS after all the load < 15 MiB",
                              f"{kib / MIB:.1f} MiB", kib < 15 * MIB))
    kib = rss_by_phase["after-get-tasks"]["tasks"]["rss_kib"]
    targets.append(target("tasks-api RSS after the GET load (before POST grows the store) < 15 MiB",
                          f"{kib / MIB:.1f} MiB", kib < 15 * MIB))
    n = growth.get("tasks")
    g = growth_summary
    targets.append(target(f"{n:,} tasks: POST p50 within 1.2x of an empty store (64 conns)",
                          f"{g['post_p50_ratio']:.2f}x", g["post_p50_ratio"] <= 1.2))
    targets.append(target(f"{n:,} tasks: POST p50 within 1.2x of an empty store (1 conn)",
                          f"{g['post_1c_ratio']:.2f}x", g["post_1c_ratio"] <= 1.2))
    for what in ("first", "middle"):
        ratio = g[f"get_{what}_1c_ratio"]
        targets.append(target(f"{n:,} tasks: GET {what} page p50 (1 conn) within 1.2x of the "
                              "small store's first page", f"{ratio:.2f}x", ratio <= 1.2))
    growth_errors = sum(errors(r) for name, r in wrk.items() if "@" in name)
    targets.append(target("data growth runs: 0 errors", str(growth_errors), growth_errors == 0))
    slowest = max(ready_runs["large"])
    targets.append(target(f"{n:,} tasks: ready < 1 s after start (slowest of the rounds)",
                          f"{slowest} ms", slowest < 1000))

    full, full_checks, full_metrics = full_volume(rows)
    targets += full_volume_targets(full, full_checks, target)
    cpu = {r["name"]: r for r in rows if r["kind"] == "ab-cpu"}
    compared = before_after(wrk, rss_by_phase, full, meta, cpu)
    # Judged on the alternating rounds' medians (the single runs drift with the machine).
    for label, before, after, _ in compared:
        if "req/s, median" in label:
            ratio = after / before
            targets.append(target(f"{label.split(':')[0]}: req/s does not fall (>= "
                                  f"{NOT_BELOW_BASELINE}x the baseline {meta['baseline']}'s "
                                  "median, for noise)", f"{ratio:.2f}x", ratio >= NOT_BELOW_BASELINE))

    backend = backends(rows, wrk, rss_by_phase, ceiling_rps, meta)

    report = {
        "meta": meta, "ceiling": {"runs": ceilings, "rps": ceiling_rps, "p99_ms": ceiling_p99 / 1e3},
        "backends": backend,
        "argon2": {**argon2, "bound_rps": argon2_bound}, "routes": routes, "rss": rss_by_phase,
        "growth": growth_summary, "bytes_per_stored_task": bytes_per_task,
        "full_volume": {"services": full, "checks": full_checks, "metrics": full_metrics},
        "before_after": [{"measure": label, "before": before, "after": after}
                         for label, before, after, _ in compared],
        "targets": targets, "raw": rows,
    }
    with open(out + ".json", "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    md = []
    md.append(f"Benchmark ({meta['mode']}), {meta['stamp']}, commit {meta['commit']}: "
              f"{cores} cores ({meta['cpu']}), load average {meta['load_before']} before, "
              f"{meta['load_after']} after; {meta.get('elapsed_s', '?')} s in all. wrk -c{meta['connections']} -t{meta['threads']} "
              f"-d{meta['duration_s']}s on loopback; wrk shares the cores with the services.")
    md.append("")
    md.append("| route | req/s | p50 ms | p99 ms | non-2xx | × ceiling req/s | × ceiling p99 |")
    md.append("|---|---:|---:|---:|---:|---:|---:|")
    for c in ceilings:
        md.append(f"| ceiling ({c['name']}: axum → reqwest → fixed JSON) | {c['rps']:.0f} | "
                  f"{c['p50_us'] / 1e3:.2f} | {c['p99_us'] / 1e3:.2f} | {errors(c)} | | |")
    for r in routes.values():
        errs = r["non2xx"] + sum(r["socket_errors"].values())
        md.append(f"| {r['route']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                  f"{errs} | {r['rps_vs_ceiling']:.2f} | {r['p99_vs_ceiling']:.2f} |")
    md.append("")
    md.append(f"argon2 verify (Argon2::default(): argon2id, 19 MiB, t=2, p=1) on one core: "
              f"{verify_ms:.1f} ms median → bound {cores} cores / {verify_ms:.1f} ms = "
              f"{argon2_bound:.0f} logins/s; login reached {wrk['login']['rps']:.0f}/s = "
              f"**{login_ratio:.2f}×** the bound.")
    md.append("")
    md.append("| service (VmRSS) | after seeding | after login load | after GET load | "
              "after POST load | peak (VmHWM) |")
    md.append("|---|---:|---:|---:|---:|---:|")

    def mib(phase, service, key="rss_kib"):
        value = rss_by_phase.get(phase, {}).get(service, {}).get(key)
        return "" if value is None else f"{value / MIB:.1f} MiB"

    for service in ("auth", "users", "tasks"):
        md.append(f"| {service}-api | {mib('after-seed', service)} | {mib('after-login', service)} | "
                  f"{mib('after-get-tasks', service)} | {mib('after-post-tasks', service)} | "
                  f"{mib('after-post-tasks', service, 'hwm_kib')} |")
    for service in ("ceiling-front", "ceiling-backend"):
        md.append(f"| {service} | | | | {mib('after-ceiling', service)} | "
                  f"{mib('after-ceiling', service, 'hwm_kib')} |")
    if bytes_per_task:
        md.append("")
        md.append(f"The POST run stored {stored:,} tasks and tasks-api's RSS grew by "
                  f"~{bytes_per_task:.0f} bytes per task.")
    if backend:
        md.append("")
        md.extend(backends_md(backend, ceiling_rps))
    md.append("")
    md.append(f"Data growth: {n:,} tasks of one user ({growth.get('file_bytes', 0) / 1e6:.0f} MB "
              f"tasks.jsonl), {growth.get('rounds')} round(s) alternating an empty and the seeded "
              f"store, medians over the rounds ({meta['growth_duration_s']} s per wrk run). "
              f"Start to /readyz 200: empty {', '.join(map(str, ready_runs.get('empty', [])))} ms, "
              f"seeded **{', '.join(map(str, ready_runs.get('large', [])))} ms**; tasks-api RSS just after loading them "
              f"{g['tasks_rss_kib'] / MIB:.0f} MiB.")
    md.append("")
    md.append("| tasks-api store | request | 1 conn p50 ms | curl per request, median ms | "
              "64 conns p50 ms | 64 conns p99 ms | 64 conns req/s |")
    md.append("|---|---|---:|---:|---:|---:|---:|")
    for label, store in (("empty", "empty (GET: after the POST run)"), ("large", f"{n:,} tasks")):
        for what, request in (("post", "POST /tasks"), ("get-first", "GET /tasks first page"),
                              ("get-middle", "GET /tasks?after=<middle id>")):
            key = f"{label}-{what}"
            if key not in gwrk:
                continue
            w, one, h = gwrk[key], gwrk[key + "-1c"], ghyper[key + "-curl"]
            md.append(f"| {store} | {request} | {one['p50_us'] / 1e3:.2f} | {h['median_ms']:.2f} | "
                      f"{w['p50_us'] / 1e3:.2f} | {w['p99_us'] / 1e3:.2f} | {w['rps']:.0f} |")
    for section in (full_volume_md(full, full_checks, full_metrics, meta),
                    before_after_md(compared, meta)):
        if section:
            md.append("")
            md.extend(section)
    md.append("")
    md.append("| target | measured | met? |")
    md.append("|---|---:|:-:|")
    for t in targets:
        md.append(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else '**no**'} |")
    text = "\n".join(md) + "\n"
    with open(out + ".md", "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
