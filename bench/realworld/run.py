#!/usr/bin/env python3
"""bench/realworld: real projects through a private local farm.

usage: bench/realworld/run.py [LIST_FILE] [--target NAME] [--timeout SECONDS] [--keep]
                              [--no-install] [--repro] [--markdown FILE]

Starts a farm of its own with scripts/up.sh (its own data dir, ports and builder
name, so it runs beside `just up` and the tests), mirroring only the projects of
LIST_FILE (default bench/realworld/projects.txt) from the upstream `just up`
would use (KILN_UPSTREAM_URL, else pip's index). The farm registers and serves
one target, --target NAME (a target of this machine's architecture in
builder/targets.txt; default: the default target, its first line), its image
built first if missing (KILN_UP_TARGETS=NAME). It builds each project's newest
release first: the jobs of older releases are cancelled as soon as the sync has
planned them. Then it waits until every newest release has a final state on
that target, installs each built wheel from the farm's index (the project's
dependencies from the upstream) and imports the module the list names, where
the wheel's Python is:

  - in a fresh venv of the host's Debian python3 when that is the target's
    CPython and architecture and its glibc is no older than the target's (the
    default target bookworm-py311-x86_64 on a bookworm host);
  - else in a container of the target's image (docker run --network host), in a
    fresh venv of the image's python3; pip there trusts the CA bundle the host's
    pip is told to (PIP_CERT, pip.conf's cert, SSL_CERT_FILE), if any.

It prints:

  - one line a project: state, failure class, reason or import result, seconds;
  - built/total and imported/total per category, the failure classes, the target;
  - a Markdown table for docs/performance.md, under a line naming the target
    (--markdown FILE writes it there too).

With --repro the farm checks every build it publishes (KILN_REPRO=all: built
again and compared byte for byte; docs/builds.md "Reproducibility checks"), and
the run waits for those results and prints the share of reproducible wheels and,
for the others, the zip members that differ. The farm has one builder here, so
a check is the same machine in another container at another time.

The farm is stopped at the end (its data stays in .kiln/bench-realworld unless
the next run starts it anew; --keep leaves it running).
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from ports import free_port, pick_s3_port  # noqa: E402

FINAL = {"built", "failed", "skipped"}
CA_IN_CONTAINER = "/etc/kiln-host-ca.pem"


def read_targets():
    """The targets of scripts/image.sh list (builder/targets.txt), in order:
    name -> {name, suite, python, arch, glibc, image}."""
    out = subprocess.run([str(ROOT / "scripts" / "image.sh"), "list"], check=True,
                         text=True, capture_output=True).stdout
    targets = {}
    for line in out.splitlines():
        name, suite, python, arch, glibc, _recipe, image = line.split()
        targets[name] = {"name": name, "suite": suite, "python": python, "arch": arch,
                         "glibc": glibc, "image": image}
    return targets


def read_list(path):
    rows = []
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) < 2:
            sys.exit(f"realworld: bad line in {path}: {line!r} (want: project category [module])")
        rows.append({"project": parts[0], "category": parts[1],
                     "module": parts[2] if len(parts) > 2 and parts[2] != "-" else None})
    return rows


class Farm:
    def __init__(self, data_dir, target):
        self.data = data_dir
        self.port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "KILN_DATA_DIR": str(data_dir),
            "KILN_HTTP_LISTEN": f"127.0.0.1:{self.port}",
            "KILN_PG_PORT": str(free_port()),
            "KILN_S3_PORT": str(pick_s3_port()),
            "KILN_BUILDER_NAME": "bench-realworld",
            "KILN_UP_WAIT": "0",
            # One target: the others' images would build in the background and
            # their backfill take builder time from the one measured here.
            "KILN_UP_TARGETS": target,
        })
        self.url = f"http://127.0.0.1:{self.port}"

    def script(self, *args, check=True):
        return subprocess.run([str(ROOT / "scripts" / "up.sh"), *args], env=self.env,
                              check=check, text=True, capture_output=True)

    def get(self, path, token=None):
        req = urllib.request.Request(self.url + path)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def post(self, path, body, token):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     method="POST")
        req.add_header("Authorization", "Bearer " + token)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)


def project_state(farm, name, target):
    """(newest version or None, its cell on target or None)."""
    try:
        p = farm.get("/api/v1/projects/" + urllib.parse.quote(name))
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None, None
        raise
    v = p.get("latest_version")  # newest final, non-yanked, by PEP 440
    if not v:
        return None, None
    r = farm.get(f"/api/v1/projects/{urllib.parse.quote(name)}/releases/{urllib.parse.quote(v)}")
    for c in r["cells"]:
        if c["target"] == target:
            # Failed while waiting for a build requirement the farm is building
            # (docs/builds.md): it goes again when that is built, so not final yet.
            if c["status"] == "failed" and any(
                    j.get("waits_for") and j["target"] == target and j.get("kind") == "build"
                    for j in r.get("jobs") or []):
                c = dict(c, status="waiting")
            return v, c
    return v, None


def cancel_older(farm, name, keep_version, token):
    """Cancel the live jobs of every release but the newest; how many went."""
    n, jobs, cursor = 0, [], None
    while True:
        path = f"/api/v1/queue?project={urllib.parse.quote(name)}&limit=200"
        q = farm.get(path + (f"&cursor={cursor}" if cursor else ""))
        jobs += q["jobs"]
        cursor = q.get("next_cursor")
        if not cursor:
            break
    for j in jobs:
        if j["version"] == keep_version:
            continue
        try:
            farm.post(f"/api/v1/admin/jobs/{j['id']}/cancel",
                      {"reason": "bench/realworld builds the newest release only"}, token)
            n += 1
        except urllib.error.HTTPError:
            pass  # it finished meanwhile
    return n


def failure_of(farm, cell):
    """(class, reason) of a failed cell, from its build when the API has one."""
    cls, reason = None, cell.get("reason")
    if cell.get("build_id"):
        try:
            b = farm.get(f"/api/v1/builds/{cell['build_id']}")
            cls = b.get("failure_class")
            reason = b.get("failure_reason") or reason
            miss = b.get("missing") or []
            if miss:
                reason = (reason or "") + " [missing: " + ", ".join(
                    f"{m.get('name')}->{m.get('package') or '?'}" for m in miss) + "]"
        except urllib.error.HTTPError:
            pass
    return cls or "unclassified", reason


def install_and_import(farm, upstream, row, version, venv_root):
    """pip install the project's wheel from the farm (dependencies from upstream)
    into a fresh venv of the host's Debian python3, then import its module."""
    venv = venv_root / row["project"]
    shutil.rmtree(venv, ignore_errors=True)
    py = shutil.which("python3", path="/usr/bin") or "python3"
    r = subprocess.run([py, "-m", "venv", str(venv)], capture_output=True, text=True)
    if r.returncode:
        return False, "venv: " + r.stderr.strip()[-200:]
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check", "--index-url", farm.url + "/simple/",
           "--extra-index-url", upstream, "--only-binary", row["project"],
           f"{row['project']}=={version}"]
    r = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    if r.returncode:
        return False, "pip: " + (r.stderr.strip().splitlines() or ["?"])[-1][:200]
    if not row["module"]:
        return True, "installed (no import: " + "see the list" + ")"
    r = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {row['module']}"],
                       capture_output=True, text=True, timeout=120, cwd="/")
    if r.returncode:
        return False, "import: " + (r.stderr.strip().splitlines() or ["?"])[-1][:200]
    return True, f"import {row['module']}: ok"


