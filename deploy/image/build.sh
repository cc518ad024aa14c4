#!/bin/sh
# Build Porchlight's container image from Debian packages and the hashed runtime lock alone
# (`make image`). Needs root (mmdebstrap's root mode, chroot, buildah's storage), mmdebstrap and
# buildah.
#
#   1. the base: a root filesystem that depends on the Debian packages and the lock only, kept in
#      IMAGE_CACHE (/var/cache/porchlight-image) under a digest of what it is made from, so it is
#      made once per lock (the slow part: two mmdebstrap runs and pip). A throwaway builder (a
#      Debian minbase with python3-venv, never part of the image) makes the venv with
#      `pip --require-hashes --only-binary :all:` (no compiler is ever needed) from
#      requirements/runtime.txt and debian-python.txt (what Debian's Python 3.11.2 needs beyond
#      the lock), then removes pip and setuptools from it; the base is a Debian minbase with
#      python3 and ca-certificates only, that venv, and the porchlight user (10001) with /data
#      (the entrypoint's `trial` keeps its SQLite database there); docs and caches dropped.
#   2. for each build, in a hard-linked copy of the base: the committed source is unpacked
#      beside the venv, byte-compiled, `collectstatic` and `manage.py check` run (chroot).
#   3. buildah turns that root filesystem into one layer with the configuration, the labels and
#      every timestamp set to the commit's time (SOURCE_DATE_EPOCH).
#
# Environment: IMAGE (name:tag, default localhost/porchlight:<version>), DEBIAN_SUITE (bookworm),
# DEBIAN_MIRROR (deb.debian.org; a snapshot.debian.org URL pins the packages too),
# IMAGE_FORMAT (docker: the only format that keeps HEALTHCHECK; oci drops it), SOURCE_REF (HEAD),
# IMAGE_CACHE (where the base is kept; IMAGE_CACHE= (empty) keeps nothing). A Debian security
# update reaches the base when the cache is emptied (`rm -r /var/cache/porchlight-image`).
#
# `build.sh --inputs` builds nothing: it prints a digest of everything the image is made from (the
# git objects of the files taken from the commit, this script, the suite, mirror and format), so
# `make test-image` can reuse an image built from the same inputs by another commit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"

ref=${SOURCE_REF:-HEAD}
revision=$(git rev-parse "$ref^{commit}")
version=$(git show "$revision:pyproject.toml" | sed -n 's/^version = "\(.*\)"$/\1/p' | head -n 1)
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
format=${IMAGE_FORMAT:-docker}
image=${IMAGE:-localhost/porchlight:$version}
cache=${IMAGE_CACHE-/var/cache/porchlight-image}
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct "$revision")
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)

# What the server needs at run time, from the commit (tests, docs, bench and fixtures stay out),
# and the image's own files, from the same commit.
sources="manage.py pyproject.toml requirements/runtime.txt accounts audit directory ground oidc_provider ops porchlight scim static templates upstream locale"
own="entrypoint healthcheck.py debian-python.txt"

if [ "${1:-}" = "--inputs" ]; then
    {
        for path in $sources; do git rev-parse "$revision:$path"; done
        for file in $own; do git rev-parse "$revision:deploy/image/$file"; done
        # build.sh runs from the work tree: its own bytes count as they are.
        sha256sum < "$here/build.sh"
        echo "$suite $mirror $format"
    } | sha256sum | cut -c 1-16
    exit 0
fi

