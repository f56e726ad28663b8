#!/bin/bash
# Runs inside the freshly debootstrapped root filesystem (via chroot, as root)
# from scripts/image.sh build. The recipe directory (builder/image/) is copied
# to /tmp/kiln-recipe beforehand and removed afterwards.
set -euo pipefail

recipe=/tmp/kiln-recipe
msg() { printf 'setup.sh: %s\n' "$*"; }

# --- unprivileged build user: kiln, uid/gid 1000, home /home/kiln ------------
if ! getent group kiln >/dev/null; then
    if getent group 1000 >/dev/null; then
        msg "gid 1000 is already taken: $(getent group 1000)" >&2
        exit 1
    fi
    groupadd --gid 1000 kiln
fi
if ! getent passwd kiln >/dev/null; then
    if getent passwd 1000 >/dev/null; then
        msg "uid 1000 is already taken: $(getent passwd 1000)" >&2
        exit 1
    fi
    useradd --uid 1000 --gid kiln --create-home --home-dir /home/kiln \
        --shell /bin/bash kiln
fi
msg "user: $(id kiln)"

# Work directory for builds, owned by the build user.
install -d -o kiln -g kiln -m 0755 /work

# --- offline wheelhouse --------------------------------------------------------
install -d -m 0755 /opt/kiln /opt/kiln/wheels /opt/kiln/job-wheels
cp /usr/share/python-wheels/*.whl /opt/kiln/wheels/
chmod 0644 /opt/kiln/wheels/*.whl
for need in pip setuptools wheel; do
    if ! compgen -G "/opt/kiln/wheels/${need}-*.whl" >/dev/null; then
        msg "no ${need} wheel in /usr/share/python-wheels" >&2
        exit 1
    fi
done
msg "wheelhouse: $(cd /opt/kiln/wheels && echo *.whl)"

install -m 0644 "$recipe/pip.conf" /etc/pip.conf
# Named by ENV DIST_EXTRA_CONFIG (env.txt): setuptools builds leave /src untouched.
install -d -m 0755 /etc/kiln
install -m 0644 "$recipe/setuptools.cfg" /etc/kiln/setuptools.cfg

# --- curated base set of -dev packages (dev-packages.txt, issue 15 part 1) ---
# debootstrap left /etc/apt/sources.list pointing at the mirror image.sh used.
# apt resolves the dependencies (and virtual packages) better than
# debootstrap --include would. The lists are deleted below, so a derived image
# (docs/builds.md) runs apt-get update again.
# (no process substitution: the chroot has no /dev/fd)
# image.sh wrote the list as this suite has it (overrides.txt); a package apt
# does not know here is left out with a note rather than failing the image.
apt-get update -qq
devpkgs=()
for p in $(sed -e 's/#.*//' "$recipe/dev-packages.txt"); do
    if apt-cache show --no-all-versions "$p" >/dev/null 2>&1 ||
        apt-cache showpkg "$p" 2>/dev/null | sed -n '/^Reverse Provides:/,$p' | tail -n +2 | grep -q .; then
        devpkgs+=("$p")
    else
        msg "note: $p is not in ${KILN_SUITE:-this suite}: left out (add it to overrides.txt)"
    fi
done
msg "installing ${#devpkgs[@]} -dev packages"
apt-get install -y -qq --no-install-recommends "${devpkgs[@]}" >/dev/null
msg "-dev packages installed: ${devpkgs[*]}"

# --- auditwheel, for the build driver's repair step (tools.txt) ---------------
# The wheels were downloaded on the host (scripts/image.sh) into $recipe/tools/.
# A venv of their own, apart from /opt/kiln/wheels: builds never see them.
# The suite's own python3 (/usr/bin/python3, not the target's CPython when
# that is another): the tools are the image's, not the builds'.
/usr/bin/python3 -m venv --without-pip /opt/kiln/tools
/usr/bin/python3 -m pip --python /opt/kiln/tools/bin/python install --no-index --no-deps \
    --no-warn-script-location --require-hashes -r "$recipe/tools.txt" \
    --find-links "$recipe/tools"
/opt/kiln/tools/bin/auditwheel --version
msg "tools: $(/opt/kiln/tools/bin/auditwheel --version)"

# --- keep the image small -----------------------------------------------------
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
    /var/log/apt/* /var/log/dpkg.log /var/log/bootstrap.log \
    /usr/share/man/* /usr/share/info/*
# Documentation, but keep the copyright files.
find /usr/share/doc -depth -type f ! -name copyright -delete
find /usr/share/doc -depth -mindepth 1 -type d -empty -delete

msg "done"
