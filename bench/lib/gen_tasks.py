#!/usr/bin/env python3
"""Writes <count> tasks for one owner straight into a tasks.jsonl, in the exact line format
tasks-api stores (crates/tasks-api/src/tasks.rs): ids 1..count, increasing createdAt.

Usage: gen_tasks.py <owner> <count> <path>
"""
import sys
import time

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


def main():
    owner, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if '"' in owner or "\\" in owner:
        raise SystemExit("gen_tasks: the owner must not need JSON escaping")
    started = time.monotonic()
    with open(path, "w", encoding="ascii", buffering=1 << 20) as out:
        for block in range(0, count, 1000):
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(BASE + block // 1000))
            out.write("".join(
                f'{{"id":{n},"owner":"{owner}","title":"Seeded task {n}",'
                f'"text":"Written straight into tasks.jsonl for the data-growth benchmark.",'
                f'"createdAt":"{stamp}.{(n - 1) % 1000:03d}Z"}}\n'
                for n in range(block + 1, min(block + 1000, count) + 1)
            ))
    print(f"gen_tasks: {count} tasks in {time.monotonic() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
