/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_arp.h>
#include <rte_ethdev.h>

#include "pgt_neigh.h"
#include "pgt_pkt.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_route.h"
#include "pgt_rpc.h"
#include "pgt_test.h"

static uint32_t
ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return (uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d;
}

static int
call(const char *method, const char *params)
{
	struct pgt_rpc_err err;
	json_t *p = json_loads(params, 0, NULL), *res;
	int rc = pgt_rpc_call(method, p, &res, &err);

	json_decref(p);
	json_decref(res);
	return rc;
}

static const struct pgt_nexthop *
lookup(uint32_t addr)
{
	int idx = pgt_route_lookup(addr);

	return idx < 0 ? NULL : &pgt_route_nexthops[idx];
}

static void
test_addresses_and_routes(void)
{
	const struct pgt_nexthop *nh;
	int idx1, idx2;

	CHECK_EQ(pgt_route_addr_add(0, ip4(10, 1, 0, 1), 24), 0);
	nh = lookup(ip4(10, 1, 0, 1));
	CHECK(nh != NULL && nh->type == PGT_NH_LOCAL && nh->port == 0);
	nh = lookup(ip4(10, 1, 0, 7));
	CHECK(nh != NULL && nh->type == PGT_NH_UNICAST && nh->gw == 0);
	nh = lookup(ip4(10, 1, 0, 255));
	CHECK(nh != NULL && nh->type == PGT_NH_BROADCAST);
	CHECK(lookup(ip4(10, 2, 0, 1)) == NULL);
	CHECK(pgt_port_has_addr(&pgt_port_view_get()->port[0],
		ip4(10, 1, 0, 1)));

	/* Conflicts are refused, the table is unchanged. */
	CHECK_EQ(pgt_route_addr_add(1, ip4(10, 1, 0, 1), 24), -EEXIST);
	CHECK_EQ(pgt_route_addr_add(1, ip4(10, 1, 0, 9), 24), -EEXIST);
	CHECK_EQ(pgt_route_addr_add(1, ip4(127, 0, 0, 1), 8), -EINVAL);
	CHECK_EQ(pgt_route_addr_add(1, ip4(10, 3, 0, 0), 24), -EINVAL);
	CHECK_EQ(pgt_route_addr_add(1, ip4(10, 3, 0, 1), 0), -EINVAL);
	CHECK_EQ(pgt_port_view_get()->port[1].nb_addrs, 0);

	/* A secondary address shares the connected route. */
	CHECK_EQ(pgt_route_addr_add(0, ip4(10, 1, 0, 2), 24), 0);
	CHECK_EQ(pgt_route_addr_add(1, ip4(10, 2, 0, 1), 24), 0);

	/* Static routes through one gateway share one next hop. */
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"10.50.0.0/16\","
		"\"gateway\":\"10.1.0.254\"}"), 0);
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"10.60.0.0/16\","
		"\"gateway\":\"10.1.0.254\"}"), 0);
	idx1 = pgt_route_lookup(ip4(10, 50, 1, 1));
	idx2 = pgt_route_lookup(ip4(10, 60, 1, 1));
	CHECK(idx1 >= 0 && idx1 == idx2);
	CHECK_EQ(pgt_route_nexthops[idx1].refcnt, 2);
	CHECK_EQ(pgt_route_nexthops[idx1].gw, ip4(10, 1, 0, 254));
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"10.50.0.0/16\","
		"\"gateway\":\"10.1.0.254\"}"), -EEXIST);
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"10.70.0.0/16\","
		"\"gateway\":\"10.9.0.1\"}"), -ENETUNREACH);
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"10.70.0.0/16\","
		"\"gateway\":\"10.2.0.5\",\"port\":\"port0\"}"), -ENETUNREACH);
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"10.70.0.0/16\"}"),
		PGT_RPC_INVALID_PARAMS);
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"10.80.0.0/16\","
		"\"type\":\"blackhole\"}"), 0);
	nh = lookup(ip4(10, 80, 3, 3));
	CHECK(nh != NULL && nh->type == PGT_NH_BLACKHOLE);
	CHECK_EQ(call("ip_route_del", "{\"prefix\":\"10.1.0.0/24\"}"), -EPERM);
	/* The default route answers what the LPM misses. */
	CHECK(lookup(ip4(8, 8, 8, 8)) == NULL);
	CHECK_EQ(call("ip_route_add", "{\"prefix\":\"0.0.0.0/0\","
		"\"gateway\":\"10.2.0.254\"}"), 0);
	nh = lookup(ip4(8, 8, 8, 8));
	CHECK(nh != NULL && nh->gw == ip4(10, 2, 0, 254) && nh->port == 1);
	CHECK_EQ(call("ip_route_del", "{\"prefix\":\"0.0.0.0/0\"}"), 0);
	CHECK(lookup(ip4(8, 8, 8, 8)) == NULL);
	CHECK_EQ(call("ip_route_del", "{\"prefix\":\"10.80.0.0/16\"}"), 0);
	CHECK(lookup(ip4(10, 80, 3, 3)) == NULL);

	/* A port that goes down withdraws its unicast routes, not locals. */
	CHECK_EQ(call("port_set", "{\"port\":\"port0\",\"up\":false}"), 0);
	CHECK(lookup(ip4(10, 50, 1, 1)) == NULL);
	CHECK(lookup(ip4(10, 1, 0, 7)) == NULL);
	nh = lookup(ip4(10, 1, 0, 1));
	CHECK(nh != NULL && nh->type == PGT_NH_LOCAL);
	CHECK_EQ(call("port_set", "{\"port\":\"port0\",\"up\":true}"), 0);
	CHECK_EQ(pgt_route_lookup(ip4(10, 50, 1, 1)), idx1);

	/* Deleting one of two addresses keeps the subnet... */
	CHECK_EQ(pgt_route_addr_del(0, ip4(10, 1, 0, 1), 24), 0);
	nh = lookup(ip4(10, 1, 0, 1));
	CHECK(nh != NULL && nh->type == PGT_NH_UNICAST);
	CHECK(lookup(ip4(10, 50, 1, 1)) != NULL);
	/* ...deleting the last removes it and the routes via its gateways. */
	CHECK_EQ(pgt_route_addr_del(0, ip4(10, 1, 0, 2), 24), 0);
	CHECK(lookup(ip4(10, 1, 0, 7)) == NULL);
	CHECK(lookup(ip4(10, 50, 1, 1)) == NULL);
	CHECK(lookup(ip4(10, 60, 1, 1)) == NULL);
	CHECK_EQ(pgt_route_nexthops[idx1].refcnt, 0);
	CHECK_EQ(pgt_route_addr_del(0, ip4(10, 1, 0, 2), 24), -ENOENT);

	/* Rename. */
	CHECK_EQ(call("port_set", "{\"port\":\"port1\",\"name\":\"wan\"}"), 0);
	CHECK_EQ(pgt_port_find("wan"), 1);
	CHECK_EQ(call("port_set", "{\"port\":\"wan\",\"name\":\"port0\"}"),
		-EEXIST);
	CHECK_EQ(call("port_set", "{\"port\":\"wan\",\"name\":\"9x\"}"),
		-EINVAL);
	CHECK_EQ(call("port_set", "{\"port\":\"nope\",\"up\":true}"), -ENODEV);
}

