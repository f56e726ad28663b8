"""Kiln's in-sandbox build driver (docs/builds.md, "In the container").

Embedded into kiln-builder at build time (builder/driver/embed.py) and run as
`python3 -I -c SCRIPT --src PATH --round N` in the build container: uid 1000, no
network, the image's Python and tools only. It runs the PEP 517 steps itself so
that the host can fetch what the backend asks for at build time:

  requires  unpack the sdist, make a build venv, install the static
            [build-system] requires, ask get_requires_for_build_wheel, install
            what it names; when that is not in the wheelhouses (round 1), write
            the requirements into the result and exit EXIT_FETCH: the host
            downloads them and runs round 2 on the same /work;
  build     build_wheel;
  repair    auditwheel repair of every platform wheel into /work/out (pure
            wheels are copied); a report per wheel: policy, sonames still needed;
  import    a fresh venv, pip install --no-index --no-deps, compile every .py
            the wheel ships, load its extension modules, import its top-level
            names. Fatal only on evidence the wheel is broken for this Python.

The host reads /work/result.json ({"stage", "reason", "requires", "wheels"}),
rewritten at the start of each stage, so a build killed by the clock or the OOM
killer still tells where it was. Exit codes are the contract with
builder/sandbox.c; everything the project's code prints goes to the log as is.
Standard library plus what the image has (pip's vendored pyproject_hooks and
packaging, /opt/kiln/tools for auditwheel and pyelftools).
"""
import json
import os
import shutil
import subprocess
import sys
import time
import venv

EXIT_OK = 0
EXIT_BUILD = 1      # the backend failed: the project's code
EXIT_REQUIRES = 3   # build requirements could not be installed
EXIT_FETCH = 4      # round 1 only: the host must fetch result["requires"]
EXIT_REPAIR = 5     # auditwheel repair failed
EXIT_IMPORT = 6     # the import check found the wheel broken
EXIT_INTERNAL = 7   # the driver itself failed

RESULT = "/work/result.json"
OUT = "/work/out"
SCRATCH = "/tmp/kiln"
TOOLS = "/opt/kiln/tools"
WHEELHOUSES = ["/opt/kiln/wheels", "/work/job-wheels"]
MAX_REQUIRES = 100
MAX_REQUIRE_LEN = 1000
IMPORT_TIMEOUT_S = 600
PYVER = "%d.%d" % sys.version_info[:2]

# Sonames of glibc itself: every Linux system has them, they are no dependency.
GLIBC_SONAMES = {
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
    "libutil.so.1", "libresolv.so.2", "libnsl.so.1", "libanl.so.1",
    "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libmvec.so.1",
}

result = {"stage": "requires"}


class Failure(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def note(msg):
    print("kiln: " + msg, flush=True)


def save():
    """Best effort: with /work full the exit code alone still tells the host."""
    tmp = RESULT + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(result, f)
        os.replace(tmp, RESULT)
    except OSError as e:
        note("note: could not write %s: %s" % (RESULT, e))


TIMES = []


def stage(name):
    TIMES.append((name, time.monotonic()))
    result["stage"] = name
    save()


def times():
    """"requires 1.2 s, build 3.4 s, ..." up to now."""
    marks = TIMES + [("", time.monotonic())]
    return ", ".join("%s %.1f s" % (marks[i][0], marks[i + 1][1] - marks[i][1])
                     for i in range(len(marks) - 1))


def one_line(s, n=200):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 3] + "..."


def run(argv, env=None, capture=False):
    """Run argv with stdin from /dev/null; the output goes to the log (and back if captured)."""
    sys.stdout.flush()
    if not capture:
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL).returncode, ""
    p = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    text = p.stdout.decode("utf-8", "replace")
    sys.stdout.write(text)
    sys.stdout.flush()
    return p.returncode, text


# --- requires ------------------------------------------------------------------

