/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdio.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_ring_elem.h>

#include "pgt_inet.h"
#include "pgt_log.h"
#include "pgt_neigh.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_rpc.h"

PGT_LOG_REGISTER(neigh);

#define NEIGH_RING_SIZE		1024
#define NEIGH_TICK_MS		100
#define NEIGH_REACHABLE_MS	30000
#define NEIGH_GC_STALE_MS	60000
#define NEIGH_RETRANS_MS	1000
#define NEIGH_PROBES		3
#define NEIGH_FAILED_MS		3000

struct rte_hash *pgt_neigh_hash;
struct pgt_neigh_entry *pgt_neigh_entries;
uint32_t pgt_neigh_generation;
uint32_t pgt_neigh_epoch;

static struct rte_ring *msg_rings[RTE_MAX_LCORE];
static unsigned int nb_rings;
static struct rte_mempool *arp_pool;
static uint32_t nb_entries_max;
static uint64_t next_tick;

/* Manager-side counters, shown by ip_neigh_list. */
static uint64_t msgs_lost, table_full, arp_sent, arp_send_failed;

static uint64_t
ms_to_tsc(uint64_t ms)
{
	return rte_get_tsc_hz() / 1000 * ms;
}

static uint64_t
mac_to_lladdr(const struct rte_ether_addr *mac)
{
	const uint8_t *b = mac->addr_bytes;

	return (uint64_t)b[0] << 40 | (uint64_t)b[1] << 32 |
		(uint64_t)b[2] << 24 | (uint64_t)b[3] << 16 |
		(uint64_t)b[4] << 8 | b[5];
}

static void
lladdr_to_mac(uint64_t ll, struct rte_ether_addr *mac)
{
	int i;

	for (i = 0; i < RTE_ETHER_ADDR_LEN; i++)
		mac->addr_bytes[i] = (uint8_t)(ll >> (40 - 8 * i));
}

int
pgt_neigh_init(uint32_t max_entries, unsigned int nb_workers,
	struct rte_mempool *mp)
{
	struct rte_hash_parameters hp = {
		.name = "pgt_neigh",
		.entries = max_entries,
		.key_len = sizeof(struct pgt_neigh_key),
		.hash_func = rte_hash_crc,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			RTE_HASH_EXTRA_FLAGS_NO_FREE_ON_DEL,
	};
	char name[RTE_RING_NAMESIZE];
	unsigned int w;

