/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: a stream of JSON-RPC requests as the socket server frames
 * and answers them (pgt_json_scan, jansson, pgt_rpc_handle), against every
 * method that changes only the daemon's own state: routes, addresses,
 * neighbours, ports' settings, the ruleset, sets, conntrack, IPVS. Left out:
 * host_iface_add and ip_route_import, which create devices and read the
 * machine's routes. State carries from one input to the next.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_engine.h"
#include "pgt_json.h"

FUZZ_ENGINE_TARGET("pgt_fuzz_rpc")

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
	json_t *req;
	int end;

	pgt_json_scan_reset(&scan);
	while (size > 0) {
		end = pgt_json_scan_feed(&scan, buf, size);
		if (end <= 0)
			break;	/* incomplete, or garbage: the server closes */
		req = json_loadb(buf, (size_t)end, 0, NULL);
		if (req == NULL)
			break;
		if (allowed(req))
			fuzz_engine_handle(req);
		json_decref(req);
		buf += end;
		size -= (size_t)end;
		pgt_json_scan_reset(&scan);
	}
	fuzz_engine_poll();
	return 0;
}