def unpack(src):
    """The source tree: /work/src itself, or the sdist unpacked under /tmp."""
    if os.path.isdir(src):
        return src
    from pip._internal.utils.unpacking import unpack_file  # pip's own, as pip wheel did

    dest = os.path.join(SCRATCH, "src")
    try:
        unpack_file(src, dest)
    except Exception as e:  # a corrupt archive is the project's
        raise Failure(EXIT_BUILD, "could not unpack the sdist: %s" % one_line(e))
    entries = os.listdir(dest)
    if len(entries) == 1 and os.path.isdir(os.path.join(dest, entries[0])):
        return os.path.join(dest, entries[0])
    return dest


def build_system(tree):
    import tomllib

    default = (["setuptools>=40.8.0", "wheel"], "setuptools.build_meta:__legacy__", None)
    path = os.path.join(tree, "pyproject.toml")
    if not os.path.isfile(path):
        return default
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, ValueError) as e:
        raise Failure(EXIT_REQUIRES, "pyproject.toml: %s" % one_line(e))
    bs = data.get("build-system")
    if bs is None:
        return default
    if not isinstance(bs, dict) or not isinstance(bs.get("requires", []), list):
        raise Failure(EXIT_REQUIRES, "pyproject.toml: bad [build-system] table")
    requires = bs.get("requires", [])
    backend = bs.get("build-backend")
    if backend is None:
        return requires, default[1], None
    backend_path = bs.get("backend-path")
    if not isinstance(backend, str) or not (
            backend_path is None or (isinstance(backend_path, list)
                                     and all(isinstance(p, str) for p in backend_path))):
        raise Failure(EXIT_REQUIRES, "pyproject.toml: bad build-backend or backend-path")
    return requires, backend, backend_path


def make_venv(path):
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(path)
    return os.path.join(path, "bin", "python")


def site_dir(env):
    return os.path.join(env, "lib", "python%s" % PYVER, "site-packages")


def tools_site_dir():
    """The tools venv's site-packages: the venv is the suite's default python3,
    which is not the build's where the target's CPython is another the suite
    ships (forky's 3.15); pyelftools is pure Python, any version reads it."""
    import glob

    found = sorted(glob.glob(os.path.join(TOOLS, "lib", "python3*", "site-packages")))
    return found[-1] if found else site_dir(TOOLS)


def check_requirements(reqs):
    """Requirement strings as the host would accept them (prefetch.c), parsed."""
    from pip._vendor.packaging.requirements import InvalidRequirement, Requirement

    if not isinstance(reqs, list) or len(reqs) > MAX_REQUIRES:
        raise Failure(EXIT_REQUIRES, "the backend asked for more than %d build requirements"
                      % MAX_REQUIRES)
    parsed = []
    for r in reqs:
        if not isinstance(r, str):
            raise Failure(EXIT_REQUIRES, "the backend named a build requirement that is not a string")
        r = r.strip()
        if (not r or len(r) > MAX_REQUIRE_LEN or r.startswith("-")
                or any(not (0x20 <= ord(c) <= 0x7e) for c in r)):
            raise Failure(EXIT_REQUIRES, "unacceptable build requirement %r" % r[:80])
        try:
            q = Requirement(r)
        except InvalidRequirement as e:
            raise Failure(EXIT_REQUIRES, "bad build requirement %r: %s" % (r[:80], one_line(e)))
        if q.url:
            raise Failure(EXIT_REQUIRES, "direct URL build requirements are not supported: %r"
                          % r[:80])
        parsed.append((r, q))
    return parsed


def unsatisfied(env, parsed):
    """The requirements that the build venv does not meet yet (markers applied)."""
    import importlib.metadata as md

    have = {}
    for d in md.distributions(path=[site_dir(env)]):
        name = (d.metadata["Name"] or "").lower().replace("_", "-").replace(".", "-")
        have[name] = d.version
    out = []
    for r, q in parsed:
        if q.marker is not None and not q.marker.evaluate({"extra": ""}):
            continue
        key = q.name.lower().replace("_", "-").replace(".", "-")
        if key in have and (not q.specifier or q.specifier.contains(have[key], prereleases=True)):
            continue
        out.append(r)
    return out