if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "build.sh: note: uncommitted changes are not in the image; it is built from $revision" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/porchlight-image.XXXXXX")
ctr=""
cleanup() {
    if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
    if [ -n "${roots:-}" ]; then rm -rf "$roots/base.$$"; fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# shellcheck disable=SC2086 # $sources is a list of paths without spaces
git archive --format=tar -o "$work/source.tar" "$revision" $sources
for file in $own; do
    git show "$revision:deploy/image/$file" > "$work/$file"
done

# The base depends on the lock, the Debian packages and this script alone.
base=$({
    git rev-parse "$revision:requirements/runtime.txt" "$revision:deploy/image/debian-python.txt"
    sha256sum < "$here/build.sh"
    echo "$suite $mirror"
} | sha256sum | cut -c 1-16)
roots=${cache:-$work}/$base

# The builder's pip trusts what this machine trusts (a proxy's CA too); the file stays in the
# builder. Every command in the builder runs with a clean environment: no PIP_* of this machine.
ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
cp "$ca" "$work/ca.pem"
in_builder="env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"

if [ -d "$roots/base" ]; then
    echo "== base: reusing $roots/base (same lock, packages and build.sh)"
else
    mkdir -p "$roots"
    echo "== builder: $suite minbase + python3-venv, the venv from requirements/runtime.txt"
    git show "$revision:requirements/runtime.txt" > "$work/runtime.txt"
    mmdebstrap --mode=root --variant=minbase --include=python3,python3-venv --format=directory \
        --customize-hook="cp '$work/ca.pem' '$work/runtime.txt' '$work/debian-python.txt' \"\$1/tmp/\"" \
        --customize-hook="chroot \"\$1\" $in_builder python3 -m venv /opt/porchlight/venv" \
        --customize-hook="chroot \"\$1\" $in_builder /opt/porchlight/venv/bin/pip install --cert /tmp/ca.pem \
            --quiet --no-cache-dir --disable-pip-version-check --require-hashes --only-binary :all: \
            -r /tmp/runtime.txt -r /tmp/debian-python.txt" \
        --customize-hook="chroot \"\$1\" $in_builder /opt/porchlight/venv/bin/pip uninstall --quiet --yes pip setuptools" \
        "$suite" "$work/builder" "$mirror"

    echo "== base: $suite minbase + python3 + ca-certificates, the porchlight user, the builder's venv"
    # Documentation, manual pages and translations are not installed; nor are Recommends.
    mmdebstrap --mode=root --variant=minbase --include=python3,ca-certificates --format=directory \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --customize-hook="mkdir -p \"\$1/opt/porchlight\" && cp -a '$work/builder/opt/porchlight/venv' \"\$1/opt/porchlight/\"" \
        --customize-hook='echo "porchlight:x:10001:10001:Porchlight:/nonexistent:/usr/sbin/nologin" >> "$1/etc/passwd"' \
        --customize-hook='echo "porchlight:x:10001:" >> "$1/etc/group"' \
        --customize-hook='echo "porchlight:!:::::::" >> "$1/etc/shadow"' \
        --customize-hook='install -d -m 0700 -o 10001 -g 10001 "$1/data"' \
        --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/* "$1"/var/cache/ldconfig/aux-cache' \
        "$suite" "$roots/base.$$" "$mirror"
    rm -rf "$work/builder"
    # Another build that made it meanwhile wins; the two are the same.
    mv -T "$roots/base.$$" "$roots/base" 2>/dev/null || rm -rf "$roots/base.$$"
fi

echo "== app: the committed source in the base; compileall, collectstatic, check"
# Hard links: nothing below changes a file of the base in place, it only adds files.
cp -al "$roots/base" "$work/rootfs" 2>/dev/null || {
    rm -rf "$work/rootfs"
    cp -a "$roots/base" "$work/rootfs"  # IMAGE_CACHE on another file system than TMPDIR
}
mkdir -p "$work/rootfs/opt/porchlight/app"
tar -xf "$work/source.tar" -C "$work/rootfs/opt/porchlight/app"
# Throwaway values: collectstatic must not generate a secret key under var/ (it would be baked
# into the image); nothing is signed or encrypted at build time.
build_env="PORCHLIGHT_SECRET_KEY=build-time-only PORCHLIGHT_KEY_ENCRYPTION_KEY=build-time-only PYTHONDONTWRITEBYTECODE=1"
chroot "$work/rootfs" $in_builder /opt/porchlight/venv/bin/python \
    -m compileall -q --invalidation-mode checked-hash /opt/porchlight/app
chroot "$work/rootfs" $in_builder $build_env /opt/porchlight/venv/bin/python \
    /opt/porchlight/app/manage.py collectstatic --no-input -v0
chroot "$work/rootfs" $in_builder $build_env PORCHLIGHT_DEBUG=false /opt/porchlight/venv/bin/python \
    /opt/porchlight/app/manage.py check --fail-level WARNING
test "$(ls "$work/rootfs/opt/porchlight/app/var")" = staticfiles
install -m 0755 "$work/entrypoint" "$work/rootfs/opt/porchlight/entrypoint"
install -m 0644 "$work/healthcheck.py" "$work/rootfs/opt/porchlight/healthcheck.py"
tar --sort=name --numeric-owner --xattrs -C "$work/rootfs" -cf "$work/rootfs.tar" .
rm -rf "$work/rootfs"

echo "== image: $image"
ctr=$(buildah from --quiet --format "$format" scratch)
buildah add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
buildah config \
    --user 10001:10001 \
    --hostname porchlight \
    --workingdir /opt/porchlight/app \
    --entrypoint '["/opt/porchlight/entrypoint"]' \
    --cmd '["serve"]' \
    --env PATH=/opt/porchlight/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env PYTHONDONTWRITEBYTECODE=1 \
    --env PYTHONUNBUFFERED=1 \
    --env PORCHLIGHT_BIND=0.0.0.0:8000 \
    --env PORCHLIGHT_METRICS_DIR=/tmp/porchlight-metrics \
    --port 8000/tcp \
    --stop-signal SIGTERM \
    --healthcheck 'CMD /opt/porchlight/venv/bin/python /opt/porchlight/healthcheck.py' \
    --healthcheck-interval 30s --healthcheck-timeout 5s --healthcheck-start-period 20s \
    --healthcheck-retries 3 \
    --label org.opencontainers.image.title=Porchlight \
    --label "org.opencontainers.image.description=A self-hosted OpenID Connect provider" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.source=${IMAGE_SOURCE:-$(git config --get remote.origin.url || echo unknown)}" \
    --label "org.opencontainers.image.created=$created" \
    --label "org.opencontainers.image.base.name=debian:$suite (mmdebstrap minbase)" \
    --created-by "deploy/image/build.sh" \
    "$ctr"
buildah commit --quiet --format "$format" --timestamp "$SOURCE_DATE_EPOCH" --rm "$ctr" "$image"
ctr=""
echo "== built $image from $revision"
