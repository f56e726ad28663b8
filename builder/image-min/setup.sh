#!/bin/bash
# Runs inside the freshly debootstrapped root filesystem (via chroot, as root)
# from scripts/image.sh build, for the smallest recipe (builder/image-min/,
# copied to /tmp/kiln-recipe beforehand). builder/image/setup.sh less the -dev
# set: the build user, the offline wheelhouse, pip's and setuptools' settings,
# auditwheel.
set -euo pipefail

recipe=/tmp/kiln-recipe
msg() { printf 'setup.sh: %s\n' "$*"; }

# --- unprivileged build user: kiln, uid/gid 1000, home /home/kiln ------------
groupadd --gid 1000 kiln
useradd --uid 1000 --gid kiln --create-home --home-dir /home/kiln --shell /bin/bash kiln
install -d -o kiln -g kiln -m 0755 /work

# --- offline wheelhouse, pip and setuptools settings ---------------------------
install -d -m 0755 /opt/kiln /opt/kiln/wheels /opt/kiln/job-wheels
cp /usr/share/python-wheels/*.whl /opt/kiln/wheels/
chmod 0644 /opt/kiln/wheels/*.whl
for need in pip setuptools wheel; do
    compgen -G "/opt/kiln/wheels/${need}-*.whl" >/dev/null ||
        { msg "no ${need} wheel in /usr/share/python-wheels" >&2; exit 1; }
done
msg "wheelhouse: $(cd /opt/kiln/wheels && echo *.whl)"
install -m 0644 "$recipe/pip.conf" /etc/pip.conf
install -d -m 0755 /etc/kiln
install -m 0644 "$recipe/setuptools.cfg" /etc/kiln/setuptools.cfg

# --- auditwheel (tools.txt), with the suite's own python3 ----------------------
/usr/bin/python3 -m venv --without-pip /opt/kiln/tools
/usr/bin/python3 -m pip --python /opt/kiln/tools/bin/python install --no-index --no-deps \
    --no-warn-script-location --require-hashes -r "$recipe/tools.txt" \
    --find-links "$recipe/tools"
msg "tools: $(/opt/kiln/tools/bin/auditwheel --version)"

# --- keep the image small -----------------------------------------------------
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
    /var/log/apt/* /var/log/dpkg.log /var/log/bootstrap.log \
    /usr/share/man/* /usr/share/info/* /usr/share/locale/*
find /usr/share/doc -depth -type f ! -name copyright -delete
find /usr/share/doc -depth -mindepth 1 -type d -empty -delete
msg "done"
