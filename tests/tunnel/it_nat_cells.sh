#!/bin/bash
# NAT lab cells, direct by plain hole punching (it_nat.sh): open x open,
# open x eim and eim x eim, 64 MiB each; time to direct p50 over 5
# tunnels for open x eim and eim x eim.
rc=0
NAT_TTD=5 bash "$(dirname "$0")/it_nat.sh" "$1" open:eim:direct eim:eim:direct || rc=1
bash "$(dirname "$0")/it_nat.sh" "$1" open:open:direct || rc=1
exit $rc
