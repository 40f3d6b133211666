#ifndef PN_RELAY_BENCH_H
#define PN_RELAY_BENCH_H
/* pn-relay-bench internals shared by relay_bench.c (threads, Postern,
 * rclient, main) and relay_bench_turn.c (the coturn generator). */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

extern const char *server, *turn_user, *pass, *realm;
extern unsigned nsess, size, ntx, npk;
extern int idle, rx_fd, *tx_fds;
extern struct sockaddr_in tx_to;
extern uint8_t **pkts;
extern size_t pkt_len;

void die(const char *m);
int udp_sock(struct sockaddr_in *bound);
void set_timeout(int fd, int ms);
/* Send at full rate from tx_fds[0..ntx) to tx_to, count at rx_fd; print. */
void blast(void);
/* Print "ready N" and hold until stdin closes. */
void hold(void);
int run_coturn(void);
#endif
