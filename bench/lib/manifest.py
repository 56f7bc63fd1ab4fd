#!/usr/bin/env python3
"""What a Deployment in kubernetes/ sets for its store: the container's STORE_BUDGET, the
emptyDir's sizeLimit and resources.limits.memory, each as written and in bytes, printed as one
JSON object. Reads the YAML line by line (standard library only): enough for the manifests in
kubernetes/, not a YAML parser.

Usage: manifest.py <deployment.yaml> <fallback budget>   (used when STORE_BUDGET is not set there)
       manifest.py --bytes <quantity>                     (prints the quantity in bytes)
"""
import json
import re
import sys

# As crates/kub-http/src/settings.rs parse_byte_size reads them.
UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40,
         "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def to_bytes(quantity):
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?", quantity.strip().strip("'\""))
    if not match:
        raise SystemExit(f"manifest: not a size: {quantity!r}")
    return int(match[1]) * UNITS.get(match[2], 1)


def indent(line):
    return len(line) - len(line.lstrip())


def env_value(lines, name):
    """The value of the container env entry `- name: <name>`, if there is one."""
    for number, line in enumerate(lines):
        if re.fullmatch(rf"\s*-\s*name:\s*[\"']?{name}[\"']?\s*", line):
            for following in lines[number + 1:number + 4]:
                match = re.fullmatch(r"\s*value:\s*[\"']?([^\"'\s]+)[\"']?\s*", following)
                if match:
                    return match[1]
    return None


def nested_value(lines, block, key):
    """The first `<key>: value` inside a `<block>:` mapping (deeper indented lines after it)."""
    for number, line in enumerate(lines):
        if re.fullmatch(rf"\s*{block}:\s*", line):
            for following in lines[number + 1:]:
                if following.strip() and indent(following) <= indent(line):
                    break
                match = re.fullmatch(rf"\s*{key}:\s*[\"']?([^\"'\s]+)[\"']?\s*", following)
                if match:
                    return match[1]
    return None


def main():
    if sys.argv[1] == "--bytes":
        print(to_bytes(sys.argv[2]))
        return
    path, fallback = sys.argv[1], sys.argv[2]
    lines = [line.split("#")[0].rstrip() for line in open(path)]
    budget = env_value(lines, "STORE_BUDGET")
    memory = nested_value(lines, "limits", "memory")
    size_limit = nested_value(lines, "emptyDir", "sizeLimit")
    if memory is None or size_limit is None:
        raise SystemExit(f"manifest: no resources.limits.memory or emptyDir sizeLimit in {path}")
    print(json.dumps({
        "manifest": path,
        "store_budget": budget or fallback, "store_budget_bytes": to_bytes(budget or fallback),
        "store_budget_source": "manifest" if budget else "fallback",
        "size_limit": size_limit, "size_limit_bytes": to_bytes(size_limit),
        "memory_limit": memory, "memory_limit_bytes": to_bytes(memory),
    }))


if __name__ == "__main__":
    main()