static void
post(enum pgt_neigh_msg_type type, uint32_t addr, uint16_t port,
	uint8_t last_mac_byte)
{
	struct pgt_neigh_msg msg = { .addr = addr, .port = port,
		.type = (uint8_t)type,
		.mac = {{ 2, 0, 0, 0, 0, last_mac_byte }} };

	CHECK_EQ(pgt_neigh_post(0, &msg), 0);
	pgt_neigh_poll();
}

static void
test_neigh(void)
{
	struct rte_ether_addr mac;
	struct rte_mbuf *m = NULL;
	struct rte_arp_hdr *arp;
	uint32_t gen;

	/* Drop the gratuitous ARPs that address additions queued. */
	while (rte_ring_dequeue(pgt_port_tx_ring[1], (void **)&m) == 0)
		rte_pktmbuf_free(m);
	while (rte_ring_dequeue(pgt_port_tx_ring[0], (void **)&m) == 0)
		rte_pktmbuf_free(m);

	/* Port 1 ("wan") has 10.2.0.1/24. */
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 7), 1, &mac), -ENOENT);

	/* A request to us creates a usable entry. */
	gen = pgt_neigh_generation;
	post(PGT_NEIGH_MSG_REQUEST, ip4(10, 2, 0, 7), 1, 7);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 7), 1, &mac), 0);
	CHECK_EQ(mac.addr_bytes[5], 7);
	CHECK(pgt_neigh_generation != gen);

	/* Off-link senders and unsolicited replies are ignored. */
	post(PGT_NEIGH_MSG_REQUEST, ip4(10, 9, 0, 7), 1, 8);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 9, 0, 7), 1, &mac), -ENOENT);
	post(PGT_NEIGH_MSG_REPLY, ip4(10, 2, 0, 8), 1, 8);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 8), 1, &mac), -ENOENT);

	/* Resolution: INCOMPLETE, one broadcast request queued to send. */
	post(PGT_NEIGH_MSG_RESOLVE, ip4(10, 2, 0, 9), 1, 0);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 9), 1, &mac), -EAGAIN);
	CHECK_EQ(rte_ring_count(pgt_port_tx_ring[1]), 1);
	if (rte_ring_dequeue(pgt_port_tx_ring[1], (void **)&m) == 0) {
		arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14);
		CHECK_EQ(arp->arp_opcode, RTE_BE16(RTE_ARP_OP_REQUEST));
		CHECK_EQ(arp->arp_data.arp_tip, rte_cpu_to_be_32(ip4(10, 2, 0, 9)));
		CHECK_EQ(arp->arp_data.arp_sip, rte_cpu_to_be_32(ip4(10, 2, 0, 1)));
		CHECK(rte_is_broadcast_ether_addr(
			&rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr));
		rte_pktmbuf_free(m);
	}
	/* A second resolve for the same neighbour sends nothing more. */
	post(PGT_NEIGH_MSG_RESOLVE, ip4(10, 2, 0, 9), 1, 0);
	CHECK_EQ(rte_ring_count(pgt_port_tx_ring[1]), 0);
	post(PGT_NEIGH_MSG_REPLY, ip4(10, 2, 0, 9), 1, 9);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 9), 1, &mac), 0);
	CHECK_EQ(mac.addr_bytes[5], 9);

	/* Permanent entries survive a flush; learned ones do not. */
	CHECK_EQ(call("ip_neigh_add", "{\"address\":\"10.2.0.100\","
		"\"port\":\"wan\",\"mac\":\"02:00:00:00:00:64\"}"), 0);
	CHECK_EQ(call("ip_neigh_add", "{\"address\":\"10.2.0.101\","
		"\"port\":\"wan\",\"mac\":\"ff:ff:ff:ff:ff:ff\"}"), -EINVAL);
	pgt_neigh_flush(UINT16_MAX);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 9), 1, &mac), -ENOENT);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 100), 1, &mac), 0);
	CHECK_EQ(call("ip_neigh_del", "{\"address\":\"10.2.0.100\","
		"\"port\":\"wan\"}"), 0);
	CHECK_EQ(pgt_neigh_lookup(ip4(10, 2, 0, 100), 1, &mac), -ENOENT);
	CHECK_EQ(call("ip_neigh_del", "{\"address\":\"10.2.0.100\","
		"\"port\":\"wan\"}"), -ENOENT);
}