def host_runs(target):
    """Does the host's Debian python3 run target's wheels: its CPython, its
    architecture, a glibc no older than the target's?"""
    py = shutil.which("python3", path="/usr/bin")
    if not py:
        return False
    r = subprocess.run([py, "-c", "import os, platform, sys; print('%d.%d' % sys.version_info[:2],"
                        " platform.machine(), os.confstr('CS_GNU_LIBC_VERSION').split()[-1])"],
                       capture_output=True, text=True)
    if r.returncode:
        return False
    version, arch, glibc = r.stdout.split()
    return (version == target["python"] and arch == target["arch"] and
            tuple(map(int, glibc.split("."))) >= tuple(map(int, target["glibc"].split("."))))


def host_ca():
    """The CA bundle the host's pip is told to trust (PIP_CERT, pip.conf's cert,
    else SSL_CERT_FILE), or None. A container's pip gets it too: an upstream the
    host reaches through a CA of its own answers there as well (the image's
    store is Debian's)."""
    f = os.environ.get("PIP_CERT")
    if not f:
        r = subprocess.run(["python3", "-m", "pip", "config", "list"], capture_output=True, text=True)
        m = re.search(r"^(?:install|global)\.cert='(.*)'$", r.stdout, re.M)
        f = m.group(1) if m else None
    f = f or os.environ.get("SSL_CERT_FILE")
    return os.path.realpath(f) if f and os.path.isfile(f) else None


