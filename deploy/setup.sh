#!/bin/bash
# kiln-setup: the one-shot `setup` service of docker-compose.yml. Runs before the
# backends and builders start, and is harmless to run again:
#   - applies the schema migrations (kilnctl migrate);
#   - adds or updates the build target SETUP_TARGET (default bookworm-py311-x86_64)
#     with the image KILN_BUILDER_IMAGE;
#   - registers each builder named in SETUP_BUILDERS that has no token yet, and
#     keeps its token in TOKENS_DIR/NAME (a volume the builders mount read-only).
set -euo pipefail

msg() { printf 'kiln-setup: %s\n' "$*" >&2; }
die() { printf 'kiln-setup: error: %s\n' "$*" >&2; exit 1; }

target=${SETUP_TARGET:-bookworm-py311-x86_64}
tokens=${TOKENS_DIR:-/var/lib/kiln/tokens}
image=${KILN_BUILDER_IMAGE:-kiln/bookworm-py311:latest}

kilnctl migrate
kilnctl target add "$target" --image "$image" --python 3.11 --platform linux_x86_64 >/dev/null
msg "target $target: image $image"

[[ -d $tokens && -w $tokens ]] || die "$tokens is not a writable directory (mount the tokens volume)"
for name in ${SETUP_BUILDERS:-}; do
    if [[ -s $tokens/$name ]]; then
        msg "builder $name: token kept in $tokens/$name"
        continue
    fi
    if kilnctl builder list | awk 'NR > 1 { print $1 }' | grep -qxF -- "$name"; then
        die "builder '$name' is registered but its token is not in $tokens (a new tokens volume" \
            "with the old database?); register it under another name, or disable it with kilnctl"
    fi
    out=$(kilnctl builder add "$name")
    token=$(grep -o 'kiln_[A-Za-z0-9_-]\{43\}' <<<"$out") || die "kilnctl builder add printed no token"
    (umask 077 && printf '%s\n' "$token" >"$tokens/.$name.tmp")
    mv "$tokens/.$name.tmp" "$tokens/$name"
    msg "builder $name: registered, token in $tokens/$name"
done
msg "done"
