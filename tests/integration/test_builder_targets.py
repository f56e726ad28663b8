"""Which targets a builder serves (issue 16): KILN_BUILDER_TARGETS names or `auto`.

Named targets are checked at start against the backend's list and the local
Docker engine: a target the backend does not know, an image that is not on the
machine, or an image of another architecture stops the builder with a message
that says how to fix it. `auto` serves every enabled target whose image is
here, keeps running when there is none yet, and picks up a target once its
image appears (the check runs again every KILN_BUILDER_TARGETS_RECHECK
seconds: 30 by default, 3 here).

The images are made without a build: `docker commit` of a created (never
started) container of the base image, with a new org.kiln.arch label.
"""
import json
import os
import secrets
import subprocess
import time

import pytest

from conftest import BUILD, KILNCTL, ROOT, run

BUILDER = BUILD / "builder" / "kiln-builder"
TAG = secrets.token_hex(4)


@pytest.fixture(scope="module")
def base_image():
    run([ROOT / "scripts" / "image.sh", "build"], timeout=1800)
    return run([ROOT / "scripts" / "image.sh", "name"]).stdout.strip()


@pytest.fixture(scope="module")
def make_image(base_image):
    """make_image(ref, arch): ref, a copy of the base image labelled org.kiln.arch=arch."""
    made = []

    def make(ref, arch):
        cid = run(["docker", "create", base_image, "true"]).stdout.strip()
        try:
            run(["docker", "commit", "--change", f"LABEL org.kiln.arch={arch}", cid, ref])
        finally:
            run(["docker", "rm", "-f", cid])
        made.append(ref)
        return ref

    yield make
    for ref in made:
        run(["docker", "rmi", ref], check=False)


@pytest.fixture(scope="module")
def farm(migrated, backend_factory):
    backend = backend_factory(migrated)
    return migrated, backend


def add_target(db, name, image):
    run([KILNCTL, "target", "add", name, "--image", image], env={"KILN_DATABASE_URL": db})


def builder_env(db, backend, name, targets, home):
    out = run([KILNCTL, "builder", "add", name], env={"KILN_DATABASE_URL": db}).stdout
    token = next(w for w in out.split() if w.startswith("kiln_"))
    home.mkdir(exist_ok=True)
    return {**os.environ, "KILN_BACKEND_URL": backend.url.replace("http", "ws"), "KILN_BUILDER_TOKEN": token,
            "KILN_BUILDER_NAME": name, "KILN_BUILDER_TARGETS": targets, "KILN_DATA_DIR": str(home),
            "KILN_LOG": "info"}


def test_named_targets_that_cannot_be_served_stop_the_builder(farm, make_image, tmp_path):
    db, backend = farm
    missing, foreign = f"t-missing-{TAG}", f"t-foreign-{TAG}"
    add_target(db, missing, f"kiln/missing-{TAG}:1")
    add_target(db, foreign, make_image(f"kiln/foreign-{TAG}:1", "aarch64"))
    cases = [
        ("nosuch-target", "target nosuch-target of KILN_BUILDER_TARGETS is not known to the backend: "
                          "add it with `kilnctl target add nosuch-target"),
        (missing, f"image kiln/missing-{TAG}:1 for target {missing} is not on this machine: "
                  f"build it with `just image {missing}`"),
        (foreign, f"image kiln/foreign-{TAG}:1 for target {foreign} is built for aarch64, the target "
                  f"is x86_64: rebuild it with `just image {foreign}`"),
    ]
    for i, (targets, message) in enumerate(cases):
        env = builder_env(db, backend, f"b-named-{i}-{TAG}", targets, tmp_path / str(i))
        p = subprocess.run([str(BUILDER)], env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 1, (targets, p.returncode, p.stderr)
        assert message in p.stderr, (targets, p.stderr)
        assert '"connected"' not in p.stderr


def test_auto_serves_a_target_once_its_image_appears(farm, make_image, tmp_path):
    db, backend = farm
    first, second = f"t-auto-a-{TAG}", f"t-auto-b-{TAG}"
    add_target(db, first, f"kiln/auto-a-{TAG}:1")
    add_target(db, second, f"kiln/auto-b-{TAG}:1")
    name = f"b-auto-{TAG}"
    env = {**builder_env(db, backend, name, "auto", tmp_path), "KILN_BUILDER_TARGETS_RECHECK": "3"}
    log_path = tmp_path / "builder.log"
    proc = subprocess.Popen([str(BUILDER)], env=env, stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))

    def served():
        status, _, body = backend.get("/api/v1/builders")
        assert status == 200
        for b in json.loads(body)["builders"]:
            if b["name"] == name and b["online"]:
                return set(b["capabilities"].get("targets", []))
        return None

    def wait(cond, what, timeout=75):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert proc.poll() is None, log_path.read_text()
            if cond():
                return
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}\n{log_path.read_text()}")

    try:
        # No image yet: the builder says so, keeps running, and does not connect.
        wait(lambda: "no target to serve yet" in log_path.read_text(), "the builder to say it has nothing")
        log = log_path.read_text()
        assert f"target={first}" in log and "is not on this machine" in log, log
        time.sleep(2)
        assert proc.poll() is None and served() is None
        # The first image appears: served from the next check on.
        make_image(f"kiln/auto-a-{TAG}:1", "x86_64")
        wait(lambda: served() == {first}, f"{first} to be served")
        # The second one too: the builder tells the backend, by a new hello.
        make_image(f"kiln/auto-b-{TAG}:1", "x86_64")
        wait(lambda: served() == {first, second}, f"{first} and {second} to be served")
        assert "targets changed: connecting again to say so" in log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(60)
    assert proc.returncode == 0, log_path.read_text()


def test_emulation_without_a_binfmt_handler_is_refused(tmp_path):
    """KILN_BUILDER_EMULATE names an arch the kernel cannot run: refuse to start, say how to fix it."""
    def enabled(arch):
        path = f"/proc/sys/fs/binfmt_misc/qemu-{arch}"
        return os.path.exists(path) and open(path).readline().strip() == "enabled"
    arch = next((a for a in ("s390x", "ppc64le", "riscv64", "mips64el") if not enabled(a)), None)
    if arch is None:
        pytest.skip("this machine emulates every architecture tried")
    env = {**os.environ, "KILN_BACKEND_URL": "ws://127.0.0.1:9", "KILN_BUILDER_TOKEN": "kiln_" + "A" * 43,
           "KILN_BUILDER_NAME": "b-emulate", "KILN_BUILDER_EMULATE": arch, "KILN_DATA_DIR": str(tmp_path)}
    p = subprocess.run([str(BUILDER)], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, p.stderr
    assert f"KILN_BUILDER_EMULATE names {arch}, but no binfmt handler for it is registered" in p.stderr, p.stderr
    assert "scripts/emulation.sh enable" in p.stderr
