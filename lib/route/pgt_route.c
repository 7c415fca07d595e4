/* SPDX-License-Identifier: BSD-3-Clause */
/* rte_lpm_rcu_qsbr_add() is still marked experimental in DPDK 22.11. */
#define ALLOW_EXPERIMENTAL_API 1

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "pgt_inet.h"
#include "pgt_log.h"
#include "pgt_neigh.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_route.h"
#include "pgt_route_priv.h"

PGT_LOG_REGISTER(route);

struct rte_lpm *pgt_route_lpm;
struct pgt_nexthop pgt_route_nexthops[PGT_ROUTE_MAX_NEXTHOPS];
int32_t pgt_route_default_nh = -1;

struct rte_hash *pgt_route_table;
static struct rte_hash *nh_table;	/* {type, gw, port} -> index */
static uint32_t nh_hint;	/* where the next free-slot search starts */

struct nh_key {
	uint32_t gw;
	uint16_t port;
	uint8_t type;
	uint8_t zero;
};

int
pgt_route_init(uint32_t max_routes)
{
	/* One tbl8 group per /24 that holds longer prefixes. */
	uint32_t tbl8s = RTE_MIN(max_routes / 4, 65535u);
	struct rte_lpm_config lc = {
		.max_rules = max_routes,
		.number_tbl8s = RTE_MAX(256u, tbl8s),
	};
	struct rte_lpm_rcu_config rc = {
		.v = pgt_rcu_qsbr,
		.mode = RTE_LPM_QSBR_MODE_SYNC,
	};
	struct rte_hash_parameters hp = {
		.name = "pgt_routes",
		.entries = max_routes,
		.key_len = sizeof(struct pgt_route_key),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
	};

	if (max_routes == 0)
		return -EINVAL;
	pgt_route_lpm = rte_lpm_create("pgt_lpm", (int)rte_socket_id(), &lc);
	if (pgt_route_lpm == NULL)
		return -ENOMEM;
	if (pgt_rcu_qsbr != NULL &&
			rte_lpm_rcu_qsbr_add(pgt_route_lpm, &rc) != 0)
		goto fail;
	pgt_route_table = rte_hash_create(&hp);
	if (pgt_route_table == NULL)
		goto fail;
	hp.name = "pgt_nexthops";
	hp.entries = PGT_ROUTE_MAX_NEXTHOPS;
	hp.key_len = sizeof(struct nh_key);
	nh_table = rte_hash_create(&hp);
	if (nh_table == NULL)
		goto fail;
	return 0;
fail:
	pgt_route_fini();
	return -ENOMEM;
}

void
pgt_route_fini(void)
{
	const void *key;
	void *data;
	uint32_t iter = 0;

	if (pgt_route_table != NULL) {
		while (rte_hash_iterate(pgt_route_table, &key, &data,
				&iter) >= 0)
			free(data);
		rte_hash_free(pgt_route_table);
	}
	pgt_route_table = NULL;
	rte_hash_free(nh_table);
	nh_table = NULL;
	rte_lpm_free(pgt_route_lpm);
	pgt_route_lpm = NULL;
	pgt_route_default_nh = -1;
	memset(pgt_route_nexthops, 0, sizeof(pgt_route_nexthops));
}

