#!/bin/bash
# $BROWSER for `postern client login` in the tests: drives the provider's
# pages with browse.mjs as user $PN_OIDC_USER; output to $PN_OIDC_BROWSE_LOG.
exec node "$(dirname "$0")/browse.mjs" ${PN_OIDC_BROWSE_MODE:-} "$1" "${PN_OIDC_USER:-alice}" \
	>>"${PN_OIDC_BROWSE_LOG:-/dev/null}" 2>&1
