#!/bin/bash
# Check that scripts/deps.sh installs everything the build and tests need,
# so a fresh machine cannot miss a package that happens to be installed here.
#
# For every pkg_check_modules() module, find_library() and find_path() in
# the project's CMake files, and for the tools the build and tests run, find
# the Debian package that owns the file (dpkg -S) and require that package to
# be in deps.sh's list or pulled in by it (apt's Depends/PreDepends closure
# of the list).  Prints one line per dependency; exits 1 if any is uncovered
# or not installed.  Read-only: installs and removes nothing.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

mapfile -t LIST < <(bash scripts/deps.sh --list)
declare -A listed closure
for p in "${LIST[@]}"; do listed[$p]=1; done
# Everything apt would install for the list (hard dependencies only).
while read -r p; do
  closure[${p%%:*}]=1
done < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances "${LIST[@]}" 2>/dev/null |
  grep -v '^ ' | grep -v '^<')

bad=0
# owner PATH: the package owning PATH (tries the /usr-merged twin too).
owner() {
  local f=$1 alt pkg
  case $f in
  /usr/*) alt=${f#/usr} ;;
  *) alt=/usr$f ;;
  esac
  for p in "$f" "$alt" "$(readlink -f "$f")"; do
    pkg=$(dpkg -S "$p" 2>/dev/null | head -1 | cut -d: -f1) && [ -n "$pkg" ] && {
      echo "$pkg"; return 0; }
  done
  return 1
}
# covered WHAT FILE: report and check the package owning FILE.
covered() {
  local what=$1 f=$2 pkg
  if [ -z "$f" ] || [ ! -e "$f" ]; then
    echo "MISSING  $what: not installed on this machine"; bad=1; return
  fi
  if ! pkg=$(owner "$f"); then
    echo "UNOWNED  $what: $f belongs to no package"; bad=1; return
  fi
  if [ -n "${listed[$pkg]:-}" ]; then
    echo "ok       $what -> $pkg (listed)"
  elif [ -n "${closure[$pkg]:-}" ]; then
    echo "ok       $what -> $pkg (dependency of the list)"
  else
    echo "UNCOVERED $what -> $pkg: add it to scripts/deps.sh"; bad=1
  fi
}

mapfile -t CMAKE_FILES < <(git ls-files '*CMakeLists.txt' '*.cmake' 2>/dev/null ||
  find . -path ./out -prune -o \( -name CMakeLists.txt -o -name '*.cmake' \) -print)
# pkg_check_modules(PREFIX [REQUIRED] [IMPORTED_TARGET] mod1 [mod2 ...])
mods=$(cat "${CMAKE_FILES[@]}" | tr '\n' ' ' |
  grep -oE 'pkg_check_modules *\([^)]*\)' | sed -E 's/pkg_check_modules *\(//; s/\)//' |
  awk '{for (i = 2; i <= NF; i++) print $i}' |
  grep -vE '^(REQUIRED|QUIET|IMPORTED_TARGET|GLOBAL|NO_CMAKE_PATH|NO_CMAKE_ENVIRONMENT_PATH)$' |
  sed -E 's/[<>=].*//' | sort -u)
[ -n "$mods" ] || { echo "no pkg_check_modules found: parser broken?"; exit 1; }
for m in $mods; do
  dir=$(pkg-config --variable=pcfiledir "$m" 2>/dev/null)
  covered "pkg-config $m" "${dir:+$dir/$m.pc}"
done
# find_library(VAR name ...) and find_path(VAR header ...)
libs=$(cat "${CMAKE_FILES[@]}" | grep -oE 'find_library *\( *[A-Za-z0-9_]+ +(NAMES +)?[A-Za-z0-9_.+-]+' |
  awk '{print $NF}' | sort -u)
for l in $libs; do
  f=$(ls /usr/lib/*-linux-gnu/lib"$l".so /usr/lib/lib"$l".so /usr/lib/*-linux-gnu/lib"$l".a 2>/dev/null | head -1)
  covered "library $l" "$f"
done
hdrs=$(cat "${CMAKE_FILES[@]}" | grep -oE 'find_path *\( *[A-Za-z0-9_]+ +(NAMES +)?[A-Za-z0-9_./+-]+' |
  awk '{print $NF}' | sort -u)
for h in $hdrs; do
  f=$(ls /usr/include/"$h" /usr/include/*-linux-gnu/"$h" 2>/dev/null | head -1)
  covered "header $h" "$f"
done
# Tools: compilers and build, the fuzzer runtime, what tests and scripts run.
# (Looked up on the system PATH: a user's pyenv or ~/bin does not count.)
for t in cmake make pkg-config gcc clang clang-format ip nft iptables curl openssl certtool \
  sqlite3 python3 haproxy psql setpriv dpkg-deb dpkg-shlibdeps scdoc debootstrap promtool tcpdump; do
  covered "tool $t" "$(PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$t" 2>/dev/null)"
done
# PostgreSQL server programs (tests/controller/pg_cluster.sh; not on PATH)
for t in initdb pg_ctl postgres; do
  covered "tool $t" "$(ls /usr/lib/postgresql/*/bin/$t 2>/dev/null | sort -V | tail -1)"
done
covered "libFuzzer runtime" "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null | head -1)"
covered "ASan runtime (gcc)" "$(gcc -print-file-name=libasan.so 2>/dev/null | xargs -r readlink -f)"
covered "UBSan runtime (gcc)" "$(gcc -print-file-name=libubsan.so 2>/dev/null | xargs -r readlink -f)"

if [ "$bad" != 0 ]; then
  echo "check-deps: FAILED: scripts/deps.sh does not cover the build"
  exit 1
fi
echo "check-deps: every dependency is covered by scripts/deps.sh"