	if (max_entries == 0 || nb_workers == 0)
		return -EINVAL;
	pgt_neigh_hash = rte_hash_create(&hp);
	if (pgt_neigh_hash == NULL)
		return -ENOMEM;
	/* rte_hash may hand out positions up to its real (rounded) size. */
	nb_entries_max = (uint32_t)rte_hash_max_key_id(pgt_neigh_hash) + 1;
	pgt_neigh_entries = rte_zmalloc("pgt_neigh_entries",
		sizeof(*pgt_neigh_entries) * nb_entries_max,
		RTE_CACHE_LINE_SIZE);
	if (pgt_neigh_entries == NULL)
		goto fail;
	for (w = 0; w < nb_workers; w++) {
		snprintf(name, sizeof(name), "pgt_neigh_msg%u", w);
		msg_rings[w] = rte_ring_create_elem(name,
			sizeof(struct pgt_neigh_msg), NEIGH_RING_SIZE,
			(int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (msg_rings[w] == NULL)
			goto fail;
		nb_rings++;
	}
	arp_pool = mp;
	return 0;
fail:
	pgt_neigh_fini();
	return -ENOMEM;
}

void
pgt_neigh_fini(void)
{
	unsigned int w;

	for (w = 0; w < nb_rings; w++)
		rte_ring_free(msg_rings[w]);
	nb_rings = 0;
	rte_free(pgt_neigh_entries);
	pgt_neigh_entries = NULL;
	rte_hash_free(pgt_neigh_hash);
	pgt_neigh_hash = NULL;
}

int
pgt_neigh_post(unsigned int worker, const struct pgt_neigh_msg *msg)
{
	if (rte_ring_sp_enqueue_elem(msg_rings[worker], (void *)(uintptr_t)msg,
			sizeof(*msg)) != 0) {
		__atomic_fetch_add(&msgs_lost, 1, __ATOMIC_RELAXED);
		return -ENOBUFS;
	}
	return 0;
}

/* Build and queue an ARP request from @p port for @p target. */
static int
send_arp(uint16_t port, uint32_t sender, uint32_t target,
	const struct rte_ether_addr *dst)
{
	const struct pgt_port *p = &pgt_port_view_get()->port[port];
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
	struct rte_mbuf *m;

	if (!p->up)
		return -ENETDOWN;
	m = rte_pktmbuf_alloc(arp_pool);
	if (m == NULL)
		goto fail;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
		sizeof(*eth) + sizeof(*arp));
	arp = (struct rte_arp_hdr *)(eth + 1);
	if (dst != NULL)
		rte_ether_addr_copy(dst, &eth->dst_addr);
	else
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	rte_ether_addr_copy(&p->mac, &eth->src_addr);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	arp->arp_plen = 4;
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	rte_ether_addr_copy(&p->mac, &arp->arp_data.arp_sha);
	arp->arp_data.arp_sip = rte_cpu_to_be_32(sender);
	memset(&arp->arp_data.arp_tha, 0, sizeof(arp->arp_data.arp_tha));
	arp->arp_data.arp_tip = rte_cpu_to_be_32(target);
	if (rte_ring_mp_enqueue(pgt_port_tx_ring[port], m) != 0) {
		rte_pktmbuf_free(m);
		goto fail;
	}
	arp_sent++;
	return 0;
fail:
	arp_send_failed++;
	return -ENOBUFS;
}

static int
solicit(struct pgt_neigh_entry *e, bool unicast)
{
	const struct pgt_port *p = &pgt_port_view_get()->port[e->port];
	struct rte_ether_addr mac;
	uint32_t src;

	if (pgt_port_select_src(p, e->addr, &src) < 0)
		return -EADDRNOTAVAIL;
	lladdr_to_mac(e->lladdr, &mac);
	return send_arp(e->port, src, e->addr, unicast ? &mac : NULL);
}

int
pgt_neigh_announce(uint16_t port, uint32_t addr)
{
	return send_arp(port, addr, addr, NULL);
}

static void
set_lladdr(struct pgt_neigh_entry *e, uint64_t ll)
{
	uint64_t old = e->lladdr;

	__atomic_store_n(&e->lladdr, ll, __ATOMIC_RELEASE);
	/* The workers' caches forget what they hold. */
	if (ll != old)
		__atomic_fetch_add(&pgt_neigh_epoch, 1, __ATOMIC_RELEASE);
	/* Packets parked for this neighbour can go (or fail) now. */
	if ((old & (PGT_NEIGH_VALID | PGT_NEIGH_FAILED_BIT)) !=
			(ll & (PGT_NEIGH_VALID | PGT_NEIGH_FAILED_BIT)))
		__atomic_fetch_add(&pgt_neigh_generation, 1, __ATOMIC_RELEASE);
}

static struct pgt_neigh_entry *
entry_find(uint32_t addr, uint16_t port)
{
	struct pgt_neigh_key key = { .addr = addr, .port = port };
	int pos = rte_hash_lookup(pgt_neigh_hash, &key);

	return pos < 0 ? NULL : &pgt_neigh_entries[pos];
}

static struct pgt_neigh_entry *
entry_create(uint32_t addr, uint16_t port, enum pgt_neigh_state state,
	uint64_t now)
{
	struct pgt_neigh_key key = { .addr = addr, .port = port };
	struct pgt_neigh_entry *e;
	int pos;

	pos = rte_hash_add_key(pgt_neigh_hash, &key);
	if (pos < 0) {
		table_full++;
		return NULL;
	}
	e = &pgt_neigh_entries[pos];
	memset(e, 0, sizeof(*e));
	e->addr = addr;
	e->port = port;
	e->state = state;
	e->last_used = now;
	return e;
}

/*
 * Delete entries: unhook keys now, reuse positions after a grace period so
 * no worker still reading a position sees it recycled.
 */
static void
entries_delete(struct pgt_neigh_entry **list, unsigned int n)
{
	struct pgt_neigh_key key;
	int32_t pos[64];
	unsigned int i, nb = 0;

	for (i = 0; i < n; i++) {
		set_lladdr(list[i], PGT_NEIGH_FAILED_BIT);
		key = (struct pgt_neigh_key){ .addr = list[i]->addr,
			.port = list[i]->port };
		pos[nb] = rte_hash_del_key(pgt_neigh_hash, &key);
		if (pos[nb] >= 0)
			nb++;
	}
	pgt_rcu_synchronize();
	for (i = 0; i < nb; i++) {
		memset(&pgt_neigh_entries[pos[i]], 0,
			sizeof(pgt_neigh_entries[0]));
		rte_hash_free_key_with_position(pgt_neigh_hash, pos[i]);
	}
}

/* Is @p addr on a subnet of one of @p port's addresses? */
static bool
on_link(uint16_t port, uint32_t addr)
{
	const struct pgt_port *p = &pgt_port_view_get()->port[port];
	uint32_t mask;
	unsigned int i;

	for (i = 0; i < p->nb_addrs; i++) {
		mask = pgt_inet_mask(p->addrs[i].len);
		if ((p->addrs[i].addr & mask) == (addr & mask))
			return true;
	}
	return false;
}

static void
handle_msg(const struct pgt_neigh_msg *msg, uint64_t now)
{
	struct pgt_neigh_entry *e;
	uint64_t ll;

	if (msg->port >= RTE_MAX_ETHPORTS)
		return;
	e = entry_find(msg->addr, msg->port);
	switch (msg->type) {
	case PGT_NEIGH_MSG_RESOLVE:
		if (e != NULL)
			return;
		e = entry_create(msg->addr, msg->port, PGT_NEIGH_INCOMPLETE,
			now);
		if (e == NULL)
			return;
		e->probes = 1;
		e->deadline = now + ms_to_tsc(NEIGH_RETRANS_MS);
		solicit(e, false);
		return;
	case PGT_NEIGH_MSG_REPLY:
	case PGT_NEIGH_MSG_REQUEST:
		/* Like Linux with arp_accept=0: replies only update entries
		 * we asked for; requests to us create a STALE entry. */
		if (!on_link(msg->port, msg->addr))
			return;
		ll = mac_to_lladdr(&msg->mac) | PGT_NEIGH_VALID;
		if (e == NULL) {
			if (msg->type == PGT_NEIGH_MSG_REPLY)
				return;
			e = entry_create(msg->addr, msg->port,
				PGT_NEIGH_STALE, now);
			if (e == NULL)
				return;
			set_lladdr(e, ll);
			return;
		}
		if (e->state == PGT_NEIGH_PERMANENT)
			return;
		if (msg->type == PGT_NEIGH_MSG_REPLY) {
			set_lladdr(e, ll);
			e->state = PGT_NEIGH_REACHABLE;
			e->confirmed = now;
			e->probes = 0;
		} else if (e->lladdr != ll) {
			set_lladdr(e, ll);
			e->state = PGT_NEIGH_STALE;
		}
		return;
	}
}

static void
run_timers(uint64_t now)
{
	struct pgt_neigh_entry *dead[64];
	struct pgt_neigh_entry *e;
	unsigned int nb_dead = 0;
	const void *key;
	void *data;
	uint32_t iter = 0;
	int32_t pos;
	bool used;

	while ((pos = rte_hash_iterate(pgt_neigh_hash, &key, &data,
			&iter)) >= 0) {
		e = &pgt_neigh_entries[pos];
		used = __atomic_load_n(&e->used, __ATOMIC_RELAXED) != 0;
		if (used) {
			__atomic_store_n(&e->used, 0, __ATOMIC_RELAXED);
			e->last_used = now;
		}
		switch (e->state) {
		case PGT_NEIGH_INCOMPLETE:
			if (now < e->deadline)
				break;
			if (e->probes < NEIGH_PROBES) {
				e->probes++;
				e->deadline = now + ms_to_tsc(NEIGH_RETRANS_MS);
				solicit(e, false);
				break;
			}
			e->state = PGT_NEIGH_FAILED;
			e->deadline = now + ms_to_tsc(NEIGH_FAILED_MS);
			set_lladdr(e, PGT_NEIGH_FAILED_BIT);
			break;
		case PGT_NEIGH_REACHABLE:
			if (now > e->confirmed + ms_to_tsc(NEIGH_REACHABLE_MS))
				e->state = PGT_NEIGH_STALE;
			break;
		case PGT_NEIGH_STALE:
			if (used) {
				e->state = PGT_NEIGH_PROBE;
				e->probes = 1;
				e->deadline = now + ms_to_tsc(NEIGH_RETRANS_MS);
				solicit(e, true);
			} else if (now > e->last_used + ms_to_tsc(
					NEIGH_GC_STALE_MS)) {
				dead[nb_dead++] = e;
			}
			break;
		case PGT_NEIGH_PROBE:
			if (now < e->deadline)
				break;
			if (e->probes < NEIGH_PROBES) {
				e->probes++;
				e->deadline = now + ms_to_tsc(NEIGH_RETRANS_MS);
				solicit(e, true);
			} else {
				dead[nb_dead++] = e;
			}
			break;
		case PGT_NEIGH_FAILED:
			if (now >= e->deadline)
				dead[nb_dead++] = e;
			break;
		default:
			break;
		}
		if (nb_dead == RTE_DIM(dead)) {
			/* The next tick continues the collection. */
			break;
		}
	}
	if (nb_dead > 0)
		entries_delete(dead, nb_dead);
	/* Every used mark was taken: the workers' caches are emptied, so
	 * that their next lookups mark the entries they still use. */
	__atomic_fetch_add(&pgt_neigh_epoch, 1, __ATOMIC_RELEASE);
}

void
pgt_neigh_poll(void)
{
	struct pgt_neigh_msg msgs[32];
	uint64_t now = rte_get_tsc_cycles();
	unsigned int w, n, i;

	for (w = 0; w < nb_rings; w++) {
		do {
			n = rte_ring_sc_dequeue_burst_elem(msg_rings[w], msgs,
				sizeof(msgs[0]), RTE_DIM(msgs), NULL);
			for (i = 0; i < n; i++)
				handle_msg(&msgs[i], now);
		} while (n == RTE_DIM(msgs));
	}
	if (now >= next_tick) {
		next_tick = now + ms_to_tsc(NEIGH_TICK_MS);
		run_timers(now);
	}
}

void
pgt_neigh_flush(uint16_t port)
{
	struct pgt_neigh_entry *dead[64];
	struct pgt_neigh_entry *e;
	unsigned int n;
	const void *key;
	void *data;
	uint32_t iter;
	int32_t pos;

	do {
		n = 0;
		iter = 0;
		while (n < RTE_DIM(dead) && (pos = rte_hash_iterate(
				pgt_neigh_hash, &key, &data, &iter)) >= 0) {
			e = &pgt_neigh_entries[pos];
			if (e->state != PGT_NEIGH_PERMANENT &&
					(port == UINT16_MAX || e->port == port))
				dead[n++] = e;
		}
		if (n > 0)
			entries_delete(dead, n);
	} while (n == RTE_DIM(dead));
}

static void
port_state_changed(uint16_t port, bool up)
{
	if (!up)
		pgt_neigh_flush(port);
}

RTE_INIT(pgt_neigh_register_port_cb)
{
	pgt_port_on_state_change(port_state_changed);
}

/* RPC methods */

static const char *const state_names[] = {
	[PGT_NEIGH_INCOMPLETE] = "INCOMPLETE",
	[PGT_NEIGH_REACHABLE] = "REACHABLE",
	[PGT_NEIGH_STALE] = "STALE",
	[PGT_NEIGH_PROBE] = "PROBE",
	[PGT_NEIGH_FAILED] = "FAILED",
	[PGT_NEIGH_PERMANENT] = "PERMANENT",
};

struct neigh_port_args {
	char port[PGT_RPC_STR_MAX];
	bool has_port;
};

static int
find_port_arg(const struct neigh_port_args *args, struct pgt_rpc_err *err)
{
	int pid;

	if (!args->has_port)
		return UINT16_MAX;
	pid = pgt_port_find(args->port);
	if (pid < 0)
		return pgt_rpc_errorf(err, -ENODEV, "no port named '%s'",
			args->port);
	return pid;
}

static int
rpc_neigh_list(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	char a[PGT_INET_ADDRSTRLEN], m[RTE_ETHER_ADDR_FMT_SIZE];
	uint64_t now = rte_get_tsc_cycles();
	const struct pgt_neigh_entry *e;
	struct rte_ether_addr mac;
	json_t *list, *o;
	const void *key;
	void *data;
	uint32_t iter = 0;
	int32_t pos;
	int pid;

	pid = find_port_arg(argp, err);
	if (pid < 0)
		return pid;
	list = json_array();
	while ((pos = rte_hash_iterate(pgt_neigh_hash, &key, &data,
			&iter)) >= 0) {
		e = &pgt_neigh_entries[pos];
		if (pid != UINT16_MAX && e->port != pid)
			continue;
		o = json_pack("{s:s, s:s, s:s, s:I}",
			"address", pgt_inet_format_addr(e->addr, a, sizeof(a)),
			"port", v->port[e->port].name,
			"state", state_names[e->state],
			"idle_ms", (json_int_t)((now - e->last_used) * 1000 /
				rte_get_tsc_hz()));
		if (e->lladdr & PGT_NEIGH_VALID) {
			lladdr_to_mac(e->lladdr, &mac);
			json_object_set_new(o, "mac", json_string(
				pgt_inet_format_mac(&mac, m, sizeof(m))));
		}
		json_array_append_new(list, o);
	}
	*result = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}",
		"neighbours", list,
		"capacity", (json_int_t)nb_entries_max,
		"arp_requests_sent", (json_int_t)arp_sent,
		"arp_send_failed", (json_int_t)arp_send_failed,
		"table_full", (json_int_t)table_full,
		"worker_msgs_lost", (json_int_t)__atomic_load_n(&msgs_lost,
			__ATOMIC_RELAXED));
	return 0;
}