static int
neigh_add(uint8_t d)
{
	char params[128];

	snprintf(params, sizeof(params), "{\"address\":\"10.2.0.%u\","
		"\"port\":\"wan\",\"mac\":\"02:00:00:00:00:%02x\"}", d, d);
	return call("ip_neigh_add", params);
}

static int
neigh_del(uint8_t d)
{
	char params[128];

	snprintf(params, sizeof(params), "{\"address\":\"10.2.0.%u\","
		"\"port\":\"wan\"}", d);
	return call("ip_neigh_del", params);
}

/* The worker's cache: next hops that alternate (a server and the gateway
 * its answers go back by) stay cached together; two next hops on one slot
 * (10.2.0.2 and 10.2.0.25) each get their own MAC; a cleared cache holds
 * nothing. */
static void
test_neigh_cache(void)
{
	static const uint8_t hosts[] = { 2, 3, 25, 2, 3, 25, 3, 2 };
	struct pgt_neigh_cache c;
	struct rte_ether_addr mac;
	unsigned int i;
	uint32_t gen;

	memset(&c, 0, sizeof(c));
	pgt_neigh_cache_clear(&c);
	CHECK_EQ(neigh_add(2), 0);
	CHECK_EQ(neigh_add(3), 0);
	CHECK_EQ(neigh_add(25), 0);
	/* As a worker starts its loop iteration. */
	pgt_neigh_cache_sync(&c);
	for (i = 0; i < RTE_DIM(hosts); i++) {
		memset(&mac, 0, sizeof(mac));
		CHECK_EQ(pgt_neigh_lookup_cached(&c, ip4(10, 2, 0, hosts[i]), 1,
			&mac), 0);
		CHECK_EQ(mac.addr_bytes[5], hosts[i]);
	}
	/* Nothing changed: a sync keeps what the cache holds. */
	gen = c.gen;
	pgt_neigh_cache_sync(&c);
	CHECK_EQ(c.gen, gen);
	/* Unhooked from the table, both still answer from the cache until
	 * the worker syncs: neither lookup reached the table, and each gave
	 * its MAC. */
	CHECK_EQ(neigh_del(2), 0);
	CHECK_EQ(neigh_del(3), 0);
	CHECK_EQ(pgt_neigh_lookup_cached(&c, ip4(10, 2, 0, 2), 1, &mac), 0);
	CHECK_EQ(mac.addr_bytes[5], 2);
	CHECK_EQ(pgt_neigh_lookup_cached(&c, ip4(10, 2, 0, 3), 1, &mac), 0);
	CHECK_EQ(mac.addr_bytes[5], 3);
	/* The deletions changed the table: the sync empties the cache. */
	pgt_neigh_cache_sync(&c);
	CHECK(c.gen != gen);
	CHECK_EQ(pgt_neigh_lookup_cached(&c, ip4(10, 2, 0, 2), 1, &mac),
		-ENOENT);
	CHECK_EQ(pgt_neigh_lookup_cached(&c, ip4(10, 2, 0, 3), 1, &mac),
		-ENOENT);
	/* The generation wraps: every slot is emptied, none comes back. */
	CHECK_EQ(pgt_neigh_lookup_cached(&c, ip4(10, 2, 0, 25), 1, &mac), 0);
	CHECK_EQ(neigh_del(25), 0);
	c.gen = UINT32_MAX;
	for (i = 0; i < RTE_DIM(c.slot); i++)
		c.slot[i].gen = 1;
	pgt_neigh_cache_clear(&c);
	CHECK_EQ(pgt_neigh_lookup_cached(&c, ip4(10, 2, 0, 25), 1, &mac),
		-ENOENT);
}

int
main(void)
{
	static const char *const vdevs[] = { "net_null0", "net_null1", NULL };
	struct rte_mempool *pool;

	if (pgt_test_eal("pgt_test_route", vdevs) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("test", 4095, 0, PGT_PKT_PRIV_SIZE,
		RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CHECK(pool != NULL);
	CHECK_EQ(pgt_rcu_init(1), 0);
	CHECK_EQ(pgt_port_init(1, pool, 256, 256), 0);
	CHECK_EQ(pgt_neigh_init(1024, 1, pool), 0);
	CHECK_EQ(pgt_route_init(1024), 0);
	if (pgt_test_failures > 0)
		return pgt_test_report("route_neigh");
	test_addresses_and_routes();
	test_neigh();
	test_neigh_cache();
	pgt_route_fini();
	pgt_neigh_fini();
	pgt_port_fini();
	return pgt_test_report("route_neigh");
}
