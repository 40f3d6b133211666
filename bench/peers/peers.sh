# Peer tunnels for scripts/bench.sh (sourced, not run).  Each peer has
#   peer_<name>_prep   keys/certs/configs (not timed)
#   peer_<name>_start  starts both ends (timed as part of cold start);
#                      appends the pids it starts to $PIDS
#   peer_<name>_target "host tput_port echo_port" as seen from pnb-c
# The topology and helpers ($W, $C, $R, $S, bg) come from scripts/bench.sh.
#
#   pnb-c 10.204.1.1 ---- 10.204.1.2 pnb-r 10.204.2.2 ---- 10.204.2.1 pnb-s
#   overlays: wireguard 10.204.100.0/24, nebula 10.204.101.0/24
#   services in pnb-s: iperf3 :5201, TCP echo :7777 (all addresses)

# --- raw: no tunnel, the routed underlay (the ceiling) ---
peer_raw_prep() { :; }
peer_raw_start() { :; }
peer_raw_target() { echo "10.204.2.1 5201 7777"; }

# --- wireguard-go: userspace WireGuard (TUN) ---
peer_wg_prep() {
	(cd "$W" && umask 077 && wg genkey >wgc.key && wg pubkey <wgc.key >wgc.pub &&
		wg genkey >wgs.key && wg pubkey <wgs.key >wgs.pub)
}
peer_wg_start() {
	bg $C wireguard-go -f pnwgc
	bg $S wireguard-go -f pnwgs
	local i
	for i in $(seq 100); do
		ip -n pnb-c link show pnwgc >/dev/null 2>&1 && ip -n pnb-s link show pnwgs >/dev/null 2>&1 && break
		sleep 0.01
	done
	$C wg set pnwgc private-key "$W/wgc.key" listen-port 51820 \
		peer "$(cat "$W/wgs.pub")" allowed-ips 10.204.100.2/32 endpoint 10.204.2.1:51820
	$S wg set pnwgs private-key "$W/wgs.key" listen-port 51820 \
		peer "$(cat "$W/wgc.pub")" allowed-ips 10.204.100.1/32 endpoint 10.204.1.1:51820
	ip -n pnb-c addr add 10.204.100.1/24 dev pnwgc && ip -n pnb-c link set pnwgc up
	ip -n pnb-s addr add 10.204.100.2/24 dev pnwgs && ip -n pnb-s link set pnwgs up
}
peer_wg_target() { echo "10.204.100.2 5201 7777"; }

# --- nebula: userspace Noise over UDP (TUN) ---
peer_nebula_prep() {
	(cd "$W" && rm -f nca.* nc.* ns.* &&
		nebula-cert ca -name pnb -out-crt nca.crt -out-key nca.key &&
		nebula-cert sign -ca-crt nca.crt -ca-key nca.key -name c -ip 10.204.101.1/24 -out-crt nc.crt -out-key nc.key &&
		nebula-cert sign -ca-crt nca.crt -ca-key nca.key -name s -ip 10.204.101.2/24 -out-crt ns.crt -out-key ns.key) >/dev/null
	local h o u
	for h in c s; do
		if [ $h = c ]; then o=10.204.101.2 u=10.204.2.1; else o=10.204.101.1 u=10.204.1.1; fi
		cat >"$W/neb$h.yml" <<YML
pki: {ca: $W/nca.crt, cert: $W/n$h.crt, key: $W/n$h.key}
static_host_map: {"$o": ["$u:4242"]}
lighthouse: {am_lighthouse: false, hosts: []}
listen: {host: 0.0.0.0, port: 4242}
tun: {dev: pnneb$h, mtu: 1300}
logging: {level: error}
firewall:
  outbound: [{port: any, proto: any, host: any}]
  inbound: [{port: any, proto: any, host: any}]
YML
	done
}
peer_nebula_start() {
	bg $C nebula -config "$W/nebc.yml"
	bg $S nebula -config "$W/nebs.yml"
}
peer_nebula_target() { echo "10.204.101.2 5201 7777"; }

# --- stunnel4: TLS client proxy in pnb-c, TLS server proxy in pnb-s ---
peer_stunnel_prep() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/st.key" \
		-out "$W/st.crt" -days 2 -subj /CN=pnb 2>/dev/null
	printf 'foreground = yes\npid =\n[t]\naccept = 10.204.2.1:8443\nconnect = 127.0.0.1:5201\ncert = %s\nkey = %s\n[e]\naccept = 10.204.2.1:8444\nconnect = 127.0.0.1:7777\ncert = %s\nkey = %s\n' \
		"$W/st.crt" "$W/st.key" "$W/st.crt" "$W/st.key" >"$W/sts.conf"
	printf 'foreground = yes\npid =\n[t]\nclient = yes\naccept = 127.0.0.1:7000\nconnect = 10.204.2.1:8443\n[e]\nclient = yes\naccept = 127.0.0.1:7001\nconnect = 10.204.2.1:8444\n' >"$W/stc.conf"
}
peer_stunnel_start() {
	bg $S stunnel4 "$W/sts.conf"
	bg $C stunnel4 "$W/stc.conf"
}
peer_stunnel_target() { echo "127.0.0.1 7000 7001"; }
