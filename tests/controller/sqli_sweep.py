#!/usr/bin/env python3
"""SQL-injection sweep of every route in openapi.json (it_sqli.sh).

For every operation: each path parameter, each query parameter and each
body field (and each field of a flow event) in turn carries each payload,
the rest of the request valid.  Prints one line per finding and a summary;
exit 1 on any finding:
  - a 5xx answer (500: the payload reached SQL as code or broke a statement)
    or no answer at all;
  - a write that accepted a payload but does not echo it back unchanged
    (stored as something other than data).
Usage: sqli_sweep.py setup|sweep OPENAPI URL CA ADMIN_KEY KEY_FILE CSR_FILE DIR
  setup: the fixtures through the API (one of each object, named as the
         sweep's valid values, and a second one of each object for PATCH);
         a connector enrolled with CSR_FILE (DIR/c.crt, its key KEY_FILE),
         DIR/refs.json (ids and keys), DIR/patch_ids (the PATCH targets)
  sweep: the sweep, with DIR/refs.json
"""
import http.client
import json
import os
import ssl
import sys
import time
import urllib.parse

PAYLOADS = [
    "x' OR '1'='1",
    "x' OR 1=1--",
    "x\"; DROP TABLE networks;--",
    "'; DELETE FROM policies; --",
    "x') UNION SELECT name, sql, 1, 1 FROM sqlite_master--",
    "1; UPDATE admin_keys SET revoked=1",
    "x' || (SELECT hash FROM admin_keys LIMIT 1) || '",
    "x'; SELECT pg_sleep(3);--",
    "%' AND '%'='",
    "\\'; --",
    "$1",
    "?",
    "x\u0000y",
    "' /*",
    "o'brien@x.example\"; DROP TABLE users;--",
]

mode, spec, url, ca, admin_key, key, csr_file, wdir = sys.argv[1:9]
doc = json.load(open(spec))
schemas = doc["components"]["schemas"]
csr = open(csr_file).read()
u = urllib.parse.urlsplit(url)
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
conns = {}
seq = [0]


def resolve(s):
    while "$ref" in s:
        s = schemas[s["$ref"].split("/")[-1]]
    return s


def uniq():
    seq[0] += 1
    return "sq%d" % seq[0]


def request(method, path, body, access):
    hdr = {}
    tls = ctx
    if access in ("ADMIN", "READ"):
        hdr["Authorization"] = "Bearer " + admin_key
    elif access == "SERVICE":
        hdr["Authorization"] = "Bearer " + refs["sa_key"]
    elif access == "COMPONENT":
        tls = mtls
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdr["Content-Type"] = "application/json"
    for attempt in range(3):
        c = conns.get(access)
        if c is None:
            c = conns[access] = http.client.HTTPSConnection(u.hostname, u.port, context=tls, timeout=30)
        try:
            c.request(method, path, body=data, headers=hdr)
            r = c.getresponse()
            if path.startswith("/v1/ctl/stream") and r.status == 200:
                c.close()  # a live event stream: the status is the answer
                conns.pop(access, None)
                return 200, b""
            return r.status, r.read()
        except (http.client.HTTPException, OSError) as e:
            c.close()
            conns.pop(access, None)
            err = e
            time.sleep(0.2)
    return 0, str(err).encode()


VALID = {  # a valid value for a body field, by name
    "name": lambda: uniq(), "network": lambda: "corp", "group": lambda: "eng",
    "user": lambda: "alice", "resource": lambda: "db", "service_account": lambda: None,
    "address": lambda: uniq() + ".corp.example", "protocols": lambda: ["tcp/443"],
    "email": lambda: uniq() + "@corp.example", "role": lambda: "readonly", "ttl": lambda: 60,
    "groups": lambda: ["eng"], "udp": lambda: "127.0.0.1:3478", "disabled": lambda: False,
    "csr": lambda: csr, "token": lambda: refs["token"], "api_key": lambda: admin_key,
    "version": lambda: "0.1.0", "redirect_uri": lambda: "http://127.0.0.1:9/cb",
    "code_challenge": lambda: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
}
EVENT = {"event": "open", "flow_id": "f1", "client_id": "c1", "user": "alice",
         "resource_id": "r1", "dest": "db.corp.example", "proto": "tcp", "path": "direct",
         "verdict": "allow", "reason": "ok", "port": 5432, "bytes_up": 0, "bytes_down": 0,
         "ts_ms": 1}


