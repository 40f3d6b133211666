#!/bin/bash
# The OIDC login suite (it_oidc.sh: real provider) on the PostgreSQL back
# end: a private PostgreSQL cluster started and stopped by the suite.
PN_TEST_STORE=pg exec bash "$(dirname "$0")/it_oidc.sh" "$@"
