# Postern's rows for scripts/bench.sh (sourced).  Filled in as the relay,
# tunnel and connector land; until then it says what is pending.
postern_rows() {
	echo "bench: postern rows pending: needs the relay, tunnel/connector and client run" >&2
}
