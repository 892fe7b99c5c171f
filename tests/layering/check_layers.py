#!/usr/bin/env python3
"""The controller's layers hold in the built objects (issue: no file loops).

Reads the symbol tables of the controller's static libraries with nm and
checks two things a reader of controller/CMakeLists.txt is promised:

1. no file loop: no two source files of the controller call each other,
   directly or around a cycle (file A uses a symbol file B defines, ...);
2. every library uses only libraries above it in LAYERS (the order written
   in controller/CMakeLists.txt and CONTRIBUTING.md).

Usage: check_layers.py BUILD_DIR. Exits 1 naming each loop or each use of
a lower layer, 77 (skipped) when nm is missing.
"""
import collections
import os
import re
import shutil
import subprocess
import sys

# Top to bottom: a library may use those after it, never those before.
LAYERS = ["controller", "ctl_serve", "ctl_calibrate", "ctl_engine",
          "ctl_lapi", "ctl_run", "ctl_board", "ctl_leases", "ctl_lua",
          "ctl_config"]
NM_LINE = re.compile(r"^(.*?):(.*?):\s*[0-9a-f]*\s+(\w)\s+(\S+)$")


def read_symbols(libs):
    defs, uses = {}, collections.defaultdict(set)
    for lib in libs:
        name = os.path.basename(lib)[len("libpl_"):-len(".a")]
        out = subprocess.run(["nm", "-A", lib], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            m = NM_LINE.match(line)
            if not m:
                continue
            _, obj, kind, sym = m.groups()
            node = (name, obj.replace(".c.o", ".c"))
            if kind in "TDBR":
                defs[sym] = node
            elif kind == "U":
                uses[node].add(sym)
    graph = collections.defaultdict(set)
    for node, syms in uses.items():
        for s in syms:
            if s in defs and defs[s] != node:
                graph[node].add((defs[s], s))
    return graph


def loops(graph):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w, _ in graph.get(v, ()):
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
                out.append(sorted(comp))

    sys.setrecursionlimit(100000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    if not shutil.which("nm"):
        print("skipped: nm (binutils) not installed")
        return 77
    build = sys.argv[1]
    libs = []
    for root, _, files in os.walk(os.path.join(build, "controller")):
        libs += [os.path.join(root, f) for f in files
                 if f.startswith("libpl_c") and f.endswith(".a")]
    if not libs:
        print("no controller libraries under", build)
        return 1
    graph = read_symbols(libs)
    bad = 0
    for comp in loops(graph):
        bad += 1
        print("file loop:", " <-> ".join("%s/%s" % c for c in comp))
        for a in comp:
            for b, sym in sorted(graph[a]):
                if b in comp:
                    print("   %s/%s uses %s of %s/%s" % (a + (sym,) + b))
    rank = {name: i for i, name in enumerate(LAYERS)}
    for a, edges in sorted(graph.items()):
        for b, sym in sorted(edges):
            if a[0] == b[0]:
                continue
            if a[0] not in rank or b[0] not in rank:
                print("library not in LAYERS:", a[0] if a[0] not in rank
                      else b[0])
                bad += 1
            elif rank[b[0]] < rank[a[0]]:
                print("layer broken: %s/%s uses %s of %s/%s, a layer above"
                      % (a + (sym,) + b))
                bad += 1
    files = len({n for n in graph} | {b for e in graph.values()
                                      for b, _ in e})
    print("%d libraries, %d files that call each other, %d problems"
          % (len(libs), files, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
