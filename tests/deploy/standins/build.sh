#!/bin/sh
# Stand-ins for the official postgres, redis and nginx images that deploy/compose/compose.yaml
# names by default, for tests/deploy/test_compose_up.py: no registry is reachable here, Debian's
# mirror is. One Debian root filesystem (mmdebstrap, as deploy/image/build.sh makes the
# Porchlight image) holds PostgreSQL, Redis, nginx and curl; three images are committed from it
# with buildah, each with its own entrypoint (beside this script) and the command the official
# image has. They are test stand-ins: nothing in deploy/ uses them.
#
# The suite is trixie: compose's nginx.conf says `http2 on;`, which nginx reads from 1.25.1 on
# (the official image is 1.27; bookworm has 1.22).
#
# Prints three lines, `postgres IMAGE`, `redis IMAGE`, `proxy IMAGE`. Images are tagged with a
# digest of this folder's files, suite and mirror, and reused when they exist; the root
# filesystem is kept under IMAGE_CACHE (/var/cache/porchlight-image) like the Porchlight base.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
suite=${STANDIN_SUITE:-trixie}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${IMAGE_CACHE-/var/cache/porchlight-image}
digest=$({ cat "$here/build.sh" "$here/postgres-entrypoint" "$here/redis-entrypoint" "$here/nginx-entrypoint"
    echo "$suite $mirror"; } | sha256sum | cut -c 1-16)
prefix=localhost/porchlight-standin

if podman image exists "$prefix-postgres:$digest" && podman image exists "$prefix-redis:$digest" \
    && podman image exists "$prefix-nginx:$digest"; then
    printf 'postgres %s\nredis %s\nproxy %s\n' "$prefix-postgres:$digest" "$prefix-redis:$digest" "$prefix-nginx:$digest"
    exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/porchlight-standins.XXXXXX")
ctr=""
cleanup() {
    if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

roots=${cache:-$work}/standins-$digest
if [ ! -f "$roots/rootfs.tar" ]; then
    mkdir -p "$roots"
    # No cluster made by postgresql-common: the entrypoint makes one in the data volume.
    mmdebstrap --mode=root --variant=minbase --include=postgresql,redis-server,redis-tools,nginx,curl \
        --format=directory \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/no-main.conf"' \
        --customize-hook="cp '$here/postgres-entrypoint' '$here/redis-entrypoint' '$here/nginx-entrypoint' \"\$1/usr/local/bin/\" && chmod 0755 \"\$1\"/usr/local/bin/*-entrypoint" \
        --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
        --customize-hook='ls -d "$1"/usr/lib/postgresql/*/bin | sed "s|^$1||" > "$1/etc/postgresql-bin"' \
        "$suite" "$work/rootfs" "$mirror" >&2
    tar --sort=name --numeric-owner --xattrs -C "$work/rootfs" -cf "$roots/rootfs.tar.$$" .
    mv "$roots/rootfs.tar.$$" "$roots/rootfs.tar"
    rm -rf "$work/rootfs"
fi
pgbin=$(tar -xOf "$roots/rootfs.tar" ./etc/postgresql-bin)

commit() {  # name, then buildah config options
    name=$1
    shift
    ctr=$(buildah from --quiet --format docker scratch)
    buildah add --quiet "$ctr" "$roots/rootfs.tar" / >/dev/null
    buildah config "$@" "$ctr"
    buildah commit --quiet --format docker --rm "$ctr" "$prefix-$name:$digest" >/dev/null
    ctr=""
}
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
commit postgres --env "PATH=$pgbin:$path" --env PGDATA=/var/lib/postgresql/data \
    --entrypoint '["/usr/local/bin/postgres-entrypoint"]' --cmd '["postgres"]' --port 5432/tcp \
    --stop-signal SIGINT
commit redis --env "PATH=$path" --workingdir /data \
    --entrypoint '["/usr/local/bin/redis-entrypoint"]' --cmd '["redis-server"]' --port 6379/tcp
commit nginx --env "PATH=$path" \
    --entrypoint '["/usr/local/bin/nginx-entrypoint"]' --cmd '["nginx", "-g", "daemon off;"]' \
    --port 80/tcp --stop-signal SIGQUIT
printf 'postgres %s\nredis %s\nproxy %s\n' "$prefix-postgres:$digest" "$prefix-redis:$digest" "$prefix-nginx:$digest"
