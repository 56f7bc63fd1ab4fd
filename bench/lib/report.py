#!/usr/bin/env python3
"""Turns bench/run.sh's measurements (one JSON object per line) into <out>.json and <out>.md,
and prints the Markdown. Targets are evaluated and reported, never asserted.

Usage: report.py <measure.jsonl> <out-prefix> key=value…   (run metadata)
"""
import json
import statistics
import sys

MIB = 1024


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

    report = {
        "meta": meta, "ceiling": {"runs": ceilings, "rps": ceiling_rps, "p99_ms": ceiling_p99 / 1e3},
        "argon2": {**argon2, "bound_rps": argon2_bound}, "routes": routes, "rss": rss_by_phase,
        "growth": growth_summary, "bytes_per_stored_task": bytes_per_task,
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
        md.append(f"tasks-api keeps every task in memory: the POST run stored {stored:,} tasks "
                  f"and RSS grew by ~{bytes_per_task:.0f} bytes per task.")
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
