#!/bin/bash
# Spoofed and replayed packets, probe floods: no path move, no amplification (it_nat_paths.sh).
exec bash "$(dirname "$0")/it_nat_paths.sh" "$1" negative
