#!/bin/bash
# The controller's OpenAPI document (src/controller/openapi.json, served at
# /v1/openapi.json) through a real validator: npm @apidevtools/swagger-parser
# (OpenAPI 3.1 schema, $refs), pinned by tests/openapi/package-lock.json and
# installed with npm ci.  tests/controller/test_openapi.c checks the
# document against the router's route tables; controller_api checks that
# the controller serves this very file.  No network namespaces needed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
command -v node >/dev/null && command -v npm >/dev/null || { echo "FAIL - node/npm missing"; exit 1; }
if [ ! -f "$HERE/node_modules/.package-lock.json" ] ||
	[ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
	log=$(mktemp)
	(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1 ||
		{ cat "$log"; rm -f "$log"; echo "FAIL - npm ci in tests/openapi"; exit 1; }
	rm -f "$log"
fi
NODE_PATH="$HERE/node_modules" exec timeout 120 node "$HERE/validate.mjs" "$SRC/src/controller/openapi.json"