def base_body(op):
    rb = op.get("requestBody")
    if not rb:
        return None, {}
    s = resolve(rb["content"]["application/json"].get("schema", {}))
    props = s.get("properties", {})
    body = {}
    for f in s.get("required", []):
        if f == "events":
            body[f] = [dict(EVENT)]
        elif f in VALID:
            body[f] = VALID[f]()
        else:
            t = resolve(props.get(f, {})).get("type")
            body[f] = {"integer": 1, "boolean": False, "array": [], "object": {}}.get(t, "x")
    return body, props


def path_with(template, params):
    out = template
    for k, v in params.items():
        out = out.replace("{%s}" % k, urllib.parse.quote(v, safe=""))
    return out


def setup():
    """The fixtures; returns refs."""
    def ok(method, path, body=None, access="ADMIN", want=(200, 201)):
        st, resp = request(method, path, body, access)
        if st not in want:
            sys.exit("setup: %s %s -> %s %s" % (method, path, st, resp[:300]))
        return json.loads(resp) if resp else {}
    r = {}
    for name in ("", "patchme"):
        n = name or None
        ok("POST", "/v1/networks", {"name": n or "corp"})
        ok("POST", "/v1/resources", {"name": n or "db", "network": "corp",
                                      "address": (n or "db") + ".corp.example", "protocols": ["tcp/5432"]})
        ok("POST", "/v1/groups", {"name": n or "eng"})
        ok("POST", "/v1/users", {"name": n or "alice", "email": (n or "alice") + "@corp.example"})
        ok("POST", "/v1/relays", {"name": n or "r1", "udp": "127.0.0.1:3478"})
        sa = ok("POST", "/v1/service-accounts", {"name": n or "laptop", "groups": ["eng"]})
        c = ok("POST", "/v1/connectors", {"name": n or "c1", "network": "corp"})
        if not n:
            r["sa_key"], r["token"] = sa["api_key"], c["enrollment_token"]
    r["/v1/memberships"] = ok("POST", "/v1/memberships", {"group": "eng", "user": "alice"})["id"]
    r["/v1/policies"] = ok("POST", "/v1/policies", {"group": "eng", "resource": "db"})["id"]
    r["/v1/admin-keys"] = ok("POST", "/v1/admin-keys", {"name": "auditor", "role": "readonly"})["id"]
    r["/v1/service-accounts/{ref}/keys"] = ok("GET", "/v1/service-accounts/laptop/keys")["keys"][0]["id"]
    enr = ok("POST", "/v1/enroll", {"token": r["token"], "csr": csr}, "PUBLIC")
    with open(os.path.join(wdir, "c.crt"), "w") as f:
        f.write(enr["cert_pem"])
    r["/v1/credentials"] = ok("GET", "/v1/credentials")["credentials"][0]["serial"]
    # a token for the sweep's enrollments (never valid with its CSR payloads)
    r["token"] = ok("POST", "/v1/connectors", {"name": "c2", "network": "corp"})["enrollment_token"]
    r.update({"/v1/networks": "corp", "/v1/resources": "db", "/v1/groups": "eng",
              "/v1/users": "alice", "/v1/connectors": "c1", "/v1/relays": "r1",
              "/v1/service-accounts": "laptop"})
    pids = []
    for coll in ("networks", "resources", "groups", "users", "relays", "service-accounts", "connectors"):
        r["PATCH /v1/" + coll] = "patchme"
        pids.append(ok("GET", "/v1/%s/patchme" % coll)["id"])
    with open(os.path.join(wdir, "patch_ids"), "w") as f:
        f.write("\n".join(pids) + "\n")
    json.dump(r, open(os.path.join(wdir, "refs.json"), "w"))


if mode == "setup":
    refs = {}
    setup()
    sys.exit(0)
refs = json.load(open(os.path.join(wdir, "refs.json")))
mtls = ssl.create_default_context(cafile=ca)
mtls.check_hostname = False
mtls.load_cert_chain(os.path.join(wdir, "c.crt"), key)

findings = []
counts = {}
total = 0
events_sent = []  # (field, payload) of flow events the controller accepted


