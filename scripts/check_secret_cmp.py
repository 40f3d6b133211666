#!/usr/bin/env python3
"""check_secret_cmp.py SRC_DIR [ALLOW_FILE]

Flags variable-time comparisons of secrets: every call of memcmp, bcmp,
strcmp, strncmp, strcasecmp or strncasecmp in SRC_DIR/**/*.c whose
arguments name a variable that looks like a secret (key, token, secret,
mac, cookie, hash, csrf, nonce, verifier, password, tag, sig, txid), unless
  - the name is a public value by construction (fingerprints "fpr", "kind",
    "prefix", key *names* of JSON/config tables: see PUBLIC below), or
  - the call's file and text are in the allow-list (one entry a line:
    "path/file.c: call text  # why it is not a secret").
Secrets are compared with pn_ct_memcmp (core/secret.h).  Exit 1 and one
line per finding if any.
"""
import os
import re
import sys

CALL = re.compile(r"\b(memcmp|bcmp|strcmp|strncmp|strcasecmp|strncasecmp)\s*\(")
SECRET = re.compile(r"(?i)(key|token|secret|mac|cookie|hash|csrf|nonce|verifier|passw|tag|sig|txid)")
# Identifiers that contain a secret-looking word but are public.
PUBLIC = re.compile(r"(?i)^(.*fpr.*|.*fingerprint.*|kind|.*prefix.*|.*_len|mac_addr|keys\[.*|"
                    r"ev_keys\[.*|.*->key_len|.*schema\[.*\]\.key|k->key|"
                    r"sig_alg|.*tag_name)$")


def args_of(text, start):
    """The top-level comma-separated arguments of the call opening at start."""
    depth, cur, out, i, quote = 0, "", [], start, None
    while i < len(text):
        c = text[i]
        if quote:
            cur += c
            if c == "\\":
                cur += text[i + 1]
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
            cur += c
        elif c == "(":
            depth += 1
            if depth > 1:
                cur += c
        elif c == ")":
            depth -= 1
            if depth == 0:
                out.append(cur.strip())
                return out, i
            cur += c
        elif c == "," and depth == 1:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
        i += 1
    return out, i


def secret_names(arg):
    arg = re.sub(r'"(\\.|[^"\\])*"', '""', arg)  # string literals are not variables
    names = re.findall(r"[A-Za-z_][A-Za-z0-9_]*(?:(?:->|\.)[A-Za-z_][A-Za-z0-9_]*|\[[^\]]*\])*", arg)
    return [n for n in names if SECRET.search(n) and not PUBLIC.match(n)
            and not re.match(r"^(sizeof|strlen|json_\w+|PN_\w+|pn_\w+)$", n)]


def main():
    src = sys.argv[1]
    allow = []
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    path, _, call = line.partition(":")
                    allow.append((path.strip(), " ".join(call.split())))
    found = 0
    for root, _, files in os.walk(src):
        for fn in sorted(files):
            if not fn.endswith(".c"):
                continue
            path = os.path.join(root, fn)
            rel = os.path.relpath(path, os.path.dirname(os.path.abspath(src)))
            text = open(path, encoding="utf-8", errors="replace").read()
            for m in CALL.finditer(text):
                args, end = args_of(text, m.end() - 1)
                names = [n for a in args[:2] for n in secret_names(a)]
                if not names:
                    continue
                call = " ".join(text[m.start():end + 1].split())
                if any(rel == p and c in call for p, c in allow):
                    continue
                line = text.count("\n", 0, m.start()) + 1
                print(f"{rel}:{line}: variable-time comparison of {', '.join(names)}: {call}")
                found += 1
    if found:
        print(f"{found} finding(s): compare secrets with pn_ct_memcmp, or add the call to "
              f"the allow-list with the reason it is not a secret")
        return 1
    print("no variable-time comparison of secret-named variables")
    return 0


sys.exit(main())