def install_in_image(farm, upstream, row, version, image, ca):
    """install_and_import in a container of the target's image: a fresh venv of
    its python3 (the image has python3-venv and pip), without the image's
    offline pip.conf; the exit status says which step failed."""
    script = ('python3 -m venv /tmp/v || exit 10\n'
              '/tmp/v/bin/python -m pip install -q --disable-pip-version-check --index-url "$FARM"'
              ' --extra-index-url "$UPSTREAM" --only-binary "$PROJECT" "$PROJECT==$VERSION" || exit 11\n'
              '[ -z "$MODULE" ] || { cd / && /tmp/v/bin/python -c "import $MODULE"; } || exit 12\n')
    name = f"bench-realworld-install-{os.getpid()}-{row['project']}"
    cmd = ["docker", "run", "--rm", "--name", name, "--network", "host",
           "-e", "PIP_CONFIG_FILE=/dev/null", "-e", "FARM=" + farm.url + "/simple/",
           "-e", "UPSTREAM=" + upstream, "-e", "PROJECT=" + row["project"],
           "-e", "VERSION=" + version, "-e", "MODULE=" + (row["module"] or "")]
    if ca:
        cmd += ["-v", f"{ca}:{CA_IN_CONTAINER}:ro", "-e", "PIP_CERT=" + CA_IN_CONTAINER]
    for v in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        if v in os.environ:
            cmd += ["-e", v]  # the host's value: the upstream as the host's pip reaches it
    try:
        r = subprocess.run(cmd + [image, "sh", "-uc", script], capture_output=True, text=True,
                           timeout=720)
    except subprocess.TimeoutExpired:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        return False, "docker: no result after 720 s"
    if r.returncode:
        step = {10: "venv", 11: "pip", 12: "import"}.get(r.returncode, "docker")
        return False, step + ": " + (r.stderr.strip().splitlines() or ["?"])[-1][:200]
    if not row["module"]:
        return True, "installed (no import: " + "see the list" + ")"
    return True, f"import {row['module']}: ok"


def wait_repro(farm, build_id, deadline):
    """The reproducibility result of a build once its check has ended:
    ("reproducible" | "differs" | "failed", differing members), or ("none", why)."""
    while True:
        try:
            b = farm.get(f"/api/v1/builds/{build_id}")
        except (urllib.error.URLError, OSError):
            b = {}
        r = b.get("reproducibility")
        if r:
            members = [f"{m.get('member')} ({m.get('what')})" for w in r.get("wheels") or []
                       for m in w.get("members") or [] if m.get("member") is not None]
            return r["result"], members
        if not b.get("reproducibility_pending") and b:
            return "none", "no check was queued"
        if time.time() > deadline:
            return "none", "no result before the deadline"
        time.sleep(5)


