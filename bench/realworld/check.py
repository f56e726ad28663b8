#!/usr/bin/env python3
"""For each project of a list: its newest release on the upstream index, whether
that release has an sdist, and whether it has a wheel a target could install
(cp311/abi3/py3-none-any for linux x86_64 with glibc <= 2.36). Prints one line a
project: NAME VERSION sdist=yes|no wheel=yes|no (the wheel's name).

usage: check.py UPSTREAM_SIMPLE_URL LIST_FILE
"""
import json, re, sys, urllib.request

GLIBC = (2, 36)


def page(base, name):
    req = urllib.request.Request(base.rstrip("/") + "/" + name + "/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def vkey(v):
    # Good enough for choosing the newest final release: numeric parts only;
    # pre-releases are skipped by the caller.
    return tuple(int(x) for x in re.findall(r"\d+", v.split("+")[0])[:6])


def installable(fn):
    m = re.match(r"^(.+?)-(.+?)(-\d[^-]*)?-([^-]+)-([^-]+)-([^-]+)\.whl$", fn)
    if not m:
        return False
    py, abi, plat = m.group(4), m.group(5), m.group(6)
    pys = py.split(".")
    if plat == "any":
        return any(p in ("py3", "py2.py3", "cp311") or p.startswith("py3") for p in pys)
    ok_py = "cp311" in pys or (abi == "abi3" and any(
        p.startswith("cp3") and int(p[3:] or 0) <= 11 for p in pys))
    if not ok_py:
        return False
    for p in plat.split("."):
        if p in ("manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64"):
            return True
        mm = re.match(r"manylinux_(\d+)_(\d+)_x86_64$", p)
        if mm and (int(mm[1]), int(mm[2])) <= GLIBC:
            return True
    return False


def main():
    base, listfile = sys.argv[1], sys.argv[2]
    for line in open(listfile):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = line.split()[0]
        try:
            d = page(base, name)
        except Exception as e:
            print(f"{name} ERROR {e}")
            continue
        rel = {}
        for f in d["files"]:
            fn = f["filename"]
            if f.get("yanked"):
                continue
            m = re.match(r"^(.+)-([^-]+?)(\.tar\.gz|\.zip|\.tar\.bz2)$", fn)
            if m:
                v = m[2]
            else:
                parts = fn.split("-")
                if not fn.endswith(".whl") or len(parts) < 5:
                    continue
                v = parts[1]
            if re.search(r"(a|b|rc|dev)\d*$", v):
                continue
            rel.setdefault(v, []).append(fn)
        if not rel:
            print(f"{name} NONE")
            continue
        v = max(rel, key=vkey)
        fs = rel[v]
        sd = any(not x.endswith(".whl") for x in fs)
        wh = [x for x in fs if x.endswith(".whl") and installable(x)]
        print(f"{name} {v} sdist={'yes' if sd else 'no'} wheel={'yes ' + wh[0] if wh else 'no'}")


main()