/* Take a reference on the next hop {type, gw, port}, sharing an equal one. */
static int
nexthop_get(enum pgt_nh_type type, uint32_t gw, uint16_t port)
{
	struct nh_key key = { .gw = gw, .port = port, .type = (uint8_t)type };
	struct pgt_nexthop *nh;
	uint32_t i, idx;
	int free_idx = -1;
	void *data;

	if (rte_hash_lookup_data(nh_table, &key, &data) >= 0) {
		nh = &pgt_route_nexthops[(uintptr_t)data];
		nh->refcnt++;
		return (int)(uintptr_t)data;
	}
	for (i = 0; i < PGT_ROUTE_MAX_NEXTHOPS; i++) {
		idx = (nh_hint + i) % PGT_ROUTE_MAX_NEXTHOPS;
		if (pgt_route_nexthops[idx].refcnt == 0) {
			free_idx = (int)idx;
			break;
		}
	}
	if (free_idx < 0 || rte_hash_add_key_data(nh_table, &key,
			(void *)(uintptr_t)free_idx) < 0)
		return -ENOSPC;
	nh = &pgt_route_nexthops[free_idx];
	nh->type = (uint8_t)type;
	nh->gw = gw;
	nh->port = port;
	nh->refcnt = 1;
	nh_hint = (uint32_t)free_idx + 1;
	/* Workers see the slot only via an LPM entry added after this. */
	rte_atomic_thread_fence(__ATOMIC_RELEASE);
	return free_idx;
}

/*
 * Drop a reference. The caller has already removed the LPM entry that led to
 * this next hop; a worker may still hold the index from a lookup made just
 * before, so the slot is reusable only after a grace period.
 */
static void
nexthop_put(uint32_t idx)
{
	struct pgt_nexthop *nh = &pgt_route_nexthops[idx];
	struct nh_key key = { .gw = nh->gw, .port = nh->port,
		.type = nh->type };

	if (nh->refcnt > 1) {
		nh->refcnt--;
		return;
	}
	rte_hash_del_key(nh_table, &key);
	pgt_rcu_synchronize();
	nh->refcnt = 0;
}

struct pgt_route *
pgt_route_find(uint32_t prefix, uint8_t len)
{
	struct pgt_route_key key = { .addr = prefix, .len = len };
	void *data;

	if (rte_hash_lookup_data(pgt_route_table, &key, &data) < 0)
		return NULL;
	return data;
}

/*
 * Install or withdraw a route's LPM entry to match its port's state; with
 * @p renew, an installed entry is rewritten in place for a new next hop
 * (rte_lpm_add overwrites, so a lookup meets the old hop or the new one).
 */
static int
route_sync(struct pgt_route *r, bool renew)
{
	const struct pgt_nexthop *nh = &pgt_route_nexthops[r->nh];
	const struct pgt_port_view *v = pgt_port_view_get();
	bool want = true;
	int rc;

	if (nh->type == PGT_NH_UNICAST && !v->port[nh->port].up)
		want = false;
	if (want == r->installed && !(renew && want))
		return 0;
	if (r->key.len == 0) {
		__atomic_store_n(&pgt_route_default_nh,
			want ? (int32_t)r->nh : -1, __ATOMIC_RELEASE);
		r->installed = want;
		return 0;
	}
	if (want)
		rc = rte_lpm_add(pgt_route_lpm, r->key.addr, r->key.len, r->nh);
	else
		rc = rte_lpm_delete(pgt_route_lpm, r->key.addr, r->key.len);
	if (rc == 0)
		r->installed = want;
	return rc;
}

int
pgt_route_add(uint32_t prefix, uint8_t len, enum pgt_nh_type type,
	uint32_t gw, uint16_t port, enum pgt_route_proto proto)
{
	struct pgt_route *r;
	int nh, rc;

	if (len > 32 || (prefix & ~pgt_inet_mask(len)) != 0)
		return -EINVAL;
	if (pgt_route_find(prefix, len) != NULL)
		return -EEXIST;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	nh = nexthop_get(type, gw, port);
	if (nh < 0) {
		free(r);
		return nh;
	}
	r->key.addr = prefix;
	r->key.len = len;
	r->proto = (uint8_t)proto;
	r->nh = (uint32_t)nh;
	rc = rte_hash_add_key_data(pgt_route_table, &r->key, r);
	if (rc < 0)
		goto fail;
	rc = route_sync(r, false);
	if (rc < 0) {
		rte_hash_del_key(pgt_route_table, &r->key);
		goto fail;
	}
	return 0;
fail:
	nexthop_put(r->nh);
	free(r);
	return rc == -ENOSPC || rc == -ENOMEM ? -ENOSPC : rc;
}