def pip_install(python, args):
    argv = [sys.executable, "-m", "pip", "--python", python, "install", "--no-index",
            "--no-warn-script-location", "--progress-bar", "off", "--disable-pip-version-check"]
    for w in WHEELHOUSES:
        argv += ["--find-links", w]
    rc, _ = run(argv + args)
    return rc


def requires(tree, round_no):
    static, backend, backend_path = build_system(tree)
    env = os.path.join(SCRATCH, "build-env")
    python = make_venv(env)
    parsed = check_requirements(static)
    need = [r for r, _ in parsed]
    if backend.startswith("setuptools.build_meta") and not any(
            q.name.lower() == "wheel" for _, q in parsed):
        # What setuptools' get_requires_for_build_wheel answers (before 70.1):
        # installed now, it saves a second pip run in the common case.
        need.append("wheel")
    if need:
        note("installing build requirements: %s" % ", ".join(need))
        if pip_install(python, ["--"] + need):
            raise Failure(EXIT_REQUIRES, "could not install the build requirements (%s)"
                          % one_line(", ".join(need), 120))

    from pip._vendor.pyproject_hooks import (BackendUnavailable, BuildBackendHookCaller,
                                             HookMissing)

    env_vars = {"PATH": os.path.join(env, "bin") + os.pathsep + os.environ.get("PATH", ""),
                "VIRTUAL_ENV": env}

    def runner(cmd, cwd=None, extra_environ=None):
        e = dict(os.environ)
        e.update(env_vars)
        if extra_environ:
            e.update(extra_environ)
        sys.stdout.flush()
        subprocess.check_call(cmd, cwd=cwd, env=e, stdin=subprocess.DEVNULL)

    hooks = BuildBackendHookCaller(tree, backend, backend_path=backend_path, runner=runner,
                                   python_executable=python)
    note("asking %s for its build requirements (get_requires_for_build_wheel)" % backend)
    stage("build")  # the project's code runs: a kill here is the build's
    try:
        dynamic = hooks.get_requires_for_build_wheel()
    except BackendUnavailable as e:
        raise Failure(EXIT_REQUIRES, "the build backend %s is not importable%s" % (
            backend, ": " + one_line(e.traceback.strip().splitlines()[-1]) if getattr(
                e, "traceback", "") else ""))
    except HookMissing:
        dynamic = []
    except subprocess.CalledProcessError as e:
        raise Failure(EXIT_BUILD, "build failed with exit code 1") from e
    stage("requires")
    missing = unsatisfied(env, check_requirements(dynamic))
    if missing:
        note("the backend asks for: %s" % ", ".join(missing))
        if pip_install(python, ["--"] + missing):
            if round_no == 1:
                note("not in the sandbox's wheelhouses: the host fetches them, then the "
                     "build goes on")
                result["requires"] = missing
                raise Failure(EXIT_FETCH, "")
            raise Failure(EXIT_REQUIRES, "could not install the build requirements named by "
                          "the backend (%s)" % one_line(", ".join(missing), 120))
    return hooks


# --- reproducibility -------------------------------------------------------------

def sdist_epoch(src):
    """The newest mtime among the sdist's members (docs/builds.md, "Reproducible
    builds"): a property of the file itself, the same on every builder."""
    import tarfile
    import zipfile

    try:
        if zipfile.is_zipfile(src):
            import calendar
            with zipfile.ZipFile(src) as z:
                return max((calendar.timegm(i.date_time + (0, 0, -1)) for i in z.infolist()),
                           default=0)
        with tarfile.open(src) as t:
            return max((int(m.mtime) for m in t.getmembers()), default=0)
    except (OSError, ValueError, tarfile.TarError, zipfile.BadZipFile, OverflowError):
        return 0  # unpack() says what is wrong with it


