#!/bin/bash
# test_store (the store unit suite) on the PostgreSQL back end: a private
# PostgreSQL 15 cluster (pg_cluster.sh), started here and stopped afterwards.
set -u
BUILD=${1:-.}
. "$(dirname "$0")/pg_cluster.sh"
trap pg_stop EXIT
pg_start || { echo "could not start PostgreSQL"; exit 1; }
PN_TEST_STORE_URL=$PG_URL "$BUILD/tests/controller/test_store"
