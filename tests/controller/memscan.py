#!/usr/bin/env python3
"""memscan.py KEYFILE PID...: count occurrences of an Ed25519 private key
(the 32-byte seed of its PKCS#8 PEM, and the two halves of SHA-512(seed):
the clamped secret scalar and the nonce prefix) in every readable mapping
of each process (/proc/PID/mem, needs root).  Prints "PID hits regions" per
process and exits 0.  Reads in chunks (a key straddling two chunks is still
found); mappings over 8 GiB are skipped: only a sanitizer's shadow memory is
that large (terabytes of never-touched zero pages), never the heap.

memscan.py text:STRING PID...: the same count for the bytes of STRING (a
canary sent through a tunnel, tests/relay/relay_canary.sh)."""
import hashlib
import re
import subprocess
import sys


def needles(keyfile):
    if keyfile.startswith("text:"):
        return [keyfile[5:].encode()]
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    seed = der[-32:]  # PKCS#8 Ed25519: ... OCTET STRING { OCTET STRING seed }
    h = bytearray(hashlib.sha512(seed).digest())
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return [seed, bytes(h[:32]), bytes(h[32:])]


CHUNK = 16 << 20
HUGE = 8 << 30


def scan(pid, keys):
    hits = regions = 0
    keylen = max(len(k) for k in keys)  # all needles of one length
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if not m or m.group(3)[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
                continue
            lo, hi = int(m.group(1), 16), int(m.group(2), 16)
            if hi - lo > HUGE:
                continue
            got, tail = 0, b""
            try:
                mem.seek(lo)
                for off in range(lo, hi, CHUNK):
                    data = tail + mem.read(min(CHUNK, hi - off))
                    for k in keys:
                        got += data.count(k)
                    # keep the last bytes so a key across the boundary counts
                    # once: drop whole needles already counted in the tail
                    tail = data[-(keylen - 1):]
            except (OSError, ValueError, OverflowError, MemoryError):
                pass
            regions += 1
            hits += got
    return hits, regions


def main():
    keys = needles(sys.argv[1])
    for pid in sys.argv[2:]:
        hits, regions = scan(pid, keys)
        print(pid, hits, regions)


main()