def judge(desc, method, path, body, access, payload, field=None, where=None):
    global total
    st, resp = request(method, path, body, access)
    total += 1
    counts[st] = counts.get(st, 0) + 1
    if st == 0 or st >= 500:
        findings.append("%s -> %s %s" % (desc, st, resp[:200]))
        return
    # No object is named by a payload: one in a path must find nothing, one
    # in a list's filter must match no row (an injected OR would).
    if where == "path" and 200 <= st < 300 and not path.startswith("/v1/ctl/"):
        findings.append("%s -> %s: a payload in the path found an object" % (desc, st))
        return
    if where == "query" and st == 200:
        try:
            got = json.loads(resp)
        except ValueError:
            got = None
        if isinstance(got, dict) and any(isinstance(v, list) and v for v in got.values()):
            findings.append("%s -> 200 with rows: a payload in a filter matched" % desc)
            return
    if field and field.startswith("event.") and 200 <= st < 300:
        events_sent.append((field[6:], payload))
        return
    if field and 200 <= st < 300 and method in ("POST", "PATCH"):
        try:
            got = json.loads(resp)
        except ValueError:
            return
        if isinstance(got, dict) and field in got and isinstance(got[field], str) \
                and got[field] != payload:
            findings.append("%s -> %s stored %r, not the payload" % (desc, st, got[field]))


for tmpl, item in doc["paths"].items():
    for method, op in item.items():
        method = method.upper()
        access = op["x-postern-access"]
        params = [p for p in op.get("parameters", []) if "name" in p]
        # a valid value for each path parameter: refs.json by the path before it
        # (PATCH: an object of its own, so accepted changes leave the fixtures alone)
        pvalid = {p["name"]: refs.get(method + " " + tmpl.split("/{%s}" % p["name"])[0],
                                      refs.get(tmpl.split("/{%s}" % p["name"])[0], "x"))
                  for p in params if p["in"] == "path"}
        if method == "DELETE":  # never delete the fixtures: a name that does not exist
            pvalid = {k: "nosuch" for k in pvalid}
        for payload in PAYLOADS:
            # path parameters
            for p in params:
                if p["in"] != "path":
                    continue
                pv = dict(pvalid)
                pv[p["name"]] = payload
                body, _ = base_body(op)
                judge("%s %s path %s=%r" % (method, tmpl, p["name"], payload), method,
                      path_with(tmpl, pv), body, access, payload, where="path")
            # query parameters
            for p in params:
                if p["in"] != "query":
                    continue
                q = urllib.parse.urlencode({p["name"]: payload})
                body, _ = base_body(op)
                judge("%s %s query %s=%r" % (method, tmpl, p["name"], payload), method,
                      path_with(tmpl, pvalid) + "?" + q, body, access, payload, where="query")
            # body fields
            body0, props = base_body(op)
            if body0 is None:
                continue
            for f, fs in props.items():
                t = resolve(fs).get("type")
                body, _ = base_body(op)
                if f == "events":
                    for ek in EVENT:
                        ev = dict(EVENT)
                        ev[ek] = payload
                        body["events"] = [ev]
                        judge("%s %s event.%s=%r" % (method, tmpl, ek, payload), method,
                              path_with(tmpl, pvalid), body, access, payload, "event." + ek)
                    continue
                body[f] = [payload] if t == "array" else {"x": payload} if t == "object" else payload
                judge("%s %s body %s=%r" % (method, tmpl, f, payload), method,
                      path_with(tmpl, pvalid), body, access, payload, f)

# accepted flow events: each payload is stored as the same text
st, resp = request("GET", "/v1/flow-events?limit=1000", None, "READ")
stored = json.loads(resp).get("flow_events", []) if st == 200 else []
for f, payload in events_sent:
    if not any(isinstance(e, dict) and payload in [str(v) for v in e.values()] for e in stored):
        findings.append("flow event %s=%r accepted but not found as sent (%d events listed)"
                        % (f, payload, len(stored)))
print("flow events accepted with a payload: %d, found as sent: %d"
      % (len(events_sent), len(events_sent) - sum(1 for x in findings if x.startswith("flow event"))))
for f in findings:
    print("FINDING", f)
print("requests=%d statuses=%s findings=%d" % (total, json.dumps(counts, sort_keys=True), len(findings)))
sys.exit(1 if findings else 0)