int
pgt_route_replace(uint32_t prefix, uint8_t len, enum pgt_nh_type type,
	uint32_t gw, uint16_t port)
{
	struct pgt_route *r = pgt_route_find(prefix, len);
	uint32_t old;
	int nh, rc;

	if (r == NULL)
		return pgt_route_add(prefix, len, type, gw, port,
			PGT_ROUTE_PROTO_STATIC);
	if (r->proto != PGT_ROUTE_PROTO_STATIC)
		return -EPERM;
	nh = nexthop_get(type, gw, port);
	if (nh < 0)
		return nh;
	old = r->nh;
	r->nh = (uint32_t)nh;
	rc = route_sync(r, true);
	if (rc < 0) {
		r->nh = old;
		nexthop_put((uint32_t)nh);
		return rc == -ENOMEM ? -ENOSPC : rc;
	}
	/* After the swap: put waits out the workers still using it. */
	nexthop_put(old);
	return 0;
}

int
pgt_route_del(uint32_t prefix, uint8_t len)
{
	struct pgt_route *r = pgt_route_find(prefix, len);

	if (r == NULL)
		return -ENOENT;
	if (r->installed && len == 0)
		__atomic_store_n(&pgt_route_default_nh, -1, __ATOMIC_RELEASE);
	else if (r->installed)
		rte_lpm_delete(pgt_route_lpm, prefix, len);
	rte_hash_del_key(pgt_route_table, &r->key);
	nexthop_put(r->nh);
	free(r);
	return 0;
}

static void
port_state_changed(uint16_t port, bool up)
{
	const void *key;
	void *data;
	uint32_t iter = 0;
	struct pgt_route *r;

	while (rte_hash_iterate(pgt_route_table, &key, &data, &iter) >= 0) {
		r = data;
		if (pgt_route_nexthops[r->nh].port == port &&
				route_sync(r, false) < 0)
			PGT_LOG(ERR, route,
				"cannot %s a route via port %u: LPM full",
				up ? "restore" : "withdraw", port);
	}
}

RTE_INIT(pgt_route_register_port_cb)
{
	pgt_port_on_state_change(port_state_changed);
}

/* Addresses */

static bool
port_covers(const struct pgt_port *p, uint32_t prefix, uint8_t len,
	unsigned int skip)
{
	unsigned int i;

	for (i = 0; i < p->nb_addrs; i++)
		if (i != skip && p->addrs[i].len == len &&
				(p->addrs[i].addr & pgt_inet_mask(len)) == prefix)
			return true;
	return false;
}

static uint32_t
bcast_of(uint32_t addr, uint8_t len)
{
	return addr | ~pgt_inet_mask(len);
}

/* A /31 (RFC 3021) and a /32 have no broadcast address. */
static bool
has_bcast(uint8_t len)
{
	return len < 31;
}

