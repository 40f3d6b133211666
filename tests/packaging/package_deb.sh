#!/bin/bash
# package_deb: the Debian package, installed on a fresh Debian 12 root.
#
#   scripts/build-deb.sh -B BUILD  ->  postern_<version>_<arch>.deb
#
#   /var/cache/postern-test/pkgroot/bookworm  cached base root: debootstrap minbase + systemd,
#        |                  apt lists, and an apt archive cache that fills
#        |                  with postern's dependencies (made once, reused)
#        | overlayfs lower (never written while mounted)
#   $T/root                 this run's fresh root; its changes go to $T/upper
#        |                  and are thrown away (private mount namespace)
#        +- chroot: in_root.sh  apt install ./postern_*.deb, the user, the file
#                               layout, systemd-analyze verify + security,
#                               purge, nothing left
#
# Only the downloads (debootstrap, apt) need a network: when this network
# namespace has no default route (ctest's isolation), they run in the
# namespace of the nearest ancestor process that has one (nsenter --net).
# After the first run they find everything in the cache and no network is
# used.  PN_PKGROOT overrides the cache directory.  Needs root.
set -euo pipefail
BUILD=$(cd "${1:?usage: package_deb.sh BUILD_DIR}" && pwd)
SRC=${PN_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# Outside the checkout, so a fresh clone (CI) reuses it.
CACHE=${PN_PKGROOT:-/var/cache/postern-test/pkgroot}
BASE=$CACHE/bookworm
t0=$SECONDS

[ "$(id -u)" -eq 0 ] || { echo "package_deb: needs root (chroot, overlay mounts)"; exit 1; }
for t in debootstrap dpkg-deb unshare; do
  command -v "$t" >/dev/null || { echo "package_deb: $t missing (scripts/deps.sh)"; exit 1; }
done
# NET: the prefix that runs a download with a route out.  ctest's isolation
# (a network namespace with only lo) leaves the host's namespace to the
# process that made it: the nearest ancestor in another network namespace.
has_route() { "$@" ip route show default 2>/dev/null | grep -q . || "$@" ip -6 route show default 2>/dev/null | grep -q .; }
NET=()
if ! has_route; then
  pid=$$ self=$(readlink /proc/self/ns/net)
  while pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ "${pid:-0}" -gt 1 ]; do
    if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "$self" ] &&
       has_route nsenter --net="/proc/$pid/ns/net" --; then
      NET=(nsenter --net="/proc/$pid/ns/net" --)
      break
    fi
  done
  [ ${#NET[@]} -gt 0 ] || echo "(no network here or in an ancestor's namespace: the cache must hold everything)"
fi
T=$(mktemp -d /tmp/pn-package.XXXXXX)
cleanup() { rm -rf "$T"; }
trap cleanup EXIT

echo "=== build the package"
DEB=$(bash "$SRC/scripts/build-deb.sh" -B "$BUILD" -o "$T/deb" | tail -1)
[ -f "$DEB" ] || { echo "FAIL: scripts/build-deb.sh made no package"; exit 1; }
echo "$DEB: $(stat -c %s "$DEB") bytes"
dpkg-deb -I "$DEB" | sed -n '/Package:/,$p'
dpkg-deb -c "$DEB" | awk '{print $1, $2, $6}'
# metadata a package must carry
for f in Package Version Architecture Maintainer Installed-Size Depends Description; do
  [ -n "$(dpkg-deb -f "$DEB" "$f")" ] || { echo "FAIL: no $f in control"; exit 1; }
done
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for d in adduser libuv1 libgnutls30 libngtcp2 libpq5 libnftables1 libsqlite3-0 libmicrohttpd12 \
  libjwt-gnutls0 libcurl3-gnutls; do
  [[ $DEPENDS == *"$d"* ]] || { echo "FAIL: Depends lacks $d"; exit 1; }
done

# The host's Debian mirror (deb822 or one-line sources), else deb.debian.org.
host_mirror() {
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -nE 's|^URIs: *(\S*/debian)/?$|\1|p' | head -1)
  [ -n "$m" ] || m=$(grep -hsE '^deb .* bookworm ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    awk '$2 ~ /\/debian\/?$/ {print $2; exit}')
  echo "${m:-http://deb.debian.org/debian}"
}

# The cached base root, made once (under a lock: parallel runs wait).
mkdir -p "$CACHE"
exec 9>"$CACHE/lock"
flock 9
if [ ! -e "$BASE/.pn-base-ready" ]; then
  MIRROR=$(host_mirror)
  echo "=== make the base root $BASE (debootstrap bookworm from $MIRROR; once)"
  rm -rf "$BASE" "$BASE.tmp"
  if ! "${NET[@]}" debootstrap --variant=minbase --include=systemd bookworm "$BASE.tmp" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1; then
    tail -30 "$CACHE/debootstrap.log"
    echo "FAIL: debootstrap (log: $CACHE/debootstrap.log)"
    exit 1
  fi
  # the sources of a Debian 12 install: main, updates, security
  if ls /etc/apt/sources.list.d/debian.sources >/dev/null 2>&1 &&
     grep -q bookworm /etc/apt/sources.list.d/debian.sources; then
    cp /etc/apt/sources.list.d/debian.sources "$BASE.tmp/etc/apt/sources.list.d/debian.sources"
    : >"$BASE.tmp/etc/apt/sources.list"
  fi
  # packaged daemons must not start inside the root
  printf '#!/bin/sh\nexit 101\n' >"$BASE.tmp/usr/sbin/policy-rc.d"
  chmod 0755 "$BASE.tmp/usr/sbin/policy-rc.d"
  touch "$BASE.tmp/.pn-base-ready"
  mv "$BASE.tmp" "$BASE"
fi
echo "base root ready ($((SECONDS - t0)) s)"

# In a private mount namespace: the overlay and the mounts under it vanish
# with it, whatever happens.  Phase 1 fetches what is missing from the cache
# (network only if something is); phase 2 is the test, offline.  New lists
# and archives go back into the cache afterwards.
mkdir -p "$T/upper" "$T/work" "$T/root"
cp "$SRC/tests/packaging/in_root.sh" "$T/in_root.sh"
set +e
unshare --mount --propagation private bash -s "$BASE" "$T" "$DEB" "${NET[@]}" <<'EOF'
set -euo pipefail
BASE=$1 T=$2 DEB=$3; shift 3
NET=("$@")
R=$T/root
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$T/upper,workdir=$T/work" "$R"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$R/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"
mount -t tmpfs -o mode=755 tmpfs "$R/run"
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
cp "$DEB" "$T/in_root.sh" "$R/tmp/"
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"; }
pkg=/tmp/$(basename "$DEB")
echo "=== postern's dependencies in the root's apt cache"
# What apt would install (a simulation), each looked up in the cache.
# (Not --print-uris: for a local .deb it lists only that file, never the
# dependencies, so "all cached" was always the answer and the offline
# phase failed whenever the cache lacked them.)
cached() {
  local name ver arch n=0
  in_root apt-get install -s "$pkg" >"$T/sim.log" 2>&1 || return 1
  while read -r name ver arch; do
    [ "$name" = postern ] && continue
    [ -e "$R/var/cache/apt/archives/${name}_${ver//:/%3a}_${arch}.deb" ] || return 1
    n=$((n + 1))
  done < <(sed -nE 's/^Inst ([^ ]+) (\[[^]]*\] )?\(([^ ]+) .*\[([a-z0-9]+)\]\)$/\1 \3 \4/p' "$T/sim.log")
  # every package apt would install was read (an unread line: not cached)
  [ "$n" -gt 0 ] && [ "$((n + 1))" -eq "$(grep -c '^Inst ' "$T/sim.log")" ]
}
if cached; then
  echo "all cached"
else
  echo "downloading what the cache lacks (lists first: the mirror may have moved on)"
  if ! { "${NET[@]}" chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
           DEBIAN_FRONTEND=noninteractive apt-get update -q &&
         "${NET[@]}" chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
           DEBIAN_FRONTEND=noninteractive apt-get install -y -q --download-only "$pkg"; } \
       >"$T/fetch.log" 2>&1; then
    cat "$T/fetch.log"
    echo "FAIL: could not fetch the dependencies"
    exit 1
  fi
  # for the cache (copied from the merged view: real files, no whiteouts)
  cp -a "$R/var/lib/apt/lists" "$T/lists.new"
  mkdir "$T/archives.new"
  cp -a "$R/var/cache/apt/archives/"*.deb "$T/archives.new/"
fi
echo "=== in the root: install, check, purge"
in_root bash /tmp/in_root.sh "$pkg"
EOF
rc=$?
set -e

# Keep what was downloaded: the next run is offline.
if [ -d "$T/lists.new" ]; then
  rm -rf "$BASE/var/lib/apt/lists"
  mv "$T/lists.new" "$BASE/var/lib/apt/lists"
  cp -a "$T/archives.new/." "$BASE/var/cache/apt/archives/"
  rm -f "$BASE/var/cache/apt/"*.bin # apt rebuilds its caches from the new lists
fi
flock -u 9
echo "package_deb: rc=$rc in $((SECONDS - t0)) s"
exit $rc
