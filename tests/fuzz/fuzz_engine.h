/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef FUZZ_ENGINE_H
#define FUZZ_ENGINE_H

/*
 * The engine the control-plane fuzz targets drive: two net_null ports, one
 * worker's worth of state (never started: changes publish and synchronize
 * at once), every module a configuration or an RPC reaches. Host
 * interfaces are never created, so nothing a fuzzer writes can make a
 * device, and IPVS health checks, which open their sockets on a host
 * interface, fail without sending anything.
 */

#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>
#include <rte_mbuf.h>

#include "pgt_conntrack.h"
#include "pgt_ipvs.h"
#include "pgt_neigh.h"
#include "pgt_pipeline.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_route.h"
#include "pgt_rpc.h"
#include "pgt_ruleset.h"
#include "pgt_test.h"

/*
 * Start EAL (prefix @p name) and every module; abort() if one fails. The
 * packet pools are returned for targets that make packets.
 */
static inline void
fuzz_engine_init(const char *name, struct rte_mempool **pool,
	struct rte_mempool **indirect)
{
	static const char *const vdevs[] = { "net_null0", "net_null1", NULL };
	struct pgt_pipeline_conf conf;

	if (pgt_test_eal(name, vdevs) < 0)
		abort();
	*pool = rte_pktmbuf_pool_create("fuzz", 4095, 0, PGT_PKT_PRIV_SIZE,
		RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	*indirect = rte_pktmbuf_pool_create("fuzzi", 1023, 0,
		PGT_PKT_PRIV_SIZE, 0, SOCKET_ID_ANY);
	conf = (struct pgt_pipeline_conf){ .nb_workers = 1, .pool = *pool,
		.indirect_pool = *indirect };
	if (*pool == NULL || *indirect == NULL || pgt_rcu_init(1) != 0 ||
			pgt_port_init(1, *pool, 256, 256) != 0 ||
			pgt_neigh_init(64, 1, *pool) != 0 ||
			pgt_route_init(64) != 0 || pgt_ct_init(1, 256) != 0 ||
			pgt_ipvs_init(1) != 0 ||
			pgt_ruleset_init(1, 1024) != 0 ||
			pgt_pipeline_init(&conf) != 0)
		abort();
}

/*
 * The control-plane targets' LLVMFuzzerInitialize(): the engine under
 * EAL prefix @p name, nothing else.
 */
#define FUZZ_ENGINE_TARGET(name) \
int LLVMFuzzerInitialize(int *argc, char ***argv); \
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
int \
LLVMFuzzerInitialize(int *argc, char ***argv) \
{ \
	struct rte_mempool *pool, *indirect; \
 \
	(void)argc; \
	(void)argv; \
	fuzz_engine_init(name, &pool, &indirect); \
	return 0; \
}

/* Answer one request as the socket server would; the answer is dropped. */
static inline void
fuzz_engine_handle(json_t *req)
{
	json_t *resp = pgt_rpc_handle(req);
	char *text = resp != NULL ? json_dumps(resp, JSON_COMPACT) : NULL;

	free(text);
	json_decref(resp);
}

/* Call @p method with @p params (reference stolen). */
static inline void
fuzz_engine_call(const char *method, json_t *params)
{
	json_t *req = json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0",
		"id", 1, "method", method, "params", params);

	if (req == NULL)
		abort();
	fuzz_engine_handle(req);
	json_decref(req);
}

/* What the management loop does between requests. */
static inline void
fuzz_engine_poll(void)
{
	pgt_neigh_poll();
	pgt_ruleset_poll();
	pgt_ct_poll();
	pgt_ipvs_poll();
}

#endif /* FUZZ_ENGINE_H */
