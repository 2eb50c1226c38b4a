#!/usr/bin/env python3
"""Fails when the files of a crate import each other in a circle.

A file depends on another when it names a path into it: `use crate::a::b::X`,
`crate::a::b::f()` in code, `super::x`, or a re-export (`pub use x::Y` in a `mod.rs` or
`lib.rs` makes that file depend on `x`). A path is resolved to the deepest module that is
a file of its own. Comments and strings are ignored; an inline `mod tests { .. }` is
part of its file. Usage: import_cycles.py CRATE_SRC_DIR...
"""
import os
import re
import sys


def strip(text):
    """Removes comments and string literals (keeps line structure)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"' or (c == "r" and re.match(r'r#*"', text[i:i + 4]) and not text[i - 1:i].isalnum()):
            m = re.match(r'r(#*)"', text[i:])
            if m:
                end = '"' + m.group(1)
                j = text.find(end, i + len(m.group(0)))
                i = n if j < 0 else j + len(end)
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                i = j + 1
            out.append('""')
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            i += len(m.group(0)) if m else 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def modules(src):
    """Maps module path (tuple) -> file, following `#[path]` attributes."""
    found = {}

    def walk(path, modpath):
        found[modpath] = path
        text = strip(open(path).read())
        here = os.path.dirname(path)
        own_dir = here if os.path.basename(path) in ("lib.rs", "mod.rs") else os.path.join(here, os.path.basename(path)[:-3])
        for m in re.finditer(r'(#\[path\s*=\s*""\]\s*)?(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;', text):
            name = m.group(2)
            raw = open(path).read()
            pm = re.search(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+' + name + r'\s*;', raw)
            if pm:
                child = os.path.join(here, pm.group(1))
            else:
                child = os.path.join(own_dir, name + ".rs")
                if not os.path.exists(child):
                    child = os.path.join(own_dir, name, "mod.rs")
            if os.path.exists(child):
                walk(child, modpath + (name,))

    walk(os.path.join(src, "lib.rs"), ())
    return found


def expand(tree):
    """Expands a use tree `a::{b, c::{d, e}}` into paths."""
    tree = tree.replace(" ", "").replace("\n", "")
    depth, start = 0, None
    for i, c in enumerate(tree):
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1:i]
                parts, d, cur = [], 0, ""
                for ch in inner:
                    if ch == "," and d == 0:
                        parts.append(cur)
                        cur = ""
                        continue
                    d += ch == "{"
                    d -= ch == "}"
                    cur += ch
                parts.append(cur)
                return [p for part in parts if part for p in expand(prefix + part)]
    return [tree]


def deps(modpath, path, mods):
    raw = strip(open(path).read())
    is_dir_mod = os.path.basename(path) in ("lib.rs", "mod.rs")
    # Spans of inline modules (`mod x { .. }`): `super::` inside them is one level less.
    inline = []
    for m in re.finditer(r"\bmod\s+\w+\s*\{", raw):
        d, j = 1, m.end()
        while j < len(raw) and d:
            d += raw[j] == "{"
            d -= raw[j] == "}"
            j += 1
        inline.append((m.start(), j))
    out = set()
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", raw):
        for p in expand(m.group(1)):
            paths.append((m.start(), p))
    for m in re.finditer(r"(?<![\w:])(\$?crate|super|self)((?:::\w+)+)", raw):
        paths.append((m.start(), m.group(1) + m.group(2)))
    for pos, p in paths:
        p = re.sub(r"\bas\w+$", "", p).replace("$crate", "crate")
        segs = [s for s in p.split("::") if s]
        if not segs:
            continue
        depth_in = sum(1 for a, b in inline if a <= pos < b)
        if segs[0] == "crate":
            base, rest = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base = modpath
            ups = 0
            while segs and segs[0] in ("super", "self"):
                ups += segs[0] == "super"
                segs = segs[1:]
            ups -= depth_in
            if ups > 0:
                base = base[:len(base) - ups]
            rest = segs
        else:
            # a path relative to this module: a child module of it
            base, rest = modpath, segs
            if not rest or (base + (rest[0],)) not in mods:
                continue
        full = base + tuple(rest)
        for k in range(len(full), -1, -1):
            if full[:k] in mods:
                target = mods[full[:k]]
                if target != path:
                    out.add(target)
                break
    return out


def cycles(graph):
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return comps


def main():
    bad = 0
    for src in sys.argv[1:]:
        mods = modules(src)
        graph = {path: deps(mp, path, mods) for mp, path in mods.items()}
        comps = cycles(graph)
        edges = sum(len(v) for v in graph.values())
        if comps:
            bad += 1
            for comp in comps:
                print(f"{src}: import circle among {len(comp)} files:")
                for f in comp:
                    inside = sorted(os.path.relpath(t, src) for t in graph[f] if t in comp)
                    print(f"  {os.path.relpath(f, src)} -> {', '.join(inside)}")
        else:
            print(f"{src}: {len(mods)} files, {edges} file-to-file imports, no circle")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
