#!/bin/bash
# Runs inside the freshly debootstrapped root filesystem of kiln/runtime (via
# chroot, as root) from scripts/image.sh build. The recipe directory
# (deploy/runtime/) is copied to /tmp/kiln-recipe beforehand and removed afterwards.
#
# The server packages (PostgreSQL, HAProxy) are installed here with apt-get rather
# than by debootstrap --include: their maintainer scripts want to start services,
# which policy-rc.d forbids in a chroot.
set -euo pipefail

recipe=/tmp/kiln-recipe
msg() { printf 'setup.sh: %s\n' "$*"; }

# --- unprivileged service user: kiln, uid/gid 1000 (backend, kiln-sync) -------
if ! getent group kiln >/dev/null; then
    groupadd --gid 1000 kiln
fi
if ! getent passwd kiln >/dev/null; then
    useradd --uid 1000 --gid kiln --create-home --home-dir /var/lib/kiln \
        --shell /usr/sbin/nologin kiln
fi
msg "user: $(id kiln)"

# --- PostgreSQL 15 and HAProxy, without starting anything ----------------------
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
install -d /etc/postgresql-common
# The postgres container makes its own cluster on its volume (deploy/postgres.sh).
printf 'create_main_cluster = false\n' >/etc/postgresql-common/createcluster.conf
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold postgresql-15 postgresql-client-15 haproxy >/dev/null
rm -f /usr/sbin/policy-rc.d
msg "postgres: $(/usr/lib/postgresql/15/bin/postgres --version); $(haproxy -v | head -n 1)"

# --- keep the image small -----------------------------------------------------
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
    /var/log/apt/* /var/log/dpkg.log /var/log/bootstrap.log \
    /usr/share/man/* /usr/share/info/*
find /usr/share/doc -depth -type f ! -name copyright -delete
find /usr/share/doc -depth -mindepth 1 -type d -empty -delete
test -d "$recipe"
msg "done"
