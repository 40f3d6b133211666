#!/bin/bash
# Runs inside the fresh Debian 12 root (package_deb.sh chroots here) with the
# package at $1.  Installs it the way the README says, checks what it made,
# purges it and checks that nothing is left.  Each failure prints FAIL: and
# what was found; the script goes on so one run shows every problem, and
# exits 1 if any check failed.
set -uo pipefail
DEB=$1
export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok    $*"; }
# check DESCRIPTION COMMAND...: ok if the command succeeds.
check() {
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
# mode_owner PATH MODE USER GROUP
mode_owner() {
  local got
  got=$(stat -c '%a %U %G' "$1" 2>/dev/null) || { fail "$1 missing"; return; }
  [ "$got" = "$2 $3 $4" ] && ok "$1 $got" || fail "$1 is '$got', want '$2 $3 $4'"
}
UNITS=(postern-controller.service postern-relay.service postern-connector.service
  postern-client@.service)
MAN=(man1/postern.1 man1/postern-client.1 man1/postern-ctl.1 man8/postern-controller.8
  man8/postern-relay.8 man8/postern-connector.8 man8/postern-doctor.8 man5/postern.conf.5)
EXAMPLES=(controller relay connector client)
# Everything on the root's filesystem, less what apt and dpkg keep for
# themselves (caches, logs, their databases).
snapshot() {
  find / -xdev \( -path /var/cache -o -path /var/log -o -path /var/lib/dpkg -o \
    -path /var/lib/apt -o -path /tmp -o -path /var/tmp \) -prune -o -print | LC_ALL=C sort
}

getent passwd postern >/dev/null && fail "a postern user exists before installation"

echo "=== apt install ./$(basename "$DEB")"
cd "$(dirname "$DEB")"
if ! apt install -y -q "./$(basename "$DEB")" >/tmp/apt-install.log 2>&1; then
  cat /tmp/apt-install.log
  fail "apt install"
  exit 1
fi
ok "apt install"
check "dpkg: postern installed" dpkg-query -W -f='${Status}\n' postern
dpkg-query -W -f='${Status}' postern | grep -q 'install ok installed' || fail "postern status"
check "dpkg --verify postern (md5sums)" dpkg --verify postern
dpkg-query -W -f='Depends: ${Depends}\n' postern

echo "=== the postern system user"
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd postern) || fail "no postern user"
if [ -n "${uid:-}" ]; then
  [ "$uid" -lt 1000 ] && ok "uid $uid is a system uid" || fail "uid $uid is not a system uid"
  [ "$home" = /var/lib/postern ] && ok "home $home" || fail "home is $home"
  [ "$shell" = /usr/sbin/nologin ] && ok "shell $shell" || fail "shell is $shell"
  [ "$(getent group postern | cut -d: -f3)" = "$gid" ] && ok "group postern ($gid)" ||
    fail "primary group is not postern"
fi

echo "=== file layout"
mode_owner /usr/bin/postern 755 root root
mode_owner /var/lib/postern 750 postern postern
mode_owner /etc/postern 750 root postern
mode_owner /etc/postern/client 750 root postern
for u in "${UNITS[@]}"; do mode_owner "/lib/systemd/system/$u" 644 root root; done
for f in README.md operations.md copyright changelog.Debian.gz; do
  mode_owner "/usr/share/doc/postern/$f" 644 root root
done
for e in "${EXAMPLES[@]}"; do mode_owner "/usr/share/doc/postern/examples/$e.conf" 644 root root; done
for m in "${MAN[@]}"; do
  mode_owner "/usr/share/man/$m.gz" 644 root root
  zcat "/usr/share/man/$m.gz" 2>/dev/null | grep -q '^\.TH' || fail "$m.gz is not a man page"
