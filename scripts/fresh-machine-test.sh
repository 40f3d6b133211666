#!/bin/bash
# Prove the README's test command works on a machine with none of the -dev
# packages: make a minimal Debian bookworm root with debootstrap (once),
# clone this repository into it, and run scripts/test.sh there (which runs
# scripts/deps.sh first).  Needs root and access to a Debian mirror.
#
#   scripts/fresh-machine-test.sh [ROOTDIR]     (default /var/tmp/postern-fresh)
#
# The root is reused between runs (delete it for a truly fresh start); each
# run clones the current HEAD anew.  /proc, /sys and /run are mounted in a
# private mount namespace, so nothing stays mounted afterwards.  Extra
# environment (PN_TEST_STAGES, PN_FUZZ_SECONDS, PN_TEST_JOBS) is passed on.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
R=${1:-/var/tmp/postern-fresh}
MIRROR=${PN_MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" -eq 0 ] || { echo "needs root (debootstrap, chroot)"; exit 2; }
case $R in "$SRC"/*) echo "keep $R outside the repository"; exit 2 ;; esac
if ! command -v debootstrap >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if [ ! -x "$R/usr/bin/apt-get" ]; then
  echo "fresh: debootstrap bookworm into $R"
  debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$R.debootstrap.log" 2>&1 ||
    { tail -20 "$R.debootstrap.log"; exit 1; }
fi
cp /etc/resolv.conf "$R/etc/resolv.conf"
# debootstrap writes no /etc/hosts (the installer does, on a real machine);
# `ip netns exec` bind-mounts /etc/netns/<ns>/hosts over it, so it must exist.
[ -e "$R/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
# Packaged daemons (haproxy, ...) must not start inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod +x "$R/usr/sbin/policy-rc.d"
rm -rf "$R/src/postern"
mkdir -p "$R/src"
git clone -q "$SRC" "$R/src/postern"
echo "fresh: testing $(git -C "$R/src/postern" log --oneline -1)"

env_args=(PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb)
for v in PN_TEST_STAGES PN_FUZZ_SECONDS PN_TEST_JOBS PN_TEST_ISOLATE; do
  [ -n "${!v:-}" ] && env_args+=("$v=${!v}")
done
# "/" must be a mount point for `ip netns exec`, hence the bind mount of R.
unshare --mount --propagation private bash -c '
  R=$1; shift
  mount --bind "$R" "$R" && mount -t proc proc "$R/proc" && mount -t sysfs sys "$R/sys" &&
  mount -t tmpfs tmpfs "$R/run" && mkdir -p "$R/run/lock" &&
  exec chroot "$R" /usr/bin/env -i "$@" bash -c "cd /src/postern && bash scripts/test.sh"
' fresh "$R" "${env_args[@]}"
