#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Validate schema/rpc/*.json and generate doc/rpc.md from it.

    python3 scripts/gen-rpc-doc.py            # validate, then write doc/rpc.md
    python3 scripts/gen-rpc-doc.py --check    # validate; fail if doc/rpc.md is out of date

Exit status: 0 ok, 1 schema errors or (with --check) doc/rpc.md out of date.
The format is described in schema/README.md. Standard library only.
"""
import argparse
import json
import os
import re
import sys

TYPES = ("string", "bool", "int32", "uint8", "uint16", "uint32", "int64", "uint64", "number",
         "object", "array", "string_array", "any")
AREA_KEYS = {"area": True, "title": False, "description": False, "methods": True}
METHOD_KEYS = {"name": True, "summary": True, "description": False, "aliases": False,
               "params": True, "result": False, "example": False}
PARAM_KEYS = {"name": True, "type": True, "required": True, "help": True, "enum": False,
              "default": False}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Errors:
    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append(f"{where}: {msg}")


def check_keys(errs, where, obj, spec):
    if not isinstance(obj, dict):
        errs.add(where, "expected an object")
        return False
    for k, required in spec.items():
        if required and k not in obj:
            errs.add(where, f"missing \"{k}\"")
    for k in obj:
        if k not in spec:
            errs.add(where, f"unknown key \"{k}\" (known: {', '.join(spec)})")
    return True


def check_str(errs, where, obj, key, allow_empty=False):
    v = obj.get(key)
    if v is None:
        return
    if not isinstance(v, str) or (not allow_empty and not v.strip()):
        errs.add(where, f"\"{key}\" must be a non-empty string")


def validate_param(errs, where, p):
    if not check_keys(errs, where, p, PARAM_KEYS):
        return
    if not isinstance(p.get("name"), str) or not NAME_RE.match(p.get("name", "")):
        errs.add(where, "\"name\" must match [a-z][a-z0-9_]*")
    if p.get("type") not in TYPES:
        errs.add(where, f"unknown type {p.get('type')!r} (known: {', '.join(TYPES)})")
    if "required" in p and not isinstance(p["required"], bool):
        errs.add(where, "\"required\" must be true or false")
    check_str(errs, where, p, "help")
    if "enum" in p:
        e = p["enum"]
        if not isinstance(e, list) or not e or not all(isinstance(x, str) for x in e) or \
                len(set(e)) != len(e):
            errs.add(where, "\"enum\" must be a non-empty list of distinct strings")


def validate(schema_dir):
    """Returns (areas, errors): areas sorted framework first, then by name."""
    errs = Errors()
    areas = []
    seen = {}  # method or alias name -> where
    try:
        names = sorted(f for f in os.listdir(schema_dir) if f.endswith(".json"))
    except OSError as e:
        errs.add(schema_dir, str(e))
        return [], errs.items
    if not names:
        errs.add(schema_dir, "no schema files")
    for fn in names:
        path = os.path.join(schema_dir, fn)
        rel = os.path.relpath(path, TOP)
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            errs.add(rel, f"not valid JSON: {e}")
            continue
        if not check_keys(errs, rel, doc, AREA_KEYS):
            continue
        area = doc.get("area")
        if area != fn[:-len(".json")]:
            errs.add(rel, f"\"area\" is {area!r}; it must be the file's name without .json")
        if not isinstance(doc.get("methods"), list):
            errs.add(rel, "\"methods\" must be a list")
            continue
        for i, m in enumerate(doc["methods"]):
            where = f"{rel}: methods[{i}]"
            if isinstance(m, dict) and isinstance(m.get("name"), str):
                where = f"{rel}: {m['name']}"
            if not check_keys(errs, where, m, METHOD_KEYS):
                continue
            check_str(errs, where, m, "summary")
            check_str(errs, where, m, "description")
            check_str(errs, where, m, "result")
            check_str(errs, where, m, "example")
            names_here = [m.get("name")]
            if "aliases" in m:
                if not isinstance(m["aliases"], list) or \
                        not all(isinstance(a, str) for a in m["aliases"]):
                    errs.add(where, "\"aliases\" must be a list of strings")
                else:
                    names_here += m["aliases"]
            for n in names_here:
                if not isinstance(n, str) or not NAME_RE.match(n):
                    errs.add(where, f"bad method name {n!r} (must match [a-z][a-z0-9_]*)")
                    continue
                if n in seen:
                    errs.add(where, f"\"{n}\" is also declared in {seen[n]}")
                else:
                    seen[n] = where
            if not isinstance(m.get("params"), list):
                errs.add(where, "\"params\" must be a list")
                continue
            pnames = set()
            for j, p in enumerate(m["params"]):
                pw = f"{where}: params[{j}]"
                if isinstance(p, dict) and isinstance(p.get("name"), str):
                    pw = f"{where}: param {p['name']}"
                    if p["name"] in pnames:
                        errs.add(pw, "declared twice")
                    pnames.add(p["name"])
                validate_param(errs, pw, p)
        areas.append(doc)
    areas.sort(key=lambda a: (a.get("area") != "framework", str(a.get("area"))))
    return areas, errs.items


def md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def example_line(m):
    if m.get("example"):
        return "ftgtctl " + m["example"]
    args = [m["name"]]
    for p in m["params"]:
        if p.get("required"):
            v = p["enum"][0] if p.get("enum") else f"<{p['type']}>"
            args.append(f"--{p['name'].replace('_', '-')} {v}")
    return "ftgtctl " + " ".join(args)


def render(areas):
    out = ["<!-- Generated by scripts/gen-rpc-doc.py from schema/rpc/*.json: do not edit. -->",
           "",
           "# ftgtd JSON-RPC methods",
           "",
           "ftgtd serves JSON-RPC 2.0 on a UNIX stream socket (default `/var/tmp/ftgt.sock`, "
           "`ftgtd -r PATH`).",
           "Every method is declared once in `schema/rpc/<area>.json` (see "
           "[schema/README.md](../schema/README.md)); this page and `ftgtctl`'s help and "
           "completion come from there.",
           "Call a method with `ftgtctl METHOD --param value ...` (see [ftgtctl.md](ftgtctl.md)); "
           "parameter names take dashes or underscores.",
           "",
           "Errors are JSON-RPC error objects: -32700 parse error, -32600 invalid request, "
           "-32601 method not found, -32602 invalid params (the message names the field), "
           "-32603 internal error, -1 invalid state (e.g. shutting down), or a negative errno.",
           "",
           "## Contents",
           ""]
    for a in areas:
        title = a.get("title", a["area"])
        out.append(f"- [{a['area']}](#area-{a['area']}): " +
                   ", ".join(f"[{m['name']}](#{m['name']})" for m in a["methods"]))
    out.append("")
    for a in areas:
        title = a.get("title")
        out.append(f"## <a id=\"area-{a['area']}\"></a>{a['area']}" +
                   (f": {title}" if title else ""))
        out.append("")
        if a.get("description"):
            out += [a["description"], ""]
        for m in a["methods"]:
            out.append(f"### <a id=\"{m['name']}\"></a>{m['name']}")
            out.append("")
            out.append(m["summary"])
            out.append("")
            if m.get("description"):
                out += [m["description"], ""]
            if m["params"]:
                out += ["| Parameter | Type | Required | Description |",
                        "|---|---|---|---|"]
                for p in m["params"]:
                    desc = p.get("help", "")
                    if p.get("enum"):
                        desc += " One of: " + ", ".join(f"`{e}`" for e in p["enum"]) + "."
                    if "default" in p:
                        desc += f" Default: `{json.dumps(p['default'])}`."
                    out.append(f"| `{p['name']}` | {p['type']} | "
                               f"{'yes' if p.get('required') else 'no'} | {md_cell(desc)} |")
            else:
                out.append("No parameters.")
            out.append("")
            if m.get("result"):
                out += [f"**Result:** {m['result']}", ""]
            if m.get("aliases"):
                out += ["**Aliases:** " + ", ".join(f"`{x}`" for x in m["aliases"]), ""]
            out += ["```sh", example_line(m), "```", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="validate and fail if the doc is out of date (writes nothing)")
    ap.add_argument("--schema-dir", default=os.path.join(TOP, "schema", "rpc"))
    ap.add_argument("--output", default=os.path.join(TOP, "doc", "rpc.md"))
    args = ap.parse_args()

    areas, errors = validate(args.schema_dir)
    if errors:
        for e in errors:
            print(f"gen-rpc-doc: {e}", file=sys.stderr)
        print(f"gen-rpc-doc: {len(errors)} schema error(s)", file=sys.stderr)
        return 1
    text = render(areas)
    nmethods = sum(len(a["methods"]) for a in areas)
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                current = f.read()
        except OSError as e:
            current = None
            print(f"gen-rpc-doc: {e}", file=sys.stderr)
        if current != text:
            print(f"gen-rpc-doc: {os.path.relpath(args.output, TOP)} is out of date; run "
                  "python3 scripts/gen-rpc-doc.py", file=sys.stderr)
            return 1
        print(f"gen-rpc-doc: {len(areas)} areas, {nmethods} methods; schema valid, "
              f"{os.path.relpath(args.output, TOP)} up to date")
        return 0
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"gen-rpc-doc: wrote {os.path.relpath(args.output, TOP)} ({len(areas)} areas, "
          f"{nmethods} methods)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
