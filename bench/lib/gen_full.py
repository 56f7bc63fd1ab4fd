#!/usr/bin/env python3
"""Fills a store file with ordinary records up to a byte budget, to the last whole line, in the
exact line formats the services write (crates/tasks-api/src/tasks.rs, crates/users-api/src/users.rs).
Prints one JSON object: records, bytes, longest_line (bytes, newline included).

Usage: gen_full.py tasks <budget-bytes> <path> <first-owner>
           ~200-byte tasks, 1,000 per owner, ids 1..N; the first 1,000 are <first-owner>'s
       gen_full.py users <budget-bytes> <path> <first-lines-file>
           the lines of <first-lines-file> (a real user, to log in with), then user<n>@example.com
"""
import json
import sys
import time

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z
PER_OWNER = 1000
# Every user shares one real argon2id hash (of an unknown password): the line has its usual size.
HASH = "$argon2id$v=19$m=19456,t=2,p=1$X21nnMKNO3elHOMBOworlA$aoW3/K6HpRandF6ARS7krI5Une+cyQiOclMG2+qa80o"
TITLES = ["Buy groceries", "Call the plumber", "Renew the passport", "Book the dentist",
          "Water the plants", "Pay the rent"]
TEXTS = ["Milk, eggs, bread, coffee and something for dinner on Friday.",
         "The kitchen tap drips again; ask about Tuesday morning.",
         "It runs out in March: photos, the form and the old one.",
         "Check-up and cleaning, any afternoon next week works.",
         "The ferns twice a week, the cactus once a month at most.",
         "Transfer before the 3rd and keep the receipt for taxes."]


def fake_uuid(n, tag):
    return f"{n:08x}-{tag}-4000-8000-{n:012x}"


def stamp(block):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(BASE + block))


def task_blocks(first_owner):
    if '"' in first_owner or "\\" in first_owner:
        raise SystemExit("gen_full: the owner must not need JSON escaping")
    for block in range(1 << 40):
        owner = first_owner if block == 0 else fake_uuid(block, "7a5c")
        when, first = stamp(block), block * PER_OWNER + 1
        yield [f'{{"id":{n},"owner":"{owner}","title":"{TITLES[n % 6]}","text":"{TEXTS[n % 6]}",'
               f'"createdAt":"{when}.{(n - 1) % PER_OWNER:03d}Z"}}\n'
               for n in range(first, first + PER_OWNER)]


def user_blocks(first_lines_path):
    yield [line if line.endswith("\n") else line + "\n" for line in open(first_lines_path)]
    for block in range(1 << 40):
        when, first = stamp(block), block * PER_OWNER + 1
        yield [f'{{"id":"{fake_uuid(n, "5eed")}","email":"user{n}@example.com",'
               f'"passwordHash":"{HASH}","createdAt":"{when}.{(n - 1) % PER_OWNER:03d}Z"}}\n'
               for n in range(first, first + PER_OWNER)]


def fill(path, blocks, budget):
    """Writes whole blocks while they fit, then the lines of the last one that still fit."""
    written = records = longest = 0
    with open(path, "w", encoding="ascii", newline="\n", buffering=1 << 20) as out:
        for lines in blocks:
            size = sum(map(len, lines))
            full = written + size > budget
            if full:
                room, kept = budget - written, []
                for line in lines:
                    if len(line) > room:
                        break
                    kept.append(line)
                    room -= len(line)
                lines, size = kept, sum(map(len, kept))
            out.write("".join(lines))
            written, records = written + size, records + len(lines)
            longest = max([longest, *map(len, lines)])
            if full:
                return {"records": records, "bytes": written, "longest_line": longest}


def main():
    kind, budget, path, first = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    started = time.monotonic()
    blocks = {"tasks": task_blocks, "users": user_blocks}[kind](first)
    result = fill(path, blocks, budget)
    print(f"gen_full: {result['records']} {kind}, {result['bytes']} bytes in "
          f"{time.monotonic() - started:.1f}s", file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