def tree_epoch(tree):
    """A source tree handed over without a commit time: its newest file."""
    newest = 0
    for root, dirs, files in os.walk(tree):
        dirs[:] = [d for d in dirs if d != ".git"]
        for f in files:
            try:
                newest = max(newest, int(os.lstat(os.path.join(root, f)).st_mtime))
            except OSError:
                pass
    return newest


def normalize(src, tree):
    """SOURCE_DATE_EPOCH for everything the build runs: the host's (a git
    commit's time) when it gave one, else the sdist's or the tree's. The other
    normalizations are the container's (builder/sandbox.c) and main()'s umask."""
    given = os.environ.get("SOURCE_DATE_EPOCH", "")
    if given.isdigit() and int(given) > 0:
        epoch = int(given)
    else:
        epoch = sdist_epoch(src) if not os.path.isdir(src) else tree_epoch(tree)
    # Zip stores no date before 1980: wheel and auditwheel refuse such an epoch.
    epoch = max(epoch, 315532800)
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    result["source_date_epoch"] = epoch  # the host reports it (provenance)
    note("SOURCE_DATE_EPOCH=%d (%s)" % (epoch, time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                            time.gmtime(epoch))))


# --- build ---------------------------------------------------------------------

def build(hooks):
    dest = os.path.join(SCRATCH, "built")
    os.makedirs(dest, exist_ok=True)
    note("building the wheel (build_wheel)")
    try:
        name = hooks.build_wheel(dest)
    except subprocess.CalledProcessError as e:
        raise Failure(EXIT_BUILD, "build failed with exit code 1") from e
    except Exception as e:  # BackendUnavailable, BackendInvalid, HookMissing
        raise Failure(EXIT_BUILD, "build failed: %s" % one_line(type(e).__name__))
    path = os.path.join(dest, os.path.basename(str(name)))
    if not name or not path.endswith(".whl") or not os.path.isfile(path):
        raise Failure(EXIT_BUILD, "build produced no wheel")
    return path


# --- repair --------------------------------------------------------------------

def platform_tags(filename):
    return filename[:-4].split("-")[-1].split(".")


def elf_needed(wheel):
    """Sonames the wheel's ELF files need and neither the wheel nor glibc provides."""
    import zipfile

    sys.path.insert(0, tools_site_dir())
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    needed, provided = set(), set()
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.is_dir() or info.file_size < 64:
                continue
            with z.open(info) as f:
                if f.read(4) != b"\x7fELF":
                    continue
            provided.add(os.path.basename(info.filename))
            import io
            try:
                elf = ELFFile(io.BytesIO(z.read(info)))
                for sec in elf.iter_sections():
                    if isinstance(sec, DynamicSection):
                        for tag in sec.iter_tags():
                            if tag.entry.d_tag == "DT_NEEDED":
                                needed.add(tag.needed)
                            elif tag.entry.d_tag == "DT_SONAME":
                                provided.add(tag.soname)
            except Exception as e:
                note("note: could not read %s: %s" % (info.filename, one_line(e)))
    return sorted(n for n in needed - provided if n not in GLIBC_SONAMES)[:64]


