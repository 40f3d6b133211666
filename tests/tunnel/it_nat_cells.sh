#!/bin/bash
# NAT lab cells: the expected path per pair of NAT kinds (it_nat.sh).
exec bash "$(dirname "$0")/it_nat.sh" "$1" eim:eim:direct open:eim:direct sym:sym:relay
