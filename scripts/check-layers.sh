#!/bin/bash
# Layering rule (docs/foundation.md): a library includes only its own headers
# and headers of libraries on a strictly lower tier; no library includes
# src/app.  Every directory under src/ must have a tier.  Fails (exit 1)
# listing every offending include.  Usage: check-layers.sh [source root]
set -uo pipefail
ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
declare -A TIER=(
	[core]=0 [trust]=1 [ctlapi]=2 [node]=3
	[relay]=4 [tunnel]=4 [controller]=4
	[connector]=5 [client]=5
	[app]=9
)
bad=0
for dir in "$ROOT"/src/*/; do
	mod=$(basename "$dir")
	[ -n "${TIER[$mod]:-}" ] || {
		echo "layers: src/$mod has no tier in scripts/check-layers.sh"
		bad=1
		continue
	}
	[ "$mod" = app ] && continue
	while IFS=: read -r file line inc; do
		# "dir/x.h" names a module; a path climbing out ("../x.h") is never allowed.
		if [[ "$inc" =~ \"\.\./ ]]; then
			echo "layers: ${file#"$ROOT"/}:$line: $mod includes a path outside its module"
			bad=1
			continue
		fi
		dep=$(sed -E 's/.*#[[:space:]]*include[[:space:]]*"([A-Za-z0-9_]+)\/.*/\1/' <<<"$inc")
		[ "$dep" = "$mod" ] && continue
		t=${TIER[$dep]:-}
		if [ -z "$t" ] || [ "$t" -ge "${TIER[$mod]}" ]; then
			echo "layers: ${file#"$ROOT"/}:$line: $mod (tier ${TIER[$mod]}) includes $dep (tier ${t:-?})"
			bad=1
		fi
	done < <(find "$dir" -name '*.[ch]' -print0 |
		xargs -0 -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(\.\./|[A-Za-z0-9_]+/)' /dev/null)
done
[ "$bad" = 0 ] && echo "layers: ok"
exit "$bad"
