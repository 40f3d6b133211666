#!/bin/bash
# The SQL-injection sweep (it_sqli.sh) on PostgreSQL: a private cluster
# (pg_cluster.sh) started and stopped by the test.
PN_TEST_STORE=pg exec bash "$(dirname "$0")/it_sqli.sh" "$@"