def repair(built):
    os.makedirs(OUT, exist_ok=True)
    name = os.path.basename(built)
    if "any" in platform_tags(name):
        shutil.copy(built, os.path.join(OUT, name))
        result["wheels"] = [{"filename": name, "policy": "", "needed": []}]
        return [os.path.join(OUT, name)]
    dest = os.path.join(SCRATCH, "repaired")
    os.makedirs(dest, exist_ok=True)
    auditwheel = os.path.join(TOOLS, "bin", "auditwheel")
    if not os.access(auditwheel, os.X_OK):
        # Not the project's fault: the image predates the builder.
        raise Failure(EXIT_INTERNAL, "the image has no %s (rebuild it: scripts/image.sh build)"
                      % auditwheel)
    note("auditwheel repair %s" % name)
    rc, text = run([auditwheel, "repair", "--plat", "auto",
                    "-w", dest, built], capture=True)
    if rc:
        if "does not look like a platform wheel" in text:
            note("note: %s holds no ELF file: published as it is" % name)
            shutil.copy(built, os.path.join(OUT, name))
            result["wheels"] = [{"filename": name, "policy": "", "needed": []}]
            return [os.path.join(OUT, name)]
        why = [ln for ln in text.splitlines() if "cannot repair" in ln or "Error" in ln]
        raise Failure(EXIT_REPAIR, "auditwheel repair failed: %s" % one_line(
            why[-1] if why else "exit code %d" % rc, 180))
    out = sorted(f for f in os.listdir(dest) if f.endswith(".whl"))
    if len(out) != 1:
        raise Failure(EXIT_REPAIR, "auditwheel repair left %d wheels" % len(out))
    repaired = os.path.join(dest, out[0])
    policy = next((t for t in platform_tags(out[0]) if t.startswith("manylinux_")),
                  platform_tags(out[0])[0])
    needed = elf_needed(repaired)
    shutil.move(repaired, os.path.join(OUT, out[0]))
    note("repaired: %s (policy %s%s)" % (out[0], policy,
                                          ", needs " + " ".join(needed) if needed else ""))
    result["wheels"] = [{"filename": out[0], "policy": policy[:63], "needed": needed}]
    return [os.path.join(OUT, out[0])]


# --- import check ----------------------------------------------------------------

# Run by the check venv's python: argv[1] = its site-packages, argv[2] = where the verdict goes.
CHECK = r'''
import importlib, importlib.machinery, importlib.util, json, os, re, sys
site, verdict_path = sys.argv[1], sys.argv[2]
LOADER = re.compile(r"cannot open shared object file|undefined symbol|wrong ELF class|"
                    r"version `[A-Z_]+[0-9.]*' not found|invalid ELF header|file too short|"
                    r"symbol lookup error|cannot enable executable stack|ELF load command|"
                    r"no version information available|unsupported version .* of Verneed")
fatal = []
def note(msg):
    print("kiln: note: " + " ".join(str(msg).split())[:400], flush=True)
def rel(p):
    return os.path.relpath(p, site)
files = []
for d in sorted(os.listdir(site)):
    if d.endswith(".dist-info") and os.path.isfile(os.path.join(site, d, "RECORD")):
        with open(os.path.join(site, d, "RECORD"), encoding="utf-8", errors="replace") as f:
            for line in f:
                p = line.rsplit(",", 2)[0].strip().strip('"')
                if p:
                    files.append(p)
# 1. every .py it ships must compile
for p in files:
    full = os.path.normpath(os.path.join(site, p))
    if not p.endswith(".py") or not os.path.isfile(full):
        continue
    with open(full, "rb") as f:
        src = f.read()
    try:
        compile(src, full, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        line = getattr(e, "lineno", None)
        fatal.append("%s%s: %s: %s" % (p, " line %s" % line if line else "", type(e).__name__,
                                       getattr(e, "msg", None) or e))
        if len(fatal) >= 3:
            break
def judge(what, e):
    text = "%s: %s" % (type(e).__name__, e)
    if isinstance(e, ImportError) and not isinstance(e, ModuleNotFoundError) and LOADER.search(str(e)):
        fatal.append("%s: %s" % (what, e))
    elif isinstance(e, SyntaxError) and str(getattr(e, "filename", "") or "").startswith(site):
        fatal.append("%s: %s" % (what, text))
    else:
        note("importing %s: %s (not counted against the wheel)" % (what, text))
if not fatal:
    exts, tops = [], set()
    suffixes = sorted(importlib.machinery.EXTENSION_SUFFIXES, key=len, reverse=True)
    for p in files:
        parts = p.split("/")
        if parts[0].endswith((".dist-info", ".data")) or parts[0] == "..":
            continue
        for s in suffixes:
            if p.endswith(s):
                mod = p[: -len(s)].split("/")
                if all(m.isidentifier() for m in mod):
                    exts.append((".".join(mod), os.path.join(site, p)))
                break
        first = parts[0]
        if len(parts) == 1:
            first = first.split(".")[0] if first.endswith(".py") or any(
                first.endswith(s) for s in suffixes) else ""
        if first.isidentifier() and first != "__pycache__":
            tops.add(first)
    # 2. the top-level names
    for name in sorted(tops):
        try:
            importlib.import_module(name)
        except BaseException as e:
            judge(name, e)
    # 3. every extension module loads (the ones an import above did not load yet)
    for name, path in exts:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            mod = importlib.util.module_from_spec(spec)
            sys.modules[name] = mod
            spec.loader.exec_module(mod)
        except BaseException as e:
            sys.modules.pop(name, None)
            judge(name, e)
    print("kiln: import check: %d top-level name(s), %d extension module(s)" % (len(tops), len(exts)), flush=True)
with open(verdict_path, "w") as f:
    json.dump({"fatal": fatal[:3]}, f)
'''


