#!/bin/bash
# NAT lab cells with a symmetric NAT (it_nat.sh): direct with one side
# symmetric (port prediction and birthday probing, tunnel/spray.h), either
# side; the relay over UDP when both are.  64 MiB each.
exec bash "$(dirname "$0")/it_nat.sh" "$1" eim:sym:direct sym:eim:direct sym:sym:relay-udp
