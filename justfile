# Kiln's commands. `just` alone lists them; the README explains the two that
# matter: `just up` and `just test`.
set shell := ["bash", "-euo", "pipefail", "-c"]

kilnctl := "build/release/kilnctl/kilnctl"

# List the recipes
default:
    @just --list --unsorted

# Start the whole farm (Postgres, S3, backend, kiln-sync, a builder) and wait for its first wheel
up: build
    scripts/up.sh up

# Stop what `just up` started (data stays in .kiln/)
down:
    scripts/up.sh down

# Follow the farm's logs (.kiln/logs/, Postgres, SeaweedFS)
logs:
    scripts/up.sh logs

# Build and run every test suite: unit (ASan+UBSan) and integration (pytest)
test:
    tests/run.sh

# Install build dependencies and build the release binaries into build/release
build:
    scripts/deps.sh build
    [ -f build/release/build.ninja ] || meson setup build/release -Doptimization=2 -Ddebug=false -Db_ndebug=true
    ninja -C build/release

# The chaos run: 1,000 jobs through two replicas and three builders while a driver kill -9s their parts (`just chaos SEED=N` replays a run, `JOBS=N` sets the count)
chaos *SETTINGS: build
    scripts/deps.sh test >/dev/null
    .kiln/venv/bin/python tests/chaos/chaos.py {{SETTINGS}}

# Build the test flavour (ASan+UBSan, -O1 -g) into build/test
build-test:
    scripts/deps.sh test
    [ -f build/test/build.ninja ] || meson setup build/test -Db_sanitize=address,undefined -Doptimization=1 -Ddebug=true
    ninja -C build/test

# Run the C unit tests (test flavour)
unit: build-test
    tests/unit/run.sh build/test

# Run the integration tests; extra arguments go to pytest (e.g. -k migrate)
integration *ARGS: build-test
    .kiln/venv/bin/python -m pytest tests/integration {{ARGS}}

# Run the web UI's browser tests (headless Chromium); screenshots land in tests/artifacts/ui/
ui *ARGS: build
    scripts/deps.sh test
    .kiln/venv/bin/python -m pytest tests/integration/test_ui.py tests/integration/test_ui_api.py tests/integration/test_ui_matrix.py tests/integration/test_ui_repro.py {{ARGS}}

# Start the private Postgres cluster under .kiln/pg
db:
    scripts/deps.sh test >/dev/null
    scripts/db.sh start

# Start SeaweedFS (S3 API on loopback) under .kiln/s3
s3:
    scripts/s3.sh start

# Build a target's builder image (NAME: a target of builder/targets.txt; none: the default target; a no-op when its recipe is unchanged)
image NAME="":
    scripts/image.sh build {{NAME}}

# Build the image of every target of builder/targets.txt (another architecture's by emulation)
images:
    #!/usr/bin/env bash
    set -uo pipefail
    failed=()
    for name in $(scripts/image.sh list | cut -d' ' -f1); do
        scripts/image.sh build "$name" || failed+=("$name")
    done
    if ((${#failed[@]})); then echo "images: failed: ${failed[*]}" >&2; exit 1; fi
    echo "images: all built: $(scripts/image.sh list | awk '{ print $7 }' | paste -sd' ')"

# Check a target's image builds a C-extension wheel offline (NAME: as for `just image`)
image-check NAME="": (image NAME)
    scripts/image.sh check {{NAME}}

# The target matrix: every image of builder/targets.txt, then a wheel built and installed on each target (tests/integration/test_matrix.py)
matrix: build images
    scripts/deps.sh test >/dev/null
    KILN_MATRIX_FULL=1 .kiln/venv/bin/python -m pytest tests/integration/test_matrix.py -v

# Apply pending schema migrations to the database
migrate: build db
    KILN_DATABASE_URL="${KILN_DATABASE_URL:-$(scripts/db.sh url)}" {{kilnctl}} migrate

# Open psql on Kiln's database
psql *ARGS:
    scripts/db.sh psql {{ARGS}}

# Regenerate README's configuration table from the code
readme: build
    scripts/readme-config.sh

# Fuzz one parser for SECONDS with libFuzzer (TARGET: pyversion, wheelname, json, ... or all)
fuzz TARGET SECONDS="60":
    scripts/fuzz.sh {{TARGET}} {{SECONDS}}

# Every fuzz target briefly, its seeds and regression inputs replayed (what `just test` runs)
fuzz-ci:
    scripts/fuzz.sh all 5

# Dump the database into the object store (backups/NAME; default name: the time)
backup NAME="": build
    scripts/backup.sh backup {{NAME}}

# Restore a backup into an empty database (default: the newest; `just backups` lists them)
restore NAME="": build
    scripts/backup.sh restore {{NAME}}

# List the stored database backups
backups: build
    scripts/backup.sh list

# Build the docker-compose farm's images (kiln/runtime base, then one per service)
compose-images:
    scripts/deploy.sh images

# The docker-compose farm end to end: build through both replicas, pip install, down
compose-test: build
    scripts/deps.sh test >/dev/null
    KILN_COMPOSE_FULL=1 .kiln/venv/bin/python -m pytest tests/integration/test_compose.py -v

# Memcheck: every unit test program, then the backend's API, upload, channel and dispatch suites with kiln-backend under valgrind (build/valgrind; arguments replace the suites: pytest arguments)
valgrind *ARGS:
    scripts/deps.sh test >/dev/null
    tests/valgrind.sh {{ARGS}}

# Real projects through a private farm, newest release first (bench/realworld/projects.txt): built and imported per category, failure classes; --target NAME for another target
realworld *ARGS: build
    scripts/deps.sh test >/dev/null
    .kiln/venv/bin/python bench/realworld/run.py {{ARGS}}