done
# Nothing else: a file the package installs is listed here on purpose.
unexpected=$(dpkg -L postern | while read -r f; do
  [ -d "$f" ] && continue
  case $f in
  /usr/bin/postern | /lib/systemd/system/postern-*.service | /usr/share/doc/postern/* | \
    /usr/share/man/man[158]/postern*.gz) ;;
  *) echo "$f" ;;
  esac
done)
[ -z "$unexpected" ] && ok "no unexpected files" || fail "unexpected files: $unexpected"
check "postern version runs (every shared library resolved)" postern version
# the libraries postern loads on first use (dlopen: not seen by ldd or
# postern version) come with the package's Depends
for so in libpq.so.5 libsqlite3.so.0 libmicrohttpd.so.12 libjwt-gnutls.so.0 \
  libcurl-gnutls.so.4 libnftables.so.1; do
  check "$so installed (loaded on first use)" sh -c "ldconfig -p | grep -q '^[[:space:]]*$so '"
done
check "postern --help" sh -c 'postern --help >/dev/null'
# the daemons run as postern: the binary works for that user
check "postern version as user postern" runuser -u postern -- postern version

echo "=== systemd-analyze verify"
for u in "${UNITS[@]}"; do
  if out=$(systemd-analyze verify --man=no "/lib/systemd/system/$u" 2>&1) && [ -z "$out" ]; then
    ok "verify $u"
  else
    fail "verify $u: $out"
  fi
done
# the template, instantiated as a profile would be
mkdir -p /tmp/inst
cp /lib/systemd/system/postern-client@.service /tmp/inst/postern-client@work.service
if out=$(systemd-analyze verify --man=no /tmp/inst/postern-client@work.service 2>&1) &&
   [ -z "$out" ]; then
  ok "verify postern-client@work.service"
else
  fail "verify postern-client@work.service: $out"
fi

echo "=== systemd-analyze security --offline=true (exposure <= 2.0)"
for u in postern-controller.service postern-relay.service postern-connector.service \
  /tmp/inst/postern-client@work.service; do
  out=$(systemd-analyze security --offline=true --no-pager "$u" 2>&1)
  level=$(sed -nE 's/.*Overall exposure level for [^:]*: ([0-9]+\.[0-9]+).*/\1/p' <<<"$out")
  if [ -z "$level" ]; then
    fail "security $u: no exposure level in: $out"
  elif [ "${u#/tmp}" != "$u" ]; then
    echo "info  exposure $(basename "$u"): $level (a client runs with CAP_NET_ADMIN)"
  elif awk -v l="$level" 'BEGIN { exit !(l <= 2.0) }'; then
    ok "exposure $u: $level"
  else
    echo "$out"
    fail "exposure $u: $level > 2.0"
  fi
done
# each role's sandbox says what it needs
for u in controller relay connector client@; do
  f=/lib/systemd/system/postern-$u.service
  for k in Type=notify WatchdogSec= User=postern NoNewPrivileges=yes ProtectSystem=strict \
    ProtectHome=yes PrivateTmp=yes RestrictAddressFamilies= SystemCallFilter=@system-service \
    CapabilityBoundingSet= StateDirectory=postern/; do
    grep -q "^$k" "$f" || fail "$f: no $k"
  done
done
grep -qx 'CapabilityBoundingSet=' /lib/systemd/system/postern-connector.service ||
  fail "the connector must hold no capability"

echo "=== enable, keep state, purge"
# enable units and leave state as a running role would (enroll and init run
# as postern), so purge has something to clean
use_it() {
  systemctl enable -q postern-relay.service postern-client@work.service || fail "systemctl enable"
  ls /etc/systemd/system/multi-user.target.wants/postern-relay.service >/dev/null 2>&1 ||
    fail "enable made no link"
  runuser -u postern -- sh -c 'mkdir -p -m 0700 /var/lib/postern/relay && echo k >/var/lib/postern/relay/key.pem' ||
    fail "postern cannot create its state directory"
}
use_it
if ! apt-get purge -y -q postern >/tmp/apt-purge.log 2>&1; then
  cat /tmp/apt-purge.log
  fail "apt-get purge postern"
fi
dpkg-query -W -f='${Status}' postern 2>/dev/null | grep -q 'ok installed' && fail "postern still installed"
getent passwd postern >/dev/null && ok "the postern user stays (Debian policy)" ||
  fail "purge removed the postern user"
left=$(find / -xdev \( -path /var/cache -o -path /var/log -o -path /tmp \) -prune -o \
  \( -name '*postern*' -o -user postern -o -group postern \) -print)
[ -z "$left" ] && ok "no file named postern or owned by it" || fail "left after purge: $left"

# Once more with the dependencies in place, to compare whole trees: remove
# keeps the state, purge takes it, and the tree is what it was before.
snapshot >/tmp/before2.list
check "dpkg -i again" sh -c "dpkg -i '$DEB' >/tmp/dpkg-i.log 2>&1"
use_it
check "dpkg -r postern" sh -c 'dpkg -r postern >/tmp/dpkg-r.log 2>&1'
[ -e /var/lib/postern/relay/key.pem ] && ok "remove keeps the state" || fail "remove deleted the state"
[ -e /usr/bin/postern ] && fail "remove left /usr/bin/postern"
check "dpkg --purge postern" sh -c 'dpkg --purge postern >/tmp/dpkg-purge.log 2>&1'
snapshot >/tmp/after2.list
extra=$(LC_ALL=C comm -13 /tmp/before2.list /tmp/after2.list)
missing=$(LC_ALL=C comm -23 /tmp/before2.list /tmp/after2.list)
[ -z "$extra" ] && ok "purge left no file" || fail "left after purge: $extra"
[ -z "$missing" ] && ok "purge removed nothing else" || fail "gone after purge: $missing"

echo "=== $fails failure(s)"
[ "$fails" -eq 0 ]