def import_check(wheels):
    env = os.path.join(SCRATCH, "check-env")
    python = make_venv(env)
    note("import check: pip install --no-index --no-deps into a fresh venv")
    argv = [sys.executable, "-m", "pip", "--python", python, "install", "--no-index",
            "--no-deps", "--no-compile", "--no-warn-script-location", "--progress-bar", "off",
            "--disable-pip-version-check", "--"] + wheels
    rc, text = run(argv, capture=True)
    if rc:
        why = [ln for ln in text.splitlines() if "ERROR" in ln]
        raise Failure(EXIT_IMPORT, "does not import on CPython %s: pip could not install it%s" % (
            PYVER, ": " + one_line(why[0], 150) if why else ""))
    verdict = os.path.join(SCRATCH, "verdict.json")
    empty = os.path.join(SCRATCH, "check-cwd")
    os.makedirs(empty, exist_ok=True)
    try:
        # -I: neither the working directory nor PYTHON* variables lend the
        # imports anything the wheel does not have.
        p = subprocess.run([python, "-I", "-c", CHECK, site_dir(env), verdict], cwd=empty,
                           stdin=subprocess.DEVNULL, timeout=IMPORT_TIMEOUT_S)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        note("note: the import check did not finish in %d s; not counted against the wheel"
             % IMPORT_TIMEOUT_S)
        return
    try:
        with open(verdict, encoding="utf-8") as f:
            fatal = json.load(f)["fatal"]
    except (OSError, ValueError, KeyError):
        note("note: the import check stopped early (exit code %d); not counted against the "
             "wheel" % rc)
        return
    if fatal:
        for f in fatal:
            note("import check: %s" % f)
        raise Failure(EXIT_IMPORT, "does not import on CPython %s: %s" % (PYVER, one_line(fatal[0])))
    note("import check passed")


def main(argv):
    src, round_no = None, 1
    for i in range(1, len(argv) - 1, 2):
        if argv[i] == "--src":
            src = argv[i + 1]
        elif argv[i] == "--round":
            round_no = int(argv[i + 1])
    if not src:
        print("usage: build.py --src PATH [--round N]", file=sys.stderr)
        return EXIT_INTERNAL
    os.umask(0o022)  # files the build creates get the same modes everywhere
    os.makedirs(SCRATCH, exist_ok=True)
    try:
        stage("requires")
        tree = unpack(src)
        normalize(src, tree)
        hooks = requires(tree, round_no)
        stage("build")
        built = build(hooks)
        stage("repair")
        wheels = repair(built)
        stage("import")
        import_check(wheels)
        note("times: " + times())
        result["stage"] = "none"
        save()
        return EXIT_OK
    except Failure as f:
        note("times: " + times())
        if f.reason:
            result["reason"] = f.reason  # the host logs it
        save()
        return f.code
    except Exception:
        # A bug of the driver's, not a verdict on the project.
        import traceback
        traceback.print_exc()
        result["reason"] = ""
        save()
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main(sys.argv))