int
pgt_route_addr_add(uint16_t port, uint32_t addr, uint8_t len)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	uint32_t prefix = addr & pgt_inet_mask(len);
	struct pgt_port_view *nv;
	struct pgt_route *conn;
	bool new_subnet;
	uint16_t pid;
	int rc;

	if (len == 0 || pgt_inet_is_martian_src(addr) ||
			(has_bcast(len) && (addr == prefix ||
				addr == bcast_of(addr, len))))
		return -EINVAL;
	for (pid = 0; pid < v->nb_ports; pid++)
		if (pgt_port_has_addr(&v->port[pid], addr))
			return -EEXIST;
	if (v->port[port].nb_addrs == PGT_PORT_MAX_ADDRS)
		return -ENOSPC;
	new_subnet = !port_covers(&v->port[port], prefix, len, UINT32_MAX);
	conn = pgt_route_find(prefix, len);
	if (new_subnet && len < 32 && conn != NULL)
		return -EEXIST;
	if (has_bcast(len) && new_subnet &&
			pgt_route_find(bcast_of(addr, len), 32) != NULL)
		return -EEXIST;
	if (pgt_route_find(addr, 32) != NULL)
		return -EEXIST;

	nv = pgt_port_view_copy();
	if (nv == NULL)
		return -ENOMEM;
	rc = pgt_route_add(addr, 32, PGT_NH_LOCAL, 0, port,
		PGT_ROUTE_PROTO_LOCAL);
	if (rc < 0)
		goto fail_view;
	if (new_subnet && has_bcast(len)) {
		rc = pgt_route_add(bcast_of(addr, len), 32, PGT_NH_BROADCAST,
			0, port, PGT_ROUTE_PROTO_LOCAL);
		if (rc < 0)
			goto fail_local;
	}
	if (new_subnet && len < 32) {
		rc = pgt_route_add(prefix, len, PGT_NH_UNICAST, 0, port,
			PGT_ROUTE_PROTO_KERNEL);
		if (rc < 0)
			goto fail_bcast;
	}
	nv->port[port].addrs[nv->port[port].nb_addrs].addr = addr;
	nv->port[port].addrs[nv->port[port].nb_addrs].len = len;
	nv->port[port].nb_addrs++;
	pgt_port_view_commit(nv);
	pgt_neigh_announce(port, addr);
	pgt_port_addr_changed(port, addr, len, true);
	return 0;
fail_bcast:
	if (new_subnet && has_bcast(len))
		pgt_route_del(bcast_of(addr, len), 32);
fail_local:
	pgt_route_del(addr, 32);
fail_view:
	pgt_port_view_discard(nv);
	return rc;
}

/* Remove static routes via @p port whose gateway is no longer on-link. */
static void
drop_unreachable_gateways(uint16_t port, const struct pgt_port *p)
{
	struct pgt_route *dead[64];
	const struct pgt_nexthop *nh;
	unsigned int i, n;
	const void *key;
	void *data;
	uint32_t iter;

	do {
		n = 0;
		iter = 0;
		while (n < RTE_DIM(dead) && rte_hash_iterate(pgt_route_table,
				&key, &data, &iter) >= 0) {
			struct pgt_route *r = data;

			nh = &pgt_route_nexthops[r->nh];
			if (r->proto != PGT_ROUTE_PROTO_STATIC ||
					nh->port != port || nh->gw == 0)
				continue;
			if (!pgt_port_on_link(p, nh->gw))
				dead[n++] = r;
		}
		for (i = 0; i < n; i++)
			pgt_route_del(dead[i]->key.addr, dead[i]->key.len);
	} while (n == RTE_DIM(dead));
}

int
pgt_route_addr_del(uint16_t port, uint32_t addr, uint8_t len)
{
	const struct pgt_port *p = &pgt_port_view_get()->port[port];
	uint32_t prefix = addr & pgt_inet_mask(len);
	struct pgt_port_view *nv;
	unsigned int i, j;
	bool last_of_subnet;

	for (i = 0; i < p->nb_addrs; i++)
		if (p->addrs[i].addr == addr && p->addrs[i].len == len)
			break;
	if (i == p->nb_addrs)
		return -ENOENT;
	last_of_subnet = !port_covers(p, prefix, len, i);
	nv = pgt_port_view_copy();
	if (nv == NULL)
		return -ENOMEM;
	for (j = i; j + 1 < nv->port[port].nb_addrs; j++)
		nv->port[port].addrs[j] = nv->port[port].addrs[j + 1];
	nv->port[port].nb_addrs--;
	pgt_port_view_commit(nv);

	pgt_route_del(addr, 32);
	if (last_of_subnet) {
		if (has_bcast(len))
			pgt_route_del(bcast_of(addr, len), 32);
		if (len < 32)
			pgt_route_del(prefix, len);
		drop_unreachable_gateways(port,
			&pgt_port_view_get()->port[port]);
	}
	pgt_port_addr_changed(port, addr, len, false);
	return 0;
}