def report_repro(results):
    checked = [r for r in results if r.get("repro") and r["repro"][0] != "none"]
    same = [r for r in checked if r["repro"][0] == "reproducible"]
    print(f"realworld: reproducible {len(same)}/{len(checked)} checked wheels "
          f"({100.0 * len(same) / max(len(checked), 1):.0f}%)")
    for r in checked:
        if r["repro"][0] != "reproducible":
            print(f"  {r['project']:<16} {r['repro'][0]}: {', '.join(r['repro'][1][:6])}")
    for r in results:
        if r.get("repro") and r["repro"][0] == "none":
            print(f"  {r['project']:<16} not checked: {r['repro'][1]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("list", nargs="?", default=str(ROOT / "bench" / "realworld" / "projects.txt"))
    ap.add_argument("--target", help="the target to build for and install on (builder/targets.txt;"
                    " default: the default target)")
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--keep", action="store_true", help="leave the farm running")
    ap.add_argument("--no-install", action="store_true", help="skip the pip install + import")
    ap.add_argument("--markdown", help="also write the Markdown table to this file")
    ap.add_argument("--repro", action="store_true",
                    help="check every build's reproducibility (KILN_REPRO=all) and report the share")
    a = ap.parse_args()

    rows = read_list(a.list)
    targets = read_targets()
    here = [t for t in targets.values() if t["arch"] == platform.machine()]
    if not here:
        sys.exit(f"realworld: no {platform.machine()} target in builder/targets.txt")
    if a.target and a.target not in [t["name"] for t in here]:
        sys.exit(f"realworld: no target {a.target!r} of this machine's architecture "
                 f"({platform.machine()}); the targets are: " + ", ".join(t["name"] for t in here))
    target = targets[a.target] if a.target else here[0]
    on_host = host_runs(target)
    ca = None if on_host else host_ca()
    data = ROOT / ".kiln" / "bench-realworld"
    farm = Farm(data, target["name"])
    farm.script("down", check=False)
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    farm.env["KILN_SYNC_PROJECTS"] = ",".join(r["project"] for r in rows)
    if a.repro:
        farm.env["KILN_REPRO"] = "all"
    up = farm.script("upstream")
    upstream = up.stdout.split()[0]
    if not upstream.startswith("http"):
        sys.exit("realworld: no upstream index answers here (scripts/up.sh upstream: "
                 + up.stdout.strip() + ")")
    print(f"realworld: {len(rows)} projects from {upstream}, farm at {farm.url}, target "
          f"{target['name']} (CPython {target['python']}, {target['suite']}, {target['arch']})",
          flush=True)
    if not a.no_install:
        print("realworld: wheels installed " + (
            "in venvs of the host's python3" if on_host else
            f"in containers of {target['image']}" + (f" (pip trusts {ca})" if ca else "")), flush=True)
    if subprocess.run(["docker", "image", "inspect", target["image"]],
                      capture_output=True).returncode:
        print(f"realworld: {target['image']} is not built yet: scripts/up.sh builds it first "
              "(several minutes)", flush=True)
    t0 = time.time()
    r = farm.script("up", check=False)
    if r.returncode:
        sys.exit("realworld: scripts/up.sh up failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
    token = (data / "tokens" / "admin").read_text().strip()

    state = {r["project"]: {"version": None, "cell": None, "t": None, "cancelled": 0}
             for r in rows}
    deadline = time.time() + a.timeout
    last = ""
    try:
        while time.time() < deadline:
            for row in rows:
                s = state[row["project"]]
                if s["cell"] and s["cell"]["status"] in FINAL:
                    continue
                try:
                    v, cell = project_state(farm, row["project"], target["name"])
                except (urllib.error.URLError, OSError):
                    continue
                if v and s["version"] != v:
                    s["version"] = v
                if v:
                    s["cancelled"] += cancel_older(farm, row["project"], v, token)
                s["cell"] = cell
                if cell and cell["status"] in FINAL and s["t"] is None:
                    s["t"] = time.time() - t0
            done = sum(1 for s in state.values() if s["cell"] and s["cell"]["status"] in FINAL)
            line = f"realworld: {done}/{len(rows)} final after {time.time() - t0:.0f}s"
            if line.split(" after")[0] != last:
                print(line, flush=True)
                last = line.split(" after")[0]
            if done == len(rows):
                break
            time.sleep(5)

        venvs = data / "venvs"
        venvs.mkdir(exist_ok=True)
        results = []
        for row in rows:
            s = state[row["project"]]
            cell = s["cell"] or {"status": "none", "reason": "never planned"}
            res = {"project": row["project"], "category": row["category"], "target": target["name"],
                   "version": s["version"], "status": cell["status"],
                   "seconds": round(s["t"]) if s["t"] else None, "class": None,
                   "detail": cell.get("reason"), "imported": False}
            if cell["status"] == "built":
                if a.no_install:
                    res["imported"] = None
                    res["detail"] = "built"
                else:
                    if on_host:
                        ok, why = install_and_import(farm, upstream, row, s["version"], venvs)
                    else:
                        ok, why = install_in_image(farm, upstream, row, s["version"],
                                                   target["image"], ca)
                    res["imported"], res["detail"] = ok, why
            elif cell["status"] == "failed":
                res["class"], res["detail"] = failure_of(farm, cell)
            if a.repro and cell["status"] == "built" and cell.get("build_id"):
                res["repro"] = wait_repro(farm, cell["build_id"], deadline)
            results.append(res)
            mark = ("ok  " if res["imported"] else "BUILT" if cell["status"] == "built"
                    else "skip" if cell["status"] == "skipped" else "FAIL")
            print(f"  {mark} {row['project']:<16} {row['category']:<13} {s['version'] or '-':<10} "
                  f"{cell['status']:<8} {res['class'] or '':<18} {res['detail'] or ''}", flush=True)
    finally:
        if not a.keep:
            farm.script("down", check=False)

    cats = {}
    classes = {}
    for res in results:
        c = cats.setdefault(res["category"], [0, 0, 0])
        c[0] += 1
        c[1] += res["status"] == "built"
        c[2] += bool(res["imported"])
        if res["class"]:
            classes[res["class"]] = classes.get(res["class"], 0) + 1
    total = [sum(c[i] for c in cats.values()) for i in range(3)]
    print("")
    skipped = sum(res["status"] == "skipped" for res in results)
    for k, (n, b, i) in sorted(cats.items()):
        print(f"realworld: {k:<13} built {b}/{n}, built and imported {i}/{n}")
    print(f"realworld: all           built {total[1]}/{total[0]}, built and imported "
          f"{total[2]}/{total[0]} ({100.0 * total[2] / max(total[0], 1):.0f}%) on {target['name']}")
    if skipped:
        # An upstream wheel serves the target (the list was chosen for cp311):
        # nothing for the farm to build, so not counted against it.
        print(f"realworld: skipped       {skipped} (an upstream wheel serves {target['name']}); "
              f"built and imported {total[2]}/{total[0] - skipped} of the rest "
              f"({100.0 * total[2] / max(total[0] - skipped, 1):.0f}%)")
    if classes:
        print("realworld: failure classes: " + ", ".join(f"{k} {v}" for k, v in
                                                        sorted(classes.items())))
    if a.repro:
        report_repro(results)
    md = [f"Target `{target['name']}` (CPython {target['python']}, {target['suite']}, "
          f"{target['arch']}): built and imported {total[2]}/{total[0]}.", "",
          "| project | category | version | result | class | detail |",
          "|---|---|---|---|---|---|"]
    for res in results:
        outcome = ("built, imports" if res["imported"] else
                   "built" if res["status"] == "built" else res["status"])
        detail = (res["detail"] or "").replace("|", "\\|")
        md.append(f"| {res['project']} | {res['category']} | {res['version'] or '-'} | {outcome} "
                  f"| {res['class'] or ''} | {detail} |")
    (data / "results.json").write_text(json.dumps(results, indent=1))
    if a.markdown:
        Path(a.markdown).write_text("\n".join(md) + "\n")
    print(f"realworld: results in {data / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
