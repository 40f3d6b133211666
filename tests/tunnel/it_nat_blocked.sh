#!/bin/bash
# NAT lab cells with UDP dropped on one side (it_nat.sh): that side on a
# relay over TLS.  64 MiB each.
exec bash "$(dirname "$0")/it_nat.sh" "$1" udpblock:eim:relay-tls eim:udpblock:relay-tls
