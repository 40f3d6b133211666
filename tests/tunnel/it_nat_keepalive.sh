#!/bin/bash
# NAT mapping expiry and adapted keepalives (it_nat_paths.sh).
exec bash "$(dirname "$0")/it_nat_paths.sh" "$1" keepalive
