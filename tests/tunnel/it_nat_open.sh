#!/bin/bash
# NAT lab cell without NATs (it_nat.sh): open x open -> direct, 64 MiB.
exec bash "$(dirname "$0")/it_nat.sh" "$1" open:open:direct
