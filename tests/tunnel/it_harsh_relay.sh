#!/bin/bash
# The harsh network, relay-UDP path only (it_tunnel_harsh.sh).
exec bash "$(dirname "$0")/it_tunnel_harsh.sh" "$1" relay