static const struct pgt_rpc_param neigh_port_params[] = {
	PGT_RPC_PARAM_OPT(struct neigh_port_args, port, PGT_RPC_STRING,
		"only this port"),
};

PGT_RPC_METHOD(neigh_list_method, "ip_neigh_list",
	"List ARP neighbours with state and MAC, and table counters",
	neigh_port_params, struct neigh_port_args, rpc_neigh_list);

static int
rpc_neigh_flush(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	int pid = find_port_arg(argp, err);

	if (pid < 0)
		return pid;
	pgt_neigh_flush((uint16_t)pid);
	return 0;
}

PGT_RPC_METHOD(neigh_flush_method, "ip_neigh_flush",
	"Forget all learned (non-permanent) neighbours, or a port's",
	neigh_port_params, struct neigh_port_args, rpc_neigh_flush);

struct neigh_entry_args {
	uint32_t address;
	char port[PGT_RPC_STR_MAX];
	struct rte_ether_addr mac;
};

static int
rpc_neigh_add(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct neigh_entry_args *args = argp;
	struct pgt_neigh_entry *e;
	int pid;

	pid = pgt_port_find(args->port);
	if (pid < 0)
		return pgt_rpc_errorf(err, -ENODEV, "no port named '%s'",
			args->port);
	if (rte_is_multicast_ether_addr(&args->mac) ||
			rte_is_zero_ether_addr(&args->mac))
		return pgt_rpc_errorf(err, -EINVAL,
			"neighbour MAC must be a unicast address");
	e = entry_find(args->address, (uint16_t)pid);
	if (e == NULL)
		e = entry_create(args->address, (uint16_t)pid,
			PGT_NEIGH_PERMANENT, rte_get_tsc_cycles());
	if (e == NULL)
		return pgt_rpc_errorf(err, -ENOSPC,
			"neighbour table full (%u entries)", nb_entries_max);
	e->state = PGT_NEIGH_PERMANENT;
	set_lladdr(e, mac_to_lladdr(&args->mac) | PGT_NEIGH_VALID);
	return 0;
}

