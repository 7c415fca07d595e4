/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: a stream of JSON-RPC requests as the socket server frames
 * and answers them (pgt_json_scan, jansson, pgt_rpc_handle), against every
 * method that changes only the daemon's own state: routes, addresses,
 * neighbours, ports' settings, the ruleset, sets, conntrack. Left out:
 * host_iface_add and ip_route_import, which create devices and read the
 * machine's routes. State carries from one input to the next.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <rte_mbuf.h>

#include "pgt_conntrack.h"
#include "pgt_json.h"
#include "pgt_neigh.h"
#include "pgt_pipeline.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_route.h"
#include "pgt_rpc.h"
#include "pgt_ruleset.h"
#include "pgt_test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const vdevs[] = { "net_null0", "net_null1", NULL };
	struct pgt_pipeline_conf conf;
	struct rte_mempool *pool, *indirect;

	(void)argc;
	(void)argv;
	if (pgt_test_eal("pgt_fuzz_rpc", vdevs) < 0)
		abort();
	pool = rte_pktmbuf_pool_create("fuzz", 1023, 0, PGT_PKT_PRIV_SIZE,
		RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	indirect = rte_pktmbuf_pool_create("fuzzi", 511, 0, PGT_PKT_PRIV_SIZE,
		0, SOCKET_ID_ANY);
	conf = (struct pgt_pipeline_conf){ .nb_workers = 1, .pool = pool,
		.indirect_pool = indirect };
	if (pool == NULL || indirect == NULL || pgt_rcu_init(1) != 0 ||
			pgt_port_init(1, pool, 64, 64) != 0 ||
			pgt_neigh_init(64, 1, pool) != 0 ||
			pgt_route_init(64) != 0 || pgt_ct_init(1, 64) != 0 ||
			pgt_ruleset_init(1, 1024) != 0 ||
			pgt_pipeline_init(&conf) != 0)
		abort();
	return 0;
}

static bool
allowed(const json_t *req)
{
	const char *m = json_string_value(json_object_get(req, "method"));

	return m == NULL || (strcmp(m, "host_iface_add") != 0 &&
		strcmp(m, "ip_route_import") != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct pgt_json_scan scan;
	json_t *req, *resp;
	char *text;
	int end;

	pgt_json_scan_reset(&scan);
	while (size > 0) {
		end = pgt_json_scan_feed(&scan, buf, size);
		if (end <= 0)
			break;	/* incomplete, or garbage: the server closes */
		req = json_loadb(buf, (size_t)end, 0, NULL);
		if (req == NULL)
			break;
		if (allowed(req)) {
			resp = pgt_rpc_handle(req);
			text = resp != NULL ? json_dumps(resp, JSON_COMPACT) :
				NULL;
			free(text);
			json_decref(resp);
		}
		json_decref(req);
		buf += end;
		size -= (size_t)end;
		pgt_json_scan_reset(&scan);
	}
	pgt_neigh_poll();
	pgt_ruleset_poll();
	pgt_ct_poll();
	return 0;
}
