#!/bin/bash
# A flow across relay -> direct -> relay in the NAT lab (it_nat.sh).
exec bash "$(dirname "$0")/it_nat.sh" "$1" switch