static const struct pgt_rpc_param neigh_add_params[] = {
	PGT_RPC_PARAM(struct neigh_entry_args, address, PGT_RPC_IPV4, true,
		"neighbour address"),
	PGT_RPC_PARAM(struct neigh_entry_args, port, PGT_RPC_STRING, true,
		"port it is on"),
	PGT_RPC_PARAM(struct neigh_entry_args, mac, PGT_RPC_MAC, true,
		"its MAC address"),
};

PGT_RPC_METHOD(neigh_add_method, "ip_neigh_add",
	"Add or replace a permanent neighbour",
	neigh_add_params, struct neigh_entry_args, rpc_neigh_add);

static int
rpc_neigh_del(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct neigh_entry_args *args = argp;
	struct pgt_neigh_entry *e;
	char a[PGT_INET_ADDRSTRLEN];
	int pid;

	pid = pgt_port_find(args->port);
	if (pid < 0)
		return pgt_rpc_errorf(err, -ENODEV, "no port named '%s'",
			args->port);
	e = entry_find(args->address, (uint16_t)pid);
	if (e == NULL)
		return pgt_rpc_errorf(err, -ENOENT, "no neighbour %s on %s",
			pgt_inet_format_addr(args->address, a, sizeof(a)),
			args->port);
	entries_delete(&e, 1);
	return 0;
}

