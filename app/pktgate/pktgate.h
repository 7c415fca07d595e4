/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PKTGATE_H
#define PKTGATE_H

/* What the daemon's files share: its options, set-up and the offline mode. */

#include <stdbool.h>
#include <stdint.h>

#include <rte_mempool.h>

struct pktgate_options {
	const char *rpc_socket;
	const char *rpc_group;
	const char *rpc_tcp;		/* [ADDR:]PORT, or NULL: no TCP */
	const char *rpc_token_file;
	const char *config;
	const char *prometheus;
	uint32_t idle_sleep_us;
	uint32_t mbufs;
	uint32_t max_routes;
	uint32_t max_neigh;
	uint32_t max_rules;
	uint32_t conntrack_max;
	bool trace_all;		/* offline: every packet traced */
};

/* The packet buffers (set up by pktgate_setup()). */
extern struct rte_mempool *pktgate_pool;
/* Worker lcores: every lcore but the main one. */
extern unsigned int pktgate_nb_workers;

/*
 * Create the buffers and every module's state for nb_workers workers, over
 * the ports EAL created. @return 0 or a negative errno (logged).
 */
int pktgate_setup(const struct pktgate_options *o);

/* Free what pktgate_setup() made (workers stopped). */
void pktgate_teardown(void);

/*
 * pktgate --offline ...: the pipeline over pcap files, without NIC,
 * hugepages or root (offline.c). @return the process exit status.
 */
int pktgate_offline(int argc, char **argv);

#endif /* PKTGATE_H */
