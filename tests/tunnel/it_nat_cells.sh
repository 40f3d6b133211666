#!/bin/bash
# NAT lab cells, direct by plain hole punching (it_nat.sh): open x eim and
# eim x eim, 64 MiB each, and the time to direct (median over 5 tunnels).
exec env NAT_TTD=5 bash "$(dirname "$0")/it_nat.sh" "$1" open:eim:direct eim:eim:direct
