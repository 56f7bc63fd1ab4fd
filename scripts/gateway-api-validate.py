#!/usr/bin/env python3
"""Strict validation of the Gateway API objects in rendered manifests, offline: kubernetes-validate
has no schema for custom resources, so each gateway.networking.k8s.io object is checked against
the openAPIV3Schema of its CRD, from the module pinned in test-bed/gateway-api (the CRDs the
test bed installs), with every field the schema does not name refused, as --strict does.
CEL rules (x-kubernetes-validations) are the API server's to check: the cluster e2e applies the
same objects.

    gateway-api-validate.py CRD_DIR FILE...

Prints one line per object; exits 1 when any is invalid, or when no file holds one.
"""

import copy
import glob
import os
import sys

import jsonschema
import yaml


def strict(schema):
    """The schema with additionalProperties false wherever it lists properties and allows no
    others (x-kubernetes-preserve-unknown-fields, additionalProperties of its own)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if ("properties" in node and "additionalProperties" not in node
                    and not node.get("x-kubernetes-preserve-unknown-fields")):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def schemas(crd_dir):
    """(group, version, kind) -> the strict schema of that CRD version."""
    found = {}
    for path in glob.glob(os.path.join(crd_dir, "*.yaml")):
        for crd in yaml.safe_load_all(open(path)):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                # metadata is the API server's ObjectMeta, not described by the CRD.
                schema["properties"]["metadata"] = {"type": "object"}
                found[(spec["group"], version["name"], spec["names"]["kind"])] = schema
    return found


def main():
    crd_dir, files = sys.argv[1], sys.argv[2:]
    known = schemas(crd_dir)
    if not known:
        sys.exit(f"no CustomResourceDefinition in {crd_dir}")
    checked = failed = 0
    for path in files:
        for obj in yaml.safe_load_all(open(path)):
            if not obj or not str(obj.get("apiVersion", "")).startswith("gateway.networking.k8s.io/"):
                continue
            group, version = obj["apiVersion"].split("/")
            name = f"{obj['kind']}/{obj['metadata']['name']} ({os.path.basename(path)})"
            checked += 1
            schema = known.get((group, version, obj["kind"]))
            if schema is None:
                print(f"INVALID {name}: no CRD serves {obj['apiVersion']} {obj['kind']}")
                failed += 1
                continue
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=str)
            for error in errors:
                where = "/".join(str(p) for p in error.absolute_path)
                print(f"INVALID {name} at {where or '.'}: {error.message}")
            failed += bool(errors)
            if not errors:
                print(f"valid   {name}")
    print(f"passed {checked - failed}, failed {failed}")
    if failed or not checked:
        sys.exit(1)


if __name__ == "__main__":
    main()
