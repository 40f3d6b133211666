#!/bin/bash
# A roaming client: direct -> direct on its new address; relays lost under a direct tunnel (it_nat_paths.sh).
exec bash "$(dirname "$0")/it_nat_paths.sh" "$1" roam
