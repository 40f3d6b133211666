#!/bin/bash
# The controller API suite (api_test.sh) on the PostgreSQL back end: a
# private PostgreSQL 15 cluster (pg_cluster.sh) started and stopped by the
# suite.
PN_TEST_STORE=pg exec bash "$(dirname "$0")/api_test.sh" "$@"
