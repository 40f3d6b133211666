#!/bin/bash
# The harsh network, direct path only (it_tunnel_harsh.sh).
exec bash "$(dirname "$0")/it_tunnel_harsh.sh" "$1" direct
