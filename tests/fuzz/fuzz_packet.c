/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: one received frame through a worker's whole pipeline (parse,
 * reassembly, every hook with a ruleset of many matches and targets,
 * connection tracking and NAT, routing, ICMP answers, fragmentation, the
 * neighbour step), the connection table kept from one input to the next.
 *
 * Input: byte 0 chooses, bit by bit, the arrival port and which fields to
 * make plausible (so that most inputs get past the parse): destination MAC,
 * EtherType, IPv4 header checksum. The rest is the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_malloc.h>

#include "fuzz_engine.h"
#include "pgt_pipeline_priv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pgt_worker *w;
static struct rte_mempool *pool;

static const char rules[] =
	"*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	"-A PREROUTING -p udp -m udp --dport 53 -j CT --notrack\nCOMMIT\n"
	"*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
	":FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x5/0xff\n"
	"-A PREROUTING -j CONNMARK --save-mark\n"
	"-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 536\n"
	"-A POSTROUTING -m ttl --ttl-lt 3 -j TTL --ttl-set 9\nCOMMIT\n"
	"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n"
	":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
	"-A PREROUTING -d 10.1.0.1/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.2.0.2:80\n"
	"-A PREROUTING -p tcp -m tcp --dport 8022 -j REDIRECT --to-ports 22\n"
	"-A POSTROUTING -o port1 -p udp -j SNAT --to-source 10.2.0.1:1000-1003\n"
	"-A POSTROUTING -o port1 -j MASQUERADE\nCOMMIT\n"
	"*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	"-A FORWARD -m conntrack --ctstate INVALID -j LOG --log-prefix \"inv: \"\n"
	"-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
	"-A FORWARD -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n"
	"-A FORWARD -p udp -m multiport --dports 9,19 -j REJECT\n"
	"-A FORWARD -m connmark --mark 0x5 -m limit --limit 100/sec -j ACCEPT\n"
	"-A FORWARD -m conntrack --ctstate NEW -j ACCEPT\nCOMMIT\n";

static void
configure(void)
{
	static const char *const calls[][2] = {
		{ "ip_addr_add", "{\"address\":\"10.1.0.1/24\",\"port\":\"port0\"}" },
		{ "ip_addr_add", "{\"address\":\"10.2.0.1/24\",\"port\":\"port1\"}" },
		{ "ip_neigh_add", "{\"address\":\"10.1.0.2\",\"port\":\"port0\","
			"\"mac\":\"02:00:00:00:01:02\"}" },
		{ "ip_neigh_add", "{\"address\":\"10.2.0.2\",\"port\":\"port1\","
			"\"mac\":\"02:00:00:00:02:02\"}" },
	};
	struct pgt_rpc_err err;
	struct pgt_rs_err rerr;
	json_t *params, *result;
	unsigned int i;

	for (i = 0; i < RTE_DIM(calls); i++) {
		params = json_loads(calls[i][1], 0, NULL);
		result = NULL;
		if (pgt_rpc_call(calls[i][0], params, &result, &err) != 0)
			abort();
		json_decref(params);
		json_decref(result);
	}
	if (pgt_ruleset_restore(rules, false, false, &rerr) != 0)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rte_mempool *indirect;

	(void)argc;
	(void)argv;
	fuzz_engine_init("pgt_fuzz_packet", &pool, &indirect);
	configure();
	/* A worker of our own, driven by hand. */
	w = rte_zmalloc("fuzz_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);
	if (w == NULL)
		abort();
	w->pool = pool;
	w->indirect_pool = indirect;
	w->frag_tbl = rte_ip_frag_table_create(16, 4, 64, rte_get_tsc_hz(),
		SOCKET_ID_ANY);
	if (w->frag_tbl == NULL)
		abort();
	return 0;
}

static void
settle(void)
{
	struct rte_mbuf *pkts[PGT_BURST];
	unsigned int n, i;
	uint16_t port;

	for (port = 0; port < w->view->nb_ports; port++)
		pgt_worker_tx_flush(w, port);
	while (w->parked_count > 0) {
		rte_pktmbuf_free(w->parked[w->parked_head].m);
		w->parked_head = (w->parked_head + 1) % PGT_PIPELINE_NEIGH_QUEUE;
		w->parked_count--;
	}
	while ((n = pgt_ct_handoff_dequeue(0, pkts, PGT_BURST)) > 0)
		for (i = 0; i < n; i++)
			rte_pktmbuf_free(pkts[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct pgt_port *p;
	struct rte_ipv4_hdr *ip;
	struct rte_mbuf *m;
	uint8_t ctl, *frame;
	uint16_t port;

	if (size < 1 || size - 1 > RTE_MBUF_DEFAULT_DATAROOM)
		return 0;
	ctl = data[0];
	w->now = rte_get_tsc_cycles();
	w->view = pgt_port_view_get();
	w->rs = pgt_ruleset_get();
	/* As the worker loop reads them: the ruleset tracks connections. */
	w->tracking = pgt_ruleset_flags(w->rs)->tracking;
	pgt_pipeline_hooks_update(w);
	pgt_neigh_cache_sync(&w->neigh);
	port = ctl & 1;
	p = &w->view->port[port];
	m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		abort();	/* a leak: every input returns its buffers */
	frame = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(size - 1));
	memcpy(frame, data + 1, size - 1);
	if ((ctl & 2) && size - 1 >= 6)
		memcpy(frame, &p->mac, 6);
	if ((ctl & 4) && size - 1 >= 14) {
		frame[12] = 0x08;
		frame[13] = 0x00;
	}
	if ((ctl & 8) && size - 1 >= 14 + sizeof(*ip)) {
		ip = (struct rte_ipv4_hdr *)(frame + 14);
		if ((ip->version_ihl & 0xf) >= 5 &&
				size - 1 >= 14 + (ip->version_ihl & 0xfu) * 4) {
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
	}
	pgt_pipeline_rx_burst(w, port, &m, 1);
	settle();
	pgt_ct_worker_poll(0, w->now);
	pgt_pipeline_frag_expire(w);
	pgt_ruleset_poll();
	return 0;
}