static struct pgt_rpc_method neigh_del_method = {
	.name = "ip_neigh_del",
	.desc = "Delete a neighbour",
	.params = neigh_add_params,
	.nb_params = 2,
	.args_size = sizeof(struct neigh_entry_args),
	.handler = rpc_neigh_del,
};
PGT_RPC_REGISTER(neigh_del_method);

static void
neigh_save(json_t *calls)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	char a[PGT_INET_ADDRSTRLEN], m[RTE_ETHER_ADDR_FMT_SIZE];
	const struct pgt_neigh_entry *e;
	struct rte_ether_addr mac;
	const void *key;
	void *data;
	uint32_t iter = 0;
	int32_t pos;

	while ((pos = rte_hash_iterate(pgt_neigh_hash, &key, &data,
			&iter)) >= 0) {
		e = &pgt_neigh_entries[pos];
		if (e->state != PGT_NEIGH_PERMANENT)
			continue;
		lladdr_to_mac(e->lladdr, &mac);
		pgt_rpc_save_call(calls, "ip_neigh_add", json_pack(
			"{s:s, s:s, s:s}",
			"address", pgt_inet_format_addr(e->addr, a, sizeof(a)),
			"port", v->port[e->port].name,
			"mac", pgt_inet_format_mac(&mac, m, sizeof(m))));
	}
}

/* Permanent entries only: what the daemon learned by ARP stays learned. */
static int
neigh_plan(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	static const char *const key[] = { "address", "port", NULL };
	static const struct pgt_rpc_items items = { .add = "ip_neigh_add",
		.del = "ip_neigh_del", .key = key, .del_params = key,
		.replace = PGT_RPC_REPLACE_BY_ADD };

	return pgt_rpc_plan_items(&items, running, wanted, phase, plan, err);
}

static const char *const neigh_methods[] = { "ip_neigh_add", NULL };
static struct pgt_rpc_saver neigh_saver = { .order = 40, .save = neigh_save,
	.methods = neigh_methods, .plan = neigh_plan };
PGT_RPC_REGISTER_SAVER(neigh_saver);
