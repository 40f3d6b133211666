#!/bin/bash
# Build the Debian package from this tree:
#   scripts/build-deb.sh [-B BUILD_DIR] [-o OUT_DIR]
# BUILD_DIR: a built release tree to package (default: configure and build
# out/build-deb).  The package lands in OUT_DIR (default out/deb) as
# postern_<version>_<arch>.deb and its path is the last line printed.
#
# The file set comes from the CMake install rules (packaging/CMakeLists.txt,
# `cmake --install --prefix /usr --strip`); this script adds the Debian
# metadata: control (Depends from dpkg-shlibdeps), maintainer scripts
# (packaging/debian), md5sums, copyright and changelog.  dpkg-deb builds it
# with root ownership, so no fakeroot is needed.  Install with
#   apt install ./postern_<version>_<arch>.deb
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=
OUT=$ROOT/out/deb
while getopts "B:o:h" opt; do
  case $opt in
  B) BUILD=$(cd "$OPTARG" && pwd) ;;
  o) mkdir -p "$OPTARG" && OUT=$(cd "$OPTARG" && pwd) ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; [ "$opt" = h ]; exit ;;
  esac
done
die() { echo "build-deb: $*" >&2; exit 1; }
for t in dpkg-deb dpkg-shlibdeps scdoc gzip; do
  command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh installs it)"
done

if [ -z "$BUILD" ]; then
  BUILD=$ROOT/out/build-deb
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  nice cmake --build "$BUILD" -j"$(nproc)" --target postern >/dev/null
fi
[ -f "$BUILD/CMakeCache.txt" ] || die "$BUILD is not a CMake build directory"
if grep -qE '^PN_(SANITIZE|FUZZ):BOOL=ON' "$BUILD/CMakeCache.txt"; then
  die "$BUILD is a sanitizer/fuzzer build: package a release build"
fi
[ -x "$BUILD/src/app/postern" ] || die "$BUILD/src/app/postern is not built"
# Sources the install rules name that come from the configuration work
# (issue 17): say which are missing rather than let cmake --install fail.
missing=()
for f in docs/examples/{controller,relay,connector,client}.conf man/postern.1.scd \
  man/postern-client.1.scd man/postern-ctl.1.scd man/postern-controller.8.scd \
  man/postern-relay.8.scd man/postern-connector.8.scd man/postern-doctor.8.scd \
  man/postern.conf.5.scd; do
  [ -f "$ROOT/$f" ] || missing+=("$f")
done
[ ${#missing[@]} -eq 0 ] || die "missing in the tree: ${missing[*]}"

# <upstream>~git<commit time>.<commit> sorts by commit and before the release
# of the same upstream version; -1: the Debian revision.
UPSTREAM=$(sed -nE 's/^CMAKE_PROJECT_VERSION:STATIC=(.*)$/\1/p' "$BUILD/CMakeCache.txt")
[ -n "$UPSTREAM" ] || die "no project version in $BUILD/CMakeCache.txt"
if ct=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null) && [ -n "$ct" ]; then
  VERSION="$UPSTREAM~git$(date -u -d "@$ct" +%Y%m%d%H%M%S).$(git -C "$ROOT" rev-parse --short=7 HEAD)-1"
  export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$ct}
else
  VERSION="$UPSTREAM-1"
  export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)}
fi
ARCH=$(dpkg --print-architecture)
DEB=$OUT/postern_${VERSION}_${ARCH}.deb

mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"
if ! DESTDIR=$STAGE cmake --install "$BUILD" --prefix /usr --strip >"$STAGE.install.log" 2>&1; then
  cat "$STAGE.install.log" >&2
  rm -f "$STAGE.install.log"
  die "cmake --install failed"
fi
rm -f "$STAGE.install.log"

DOC=$STAGE/usr/share/doc/postern
install -m 0644 "$ROOT/packaging/debian/copyright" "$DOC/copyright"
{
  echo "postern ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Built from $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'an unversioned tree')."
  echo
  echo " -- Postern developers <postern@localhost>  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$DOC/changelog.Debian.gz"

# Depends: the shared libraries the binary links, with the versions their
# symbols need (dpkg-shlibdeps reads a debian/control of its own).
SHL=$(mktemp -d)
mkdir "$SHL/debian"
printf 'Source: postern\n\nPackage: postern\nArchitecture: any\n' >"$SHL/debian/control"
SHLIBS=$(cd "$SHL" && dpkg-shlibdeps -O -e"$STAGE/usr/bin/postern" 2>"$SHL/err") ||
  { cat "$SHL/err" >&2; rm -rf "$SHL"; die "dpkg-shlibdeps failed"; }
rm -rf "$SHL"
SHLIBS=${SHLIBS#shlibs:Depends=}
[ -n "$SHLIBS" ] || die "dpkg-shlibdeps found no dependencies"
# Loaded at run time with dlopen, so not seen by dpkg-shlibdeps
# (docs/performance.md, cold start): libpq and SQLite (the controller's
# stores), libmicrohttpd (its listeners), libjwt (OIDC), libcurl (requests
# to a controller or identity provider) and libnftables (the client's
# transparent mode).  Versions: what dpkg-shlibdeps gave when the binary
# linked them.
SHLIBS="$SHLIBS, libpq5 (>= 9.0~), libsqlite3-0 (>= 3.12.0), libmicrohttpd12 (>= 0.9.50)"
SHLIBS="$SHLIBS, libjwt-gnutls0 (>= 1.9.0), libcurl3-gnutls (>= 7.16.2), libnftables1 (>= 1.0.2)"

# Modes: directories and programs 0755, everything else 0644.
find "$STAGE" -type d -exec chmod 0755 {} +
find "$STAGE" -type f -exec chmod 0644 {} +
chmod 0755 "$STAGE/usr/bin/postern"
# every mtime at the commit time: the same tree gives the same package
find "$STAGE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

mkdir "$STAGE/DEBIAN"
for s in postinst prerm postrm; do
  install -m 0755 "$ROOT/packaging/debian/$s" "$STAGE/DEBIAN/$s"
done
SIZE=$(du -sk --apparent-size "$STAGE" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$ARCH|" -e "s|@SIZE@|$SIZE|" \
  -e "s|@SHLIBS@|$SHLIBS|" "$ROOT/packaging/debian/control.in" >"$STAGE/DEBIAN/control"
(cd "$STAGE" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/control" "$STAGE/DEBIAN/md5sums"

rm -f "$OUT"/postern_*.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
