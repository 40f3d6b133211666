#!/usr/bin/env python3
"""The man pages (man/*.scd) against the binary they document.

For each page and the `--help` of its command:
  - every option the help shows is defined in the page (a definition line
    starts with *--option*), and every option the page defines is one the
    help shows;
  - every --option the page mentions anywhere exists in some command's help.
For postern.conf(5) and each role's option table (the keys `--check-config`
prints, the "[section] key = default (SIGHUP reloads it)" lines of --help):
  - the same sections and keys, both ways;
  - for each key: the same flag ("Flag *--x*"), the same default ("Default
    X", or none), and "reloadable" exactly when SIGHUP reloads it.
With scdoc installed, every page also renders.

usage: man_pages.py POSTERN_BINARY SOURCE_DIR
"""
import re
import shutil
import subprocess
import sys

PN, SRC = sys.argv[1], sys.argv[2]
MAN = SRC + "/man"
# Other programs' flags in examples of the help text (curl's).
FOREIGN = {"--socks5-hostname"}
PAGES = {
    "postern.1": [],
    "postern-client.1": ["client"],
    "postern-ctl.1": ["ctl"],
    "postern-controller.8": ["controller"],
    "postern-relay.8": ["relay"],
    "postern-connector.8": ["connector"],
    "postern-doctor.8": ["doctor"],
}
# Just enough flags for --check-config to accept the command line.
MINIMAL = {
    "controller": ["--data", "/x"],
    "relay": ["--state", "/x", "--udp", "127.0.0.1:0"],
    "connector": ["--state", "/x"],
    "client": ["--state", "/x", "--socks", "127.0.0.1:1"],
}
OPT = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")

fails = 0
checks = 0


def ok(msg):
    global checks
    checks += 1
    print("ok   - " + msg)


def bad(msg):
    global checks, fails
    checks += 1
    fails += 1
    print("FAIL - " + msg)


def expect(cond, msg, why=""):
    if cond:
        ok(msg)
    else:
        bad(msg + (": " + why if why else ""))


def run(args):
    p = subprocess.run([PN] + args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def help_text(cmd):
    rc, out = run(cmd + ["--help"])
    if rc != 0:
        bad("postern %s --help exits %d" % (" ".join(cmd), rc))
    return out


def page(name):
    with open("%s/%s.scd" % (MAN, name)) as f:
        return f.read()


# ------------------------------------------------------------ options --
helps = {name: help_text(cmd) for name, cmd in PAGES.items()}
all_help = set()
for h in helps.values():
    all_help |= set(OPT.findall(h)) - FOREIGN

for name, cmd in PAGES.items():
    text = page(name)
    shown = set(OPT.findall(helps[name])) - FOREIGN
    defined = set()
    for line in text.splitlines():
        if line.startswith("*-"):
            defined |= set(re.findall(r"\*(--[a-z][a-z0-9-]*)\*", line))
    what = "postern %s --help" % " ".join(cmd) if cmd else "postern --help"
    missing = sorted(shown - defined)
    expect(not missing, "%s: every option of %s is defined" % (name, what),
           "not in the page: " + " ".join(missing))
    extra = sorted(defined - shown)
    expect(not extra, "%s: every option it defines is in %s" % (name, what),
           "not in the help: " + " ".join(extra))
    stale = sorted(set(OPT.findall(text)) - all_help - FOREIGN)
    expect(not stale, "%s: every option it mentions exists" % name,
           "no command has: " + " ".join(stale))

# --------------------------------------------------------------- keys --
# The tables: keys from --check-config, flag/default/reload from --help.
table = {}  # (section, key) -> {"flag", "default", "reload"}
for role, args in MINIMAL.items():
    rc, out = run([role, "run"] + args + ["--check-config"])
    if rc != 0:
        bad("postern %s run --check-config exits %d: %s" % (role, rc, out))
        continue
    sec = None
    keys = set()
    for line in out.splitlines():
        m = re.match(r"^\[([a-z]+)\]$", line)
        if m:
            sec = m.group(1)
        m = re.match(r"^(?:# )?([a-z_0-9]+) =", line)
        if m and sec:
            keys.add((sec, m.group(1)))
    flag = None
    described = set()
    for line in helps["postern-client.1" if role == "client" else
                     "postern-%s.8" % role].splitlines():
        m = re.match(r"^ {2,12}(--[a-z][a-z0-9-]*)", line)
        if m:
            flag = m.group(1)
        m = re.match(r"^ +\[([a-z]+)\] ([a-z_0-9]+)(?: = (.*?))?(  \(SIGHUP reloads it\))?$", line)
        if m:
            k = (m.group(1), m.group(2))
            described.add(k)
            d = m.group(3)
            table[k] = {"flag": flag, "default": d.strip('"') if d is not None else None,
                        "reload": bool(m.group(4))}
    expect(keys == described, "%s: --check-config and --help list the same keys" % role,
           "only in one: %s" % sorted(keys ^ described))

conf = page("postern.conf.5")
doc = {}  # (section, key) -> paragraph
sec = None
cur = None
for line in conf.splitlines():
    m = re.match(r"^# \[([a-z]+)\]", line)
    if m:
        sec, cur = m.group(1), None
        continue
    if line.startswith("# "):
        sec, cur = None, None
        continue
    m = re.match(r"^\*([a-z_0-9]+)\* = ", line)
    if m and sec:
        cur = (sec, m.group(1))
        if cur in doc:
            bad("postern.conf.5: %s.%s documented twice" % cur)
        doc[cur] = line
        continue
    if cur and line.startswith("\t"):
        doc[cur] += " " + line.strip()
    elif not line.strip():
        cur = None

missing = sorted("%s.%s" % k for k in set(table) - set(doc))
expect(not missing, "postern.conf.5: every key of every role's table is documented",
       "missing: " + " ".join(missing))
extra = sorted("%s.%s" % k for k in set(doc) - set(table))
expect(not extra, "postern.conf.5: every key it documents is in a role's table",
       "no such key: " + " ".join(extra))
wrong = []
for k in sorted(set(doc) & set(table)):
    t, p = table[k], doc[k]
    name = "%s.%s" % k
    m = re.search(r"Flag \*(--[a-z0-9-]+)\*", p)
    if (m.group(1) if m else None) != t["flag"]:
        wrong.append("%s: flag %s, table %s" % (name, m.group(1) if m else None, t["flag"]))
    m = re.search(r"Default (\S+?)\.?(?:\s|$)", p)
    if (m.group(1) if m else None) != t["default"]:
        wrong.append("%s: default %s, table %s" % (name, m.group(1) if m else None,
                                                   t["default"]))
    if ("reloadable" in p) != t["reload"]:
        wrong.append("%s: page says %sreloadable" % (name, "" if "reloadable" in p else "not "))
expect(not wrong, "postern.conf.5: flags, defaults and reloading agree with the tables",
       "; ".join(wrong))

# -------------------------------------------------------------- scdoc --
scdoc = shutil.which("scdoc")
if scdoc:
    for name in list(PAGES) + ["postern.conf.5"]:
        with open("%s/%s.scd" % (MAN, name)) as f:
            p = subprocess.run([scdoc], stdin=f, capture_output=True, text=True)
        expect(p.returncode == 0 and ".TH" in p.stdout, "%s renders with scdoc" % name,
               p.stderr.strip())
else:
    print("skip - scdoc not installed: pages not rendered")

print("man_pages: %d of %d checks failed" % (fails, checks))
sys.exit(1 if fails else 0)
