/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The connection tables: lookup, creation, confirmation, expiry, handoff
 * between workers, and the management thread's view of them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_icmp.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_random.h>

#include "pgt_conntrack_priv.h"
#include "pgt_log.h"
#include "pgt_rcu.h"

PGT_LOG_REGISTER(conntrack);

_Static_assert(PGT_CT_NONE == PGT_PKT_CTINFO_NONE, "ctinfo none");
_Static_assert(sizeof(struct pgt_ct_tuple) == 16, "tuple is the hash key");
_Static_assert(sizeof(struct pgt_ct_event) % 4 == 0, "ring element size");
_Static_assert(sizeof(struct pgt_ct_conn) == 144, "a connection's size");
_Static_assert(offsetof(struct pgt_ct_conn, stream_tsc) +
	sizeof(uint64_t) <= 64, "the UDP path's fields in 64 bytes");

/* Packets waiting for their owner; a burst of replies fits. */
#define HANDOFF_RING	4096
#define CMD_RING	1024
#define EVENT_RING	4096
/* Work per poll: connections visited by the wheel, slots flushed,
 * deleted connections reclaimed, commands run. */
#define WHEEL_BUDGET	64
#define FLUSH_BUDGET	1024
#define RECLAIM_BUDGET	2048
#define CMD_BUDGET	64
/* Connections looked at to find one to evict when the table is full. */
#define EARLY_DROP_SCAN	64
/*
 * Connection slots beyond the capacity: a deleted connection is reused only
 * after every worker passed a quiescent state (about one loop iteration),
 * so a table that churns needs room for what one iteration deletes (a few
 * bursts, a flush step, the wheel's visits).
 */
#define CONN_SLACK	4096

#define X_DEFAULT(e, n, d) [PGT_CT_TO_##e] = d,
struct pgt_ct_config pgt_ct_cfg = {
	.timeout = { PGT_CT_TIMEOUT_LIST(X_DEFAULT) },
	.tcp_loose = true,
	.tcp_max_retrans = 3,
};
static const uint32_t timeout_defaults[PGT_CT_TO_MAX] = {
	PGT_CT_TIMEOUT_LIST(X_DEFAULT)
};
#undef X_DEFAULT

struct ct_table *pgt_ct_tables;
struct pgt_ct_conn *pgt_ct_conns[RTE_MAX_LCORE];
unsigned int pgt_ct_workers;
uint64_t pgt_ct_hz;
volatile bool pgt_ct_events_on;
static uint32_t capacity;	/* connections, at most */
static uint32_t nb_slots;	/* per table: capacity + CONN_SLACK */
static uint32_t head_mask;	/* chain heads per table - 1 */
static uint32_t hash_seed;	/* chains an outsider cannot aim at */
static uint32_t count;		/* all tables; atomic */

#define X_NAME(e, n, d) [PGT_CT_TO_##e] = #n,
static const char *const timeout_names[PGT_CT_TO_MAX] = {
	PGT_CT_TIMEOUT_LIST(X_NAME)
};
#undef X_NAME
#define X_NAME(e, n) [PGT_CT_STAT_##e] = n,
static const char *const stat_names[PGT_CT_STAT_MAX] = {
	PGT_CT_STAT_LIST(X_NAME)
};
#undef X_NAME

static const char *const tcp_state_names[PGT_TCP_STATE_MAX] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT",
	"CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
};

const char *
pgt_ct_timeout_name(enum pgt_ct_timeout t)
{
	return t < PGT_CT_TO_MAX ? timeout_names[t] : NULL;
}

uint32_t
pgt_ct_timeout_default(enum pgt_ct_timeout t)
{
	return timeout_defaults[t];
}

const char *
pgt_ct_stat_name(enum pgt_ct_stat s)
{
	return s < PGT_CT_STAT_MAX ? stat_names[s] : NULL;
}

const char *
pgt_ct_tcp_state_name(uint8_t state)
{
	return state < PGT_TCP_STATE_MAX ? tcp_state_names[state] : "NONE";
}

/* Setup */

void
pgt_ct_fini(void)
{
	unsigned int w;
	struct ct_table *t;

	if (pgt_ct_tables == NULL)
		return;
	for (w = 0; w < pgt_ct_workers; w++) {
		t = &pgt_ct_tables[w];
		rte_free(t->heads);
		rte_free(t->conns);
		rte_ring_free(t->handoff);
		rte_ring_free(t->cmd);
		rte_ring_free(t->events);
		pgt_ct_conns[w] = NULL;
	}
	rte_free(pgt_ct_tables);
	pgt_ct_tables = NULL;
}

static int
table_init(struct ct_table *t, unsigned int w, uint64_t now)
{
	char name[RTE_RING_NAMESIZE];
	uint32_t i;

	t->heads = rte_malloc("pgt_ct_heads",
		sizeof(*t->heads) * (head_mask + 1), RTE_CACHE_LINE_SIZE);
	t->conns = rte_zmalloc("pgt_ct_conns",
		sizeof(*t->conns) * nb_slots, RTE_CACHE_LINE_SIZE);
	snprintf(name, sizeof(name), "pgt_cth%u", w);
	t->handoff = rte_ring_create(name, HANDOFF_RING, SOCKET_ID_ANY,
		RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "pgt_ctc%u", w);
	t->cmd = rte_ring_create_elem(name, sizeof(struct ct_cmd), CMD_RING,
		SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(name, sizeof(name), "pgt_cte%u", w);
	t->events = rte_ring_create_elem(name, sizeof(struct pgt_ct_event),
		EVENT_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (t->heads == NULL || t->conns == NULL || t->handoff == NULL ||
			t->cmd == NULL || t->events == NULL)
		return -ENOMEM;
	memset(t->heads, 0xff, sizeof(*t->heads) * (head_mask + 1));
	pgt_ct_conns[w] = t->conns;
	/* Slot 0 first: the first connections are in the lowest slots. */
	for (i = 0; i < nb_slots; i++)
		t->conns[i].wheel_next = i + 1 < nb_slots ? i + 1 : CT_NIL;
	t->free_head = 0;
	t->def_first = t->def_last = CT_NIL;
	for (i = 0; i < CT_WHEEL_SLOTS; i++)
		t->wheel[i] = t->wheel_tail[i] = CT_NIL;
	t->wheel_sec = (uint32_t)(now / pgt_ct_hz);
	return 0;
}

int
pgt_ct_init(unsigned int nb_workers, uint32_t cap)
{
	uint64_t now = rte_get_tsc_cycles();
	unsigned int w;
	int rc;

	if (nb_workers == 0 || nb_workers > RTE_MAX_LCORE || cap == 0)
		return -EINVAL;
	if (cap > PGT_CT_MAX_CAPACITY)
		return -ERANGE;
	pgt_ct_hz = rte_get_tsc_hz();
	capacity = cap;
	nb_slots = cap + CONN_SLACK;
	/* As many chains as keys at most (two per connection): a lookup
	 * reads a chain of one or two connections on average. */
	head_mask = rte_align32pow2(2 * cap) - 1;
	hash_seed = (uint32_t)rte_rand();
	pgt_ct_cfg.max = cap;
	pgt_ct_workers = nb_workers;
	pgt_ct_tables = rte_zmalloc("pgt_ct_tables",
		sizeof(*pgt_ct_tables) * nb_workers, RTE_CACHE_LINE_SIZE);
	if (pgt_ct_tables == NULL)
		return -ENOMEM;
	for (w = 0; w < nb_workers; w++) {
		rc = table_init(&pgt_ct_tables[w], w, now);
		if (rc < 0) {
			PGT_LOG(ERR, conntrack,
				"cannot allocate %u connections per worker",
				cap);
			pgt_ct_fini();
			return rc;
		}
	}
	return 0;
}

uint32_t
pgt_ct_capacity(void)
{
	return capacity;
}

uint32_t
pgt_ct_slots(void)
{
	return nb_slots;
}

unsigned int
pgt_ct_nb_workers(void)
{
	return pgt_ct_workers;
}

uint32_t
pgt_ct_count(void)
{
	return __atomic_load_n(&count, __ATOMIC_RELAXED);
}

int
pgt_ct_set_max(uint32_t max)
{
	if (max == 0 || max > capacity)
		return -ERANGE;
	pgt_ct_cfg.max = max;
	return 0;
}

uint64_t
pgt_ct_stat(unsigned int w, enum pgt_ct_stat s)
{
	return __atomic_load_n(&pgt_ct_tables[w].stat[s], __ATOMIC_RELAXED);
}

/* Hashing: every table hashes alike, so one signature serves all. The
 * seed is random so that no one can send a flood of tuples that share a
 * chain. */

/* A tuple is hashed and compared as its two 64-bit words (the layout
 * pgt_ct_parsed_key() makes in registers). */
static inline uint32_t
words_sig(const uint64_t w[2])
{
	return rte_hash_crc_8byte(w[1], rte_hash_crc_8byte(w[0], hash_seed));
}

static inline bool
tuple_is(const struct pgt_ct_tuple *a, const uint64_t w[2])
{
	const uint64_t *x = (const uint64_t *)a;

	return ((x[0] ^ w[0]) | (x[1] ^ w[1])) == 0;
}

static inline uint32_t
tuple_sig(const struct pgt_ct_tuple *k)
{
	return words_sig((const uint64_t *)k);
}

static inline bool
tuple_eq(const struct pgt_ct_tuple *a, const struct pgt_ct_tuple *b)
{
	return tuple_is(a, (const uint64_t *)b);
}

/* References on chains: a connection's index and which of its tuples. */
#define CT_REF(idx, d)	((idx) << 1 | (uint32_t)(d))
#define CT_REF_IDX(r)	((r) >> 1)
#define CT_REF_DIR(r)	((r) & 1)

/* Safe from any worker: see struct ct_table. */
static inline bool
table_lookup(const struct ct_table *t, const struct pgt_ct_tuple *k,
	uint32_t sig, uint32_t *idx, enum pgt_ct_dir *dir)
{
	const struct pgt_ct_conn *c;
	uint32_t ref;

	ref = __atomic_load_n(&t->heads[sig & head_mask], __ATOMIC_ACQUIRE);
	while (ref != CT_NIL) {
		c = &t->conns[CT_REF_IDX(ref)];
		if (tuple_eq(&c->tuple[CT_REF_DIR(ref)], k)) {
			*idx = CT_REF_IDX(ref);
			*dir = (enum pgt_ct_dir)CT_REF_DIR(ref);
			return true;
		}
		ref = __atomic_load_n(&c->hnext[CT_REF_DIR(ref)],
			__ATOMIC_ACQUIRE);
	}
	return false;
}

/* Owner only. The connection's links are written before the head that
 * publishes it, so a reader that finds it finds the rest of the chain. */
static void
chain_link(struct ct_table *t, uint32_t idx, enum pgt_ct_dir d, uint32_t sig)
{
	uint32_t *head = &t->heads[sig & head_mask];

	t->conns[idx].hnext[d] = *head;
	__atomic_store_n(head, CT_REF(idx, d), __ATOMIC_RELEASE);
}

/* Owner only, for a key on its chain (a confirmed connection's; each is
 * destroyed once). The connection keeps its own link: a reader standing
 * on it goes on along the chain (it is not reused before the grace
 * period). */
static void
chain_unlink(struct ct_table *t, uint32_t idx, enum pgt_ct_dir d, uint32_t sig)
{
	uint32_t *link = &t->heads[sig & head_mask], ref = CT_REF(idx, d);

	while (*link != ref)
		link = &t->conns[CT_REF_IDX(*link)].hnext[CT_REF_DIR(*link)];
	__atomic_store_n(link, t->conns[idx].hnext[d], __ATOMIC_RELEASE);
}

/* Any table is none of the workers. */
#define ANY_TABLE UINT32_MAX

/* The worker other than @p skip whose table holds @p k, or -1. */
static int
find_owner(unsigned int skip, const struct pgt_ct_tuple *k, uint32_t sig)
{
	enum pgt_ct_dir dir;
	unsigned int o;
	uint32_t idx;

	for (o = 0; o < pgt_ct_workers; o++)
		if (o != skip && table_lookup(&pgt_ct_tables[o], k, sig, &idx,
				&dir))
			return (int)o;
	return -1;
}

bool
pgt_ct_tuple_taken(const struct pgt_ct_tuple *key)
{
	return find_owner(ANY_TABLE, key, tuple_sig(key)) >= 0;
}

/* Timer wheel */

static void
wheel_unlink(struct ct_table *t, struct pgt_ct_conn *c)
{
	uint32_t slot = c->wheel_sec & CT_WHEEL_MASK;

	if (c->wheel_prev != CT_NIL)
		t->conns[c->wheel_prev].wheel_next = c->wheel_next;
	else
		t->wheel[slot] = c->wheel_next;
	if (c->wheel_next != CT_NIL)
		t->conns[c->wheel_next].wheel_prev = c->wheel_prev;
	else
		t->wheel_tail[slot] = c->wheel_prev;
}

static void
wheel_place(struct ct_table *t, uint32_t idx)
{
	struct pgt_ct_conn *c = &t->conns[idx];
	uint64_t sec = c->expires / pgt_ct_hz + 1;
	uint32_t *tail;

	if (sec < t->wheel_sec)
		sec = t->wheel_sec;
	if (sec >= (uint64_t)t->wheel_sec + CT_WHEEL_SLOTS)
		sec = t->wheel_sec + CT_WHEEL_SLOTS - 1;
	c->wheel_sec = (uint32_t)sec;
	tail = &t->wheel_tail[sec & CT_WHEEL_MASK];
	c->wheel_next = CT_NIL;
	c->wheel_prev = *tail;
	if (*tail != CT_NIL)
		t->conns[*tail].wheel_next = idx;
	else
		t->wheel[sec & CT_WHEEL_MASK] = idx;
	*tail = idx;
}

void
pgt_ct_wheel_move(struct ct_table *t, struct pgt_ct_conn *c)
{
	wheel_unlink(t, c);
	wheel_place(t, (uint32_t)(c - t->conns));
}

/* Events */

static void
event_fill(struct pgt_ct_event *ev, const struct pgt_ct_conn *c,
	enum pgt_ct_event_type type, uint64_t now)
{
	ev->type = (uint8_t)type;
	ev->tcp_state = c->tcp.state;
	ev->pad = 0;
	ev->status = c->status;
	ev->mark = c->mark;
	ev->id = c->id;
	ev->timeout_s = type == PGT_CT_EVENT_DESTROY || c->expires <= now ? 0 :
		(int32_t)((c->expires - now) / pgt_ct_hz);
	ev->tuple[0] = c->tuple[0];
	ev->tuple[1] = c->tuple[1];
}

void
pgt_ct_event_post(struct ct_table *t, const struct pgt_ct_conn *c,
	enum pgt_ct_event_type type, uint64_t now)
{
	struct pgt_ct_event ev;

	if (likely(!pgt_ct_events_on))
		return;
	event_fill(&ev, c, type, now);
	if (rte_ring_sp_enqueue_elem(t->events, &ev, sizeof(ev)) != 0)
		t->stat[PGT_CT_STAT_EVENTS_LOST]++;
}

void
pgt_ct_events_enable(bool on)
{
	pgt_ct_events_on = on;
}

unsigned int
pgt_ct_events_take(struct pgt_ct_event *ev, unsigned int n)
{
	unsigned int w, got = 0;

	for (w = 0; w < pgt_ct_workers && got < n; w++)
		got += rte_ring_sc_dequeue_burst_elem(pgt_ct_tables[w].events,
			ev + got, sizeof(*ev), n - got, NULL);
	return got;
}

/* Allocation and destruction */

/* Make @p c a free slot for readers of the array (the management
 * thread's snapshots) and release its IPVS binding. */
static void
conn_retire(struct ct_table *t, struct pgt_ct_conn *c)
{
	if (c->status & PGT_CT_S_IPVS)
		pgt_ct_ipvs_ops->gone((unsigned int)(t - pgt_ct_tables), c);
	ct_seq_begin(c);
	c->in_use = 0;
	c->status = 0;
	ct_seq_end(c);
	__atomic_sub_fetch(&count, 1, __ATOMIC_RELAXED);
}

/* Put connection @p idx on the free list (linked through wheel_next). */
static inline void
free_push(struct ct_table *t, uint32_t idx)
{
	t->conns[idx].wheel_next = t->free_head;
	t->free_head = idx;
}

/* Free unconfirmed connection @p idx: no chain has it, so no other worker
 * can be reading it; it is reusable at once. */
static void
conn_free(struct ct_table *t, uint32_t idx)
{
	conn_retire(t, &t->conns[idx]);
	free_push(t, idx);
}

/* Remove confirmed connection @p idx: its keys, its wheel slot, itself. */
static void
conn_destroy(struct ct_table *t, uint32_t idx, uint64_t now)
{
	struct pgt_ct_conn *c = &t->conns[idx];
	struct ct_grace *g;
	uint64_t token;
	int d;

	for (d = 0; d < 2; d++)
		chain_unlink(t, idx, (enum pgt_ct_dir)d,
			tuple_sig(&c->tuple[d]));
	wheel_unlink(t, c);
	pgt_ct_event_post(t, c, PGT_CT_EVENT_DESTROY, now);
	conn_retire(t, c);
	/* Another worker may be walking its chain links: reuse it only
	 * after every worker passed a quiescent state. */
	c->wheel_next = CT_NIL;
	if (t->def_last != CT_NIL)
		t->conns[t->def_last].wheel_next = idx;
	else
		t->def_first = idx;
	t->def_last = idx;
	token = rte_rcu_qsbr_start(pgt_rcu_qsbr);
	t->def_added++;
	if (t->grace_count == CT_GRACE_MARKS) {
		g = &t->grace[(t->grace_head + t->grace_count - 1) %
			CT_GRACE_MARKS];
	} else {
		g = &t->grace[(t->grace_head + t->grace_count) %
			CT_GRACE_MARKS];
		t->grace_count++;
	}
	g->token = token;
	g->end = t->def_added;
}

/*
 * Evict one connection that is not assured (or a TCP one already closing),
 * among those nearest expiry, oldest first, to make room (Linux's
 * early_drop).
 */
static bool
early_drop(struct ct_table *t, uint64_t now)
{
	uint32_t sec, idx, seen = 0;
	struct pgt_ct_conn *c;

	for (sec = t->wheel_sec; sec < t->wheel_sec + CT_WHEEL_SLOTS &&
			seen < EARLY_DROP_SCAN; sec++) {
		for (idx = t->wheel[sec & CT_WHEEL_MASK];
				idx != CT_NIL && seen < EARLY_DROP_SCAN;
				idx = c->wheel_next, seen++) {
			c = &t->conns[idx];
			if (!(c->status & PGT_CT_S_ASSURED) ||
					(c->tuple[0].proto == IPPROTO_TCP &&
					c->tcp.state >= PGT_TCP_FIN_WAIT &&
					c->tcp.state <= PGT_TCP_CLOSE)) {
				conn_destroy(t, idx, now);
				t->stat[PGT_CT_STAT_EARLY_DROP]++;
				return true;
			}
		}
	}
	return false;
}

/* A free connection slot, or CT_NIL if the table is full. */
static uint32_t
conn_alloc(unsigned int w, struct ct_table *t, uint64_t now)
{
	struct pgt_ct_conn *c;
	uint32_t idx, n;

	n = __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
	if (unlikely(n > pgt_ct_cfg.max || t->free_head == CT_NIL)) {
		__atomic_sub_fetch(&count, 1, __ATOMIC_RELAXED);
		if (!early_drop(t, now) || t->free_head == CT_NIL)
			return CT_NIL;
		__atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
	}
	idx = t->free_head;
	c = &t->conns[idx];
	t->free_head = c->wheel_next;
	ct_seq_begin(c);
	c->status = 0;
	c->mark = 0;
	c->in_use = 1;
	c->expires = now;
	c->stream_tsc = 0;
	c->ipvs_dest = 0;
	c->ipvs_tmpl = 0;
	c->wheel_prev = c->wheel_next = CT_NIL;
	t->next_id++;
	c->id = t->next_id * pgt_ct_workers + w;
	ct_seq_end(c);
	return idx;
}

/* The packet path */

static enum pgt_ct_verdict
invalid(struct ct_table *t, struct pgt_pkt_meta *meta)
{
	t->stat[PGT_CT_STAT_INVALID]++;
	meta->ct = PGT_PKT_CT_NONE;
	meta->ctinfo = PGT_CT_INVALID;
	return PGT_CT_GO;
}

/* Give @p m to worker @p owner, whose table has its connection. */
static enum pgt_ct_verdict
handoff(struct ct_table *t, unsigned int owner, struct rte_mbuf *m,
	uint8_t hook)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);

	meta->ct_hook = hook;
	meta->ct_flags |= PGT_PKT_CTF_HANDED;
	if (rte_ring_mp_enqueue(pgt_ct_tables[owner].handoff, m) != 0) {
		t->stat[PGT_CT_STAT_HANDOFF_FULL]++;
		return PGT_CT_DROP_HANDOFF;
	}
	t->stat[PGT_CT_STAT_HANDOFF]++;
	return PGT_CT_STOLEN;
}

/* A found connection that expired but was not visited yet is gone. */
static inline bool
live(struct ct_table *t, uint32_t idx, uint64_t now)
{
	if (likely(t->conns[idx].expires > now))
		return true;
	conn_destroy(t, idx, now);
	t->stat[PGT_CT_STAT_EXPIRED]++;
	return false;
}

static inline bool
live_lookup(struct ct_table *t, const struct pgt_ct_tuple *k, uint32_t sig,
	uint32_t *idx, enum pgt_ct_dir *dir, uint64_t now)
{
	return table_lookup(t, k, sig, idx, dir) && live(t, *idx, now);
}

/*
 * An ICMP error: RELATED to the connection of the packet it quotes, if we
 * have it and the error goes where that connection's packets go; else
 * INVALID.
 */
static enum pgt_ct_verdict
icmp_error(unsigned int w, struct ct_table *t, struct rte_mbuf *m,
	const struct ct_pkt *p, uint8_t hook, uint64_t now)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	const struct rte_ipv4_hdr *in;
	struct pgt_ct_tuple inner, key;
	enum pgt_ct_dir dir;
	uint32_t hlen, idx;
	uint32_t sig;
	int owner;

	if (p->l4_len < sizeof(struct rte_icmp_hdr) + sizeof(*in))
		return invalid(t, meta);
	in = (const struct rte_ipv4_hdr *)(p->l4 + sizeof(struct rte_icmp_hdr));
	hlen = (in->version_ihl & 0xf) * 4u;
	if (hlen < sizeof(*in) ||
			p->l4_len < sizeof(struct rte_icmp_hdr) + hlen + 8 ||
			(in->fragment_offset &
			rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)))
		return invalid(t, meta);
	inner.src = rte_be_to_cpu_32(in->src_addr);
	inner.dst = rte_be_to_cpu_32(in->dst_addr);
	inner.proto = in->next_proto_id;
	inner.pad[0] = inner.pad[1] = inner.pad[2] = 0;
	inner.sport = inner.dport = 0;
	if (in->next_proto_id == IPPROTO_ICMP &&
			pgt_ct_icmp_is_error(((const uint8_t *)in)[hlen]))
		return invalid(t, meta);	/* an error about an error */
	switch (in->next_proto_id) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case 132:
	case 33:
		inner.sport = rte_be_to_cpu_16(*(const rte_be16_t *)
			((const uint8_t *)in + hlen));
		inner.dport = rte_be_to_cpu_16(*(const rte_be16_t *)
			((const uint8_t *)in + hlen + 2));
		break;
	case IPPROTO_ICMP:
		inner.sport = rte_be_to_cpu_16(((const struct rte_icmp_hdr *)
			((const uint8_t *)in + hlen))->icmp_ident);
		inner.dport = (uint16_t)(((const uint8_t *)in)[hlen] << 8 |
			((const uint8_t *)in)[hlen + 1]);
		break;
	default:
		break;
	}
	/* The quoted packet went the other way: its inverse is ours. */
	if (!pgt_ct_tuple_invert(&inner, &key))
		return invalid(t, meta);
	sig = tuple_sig(&key);
	if (!live_lookup(t, &key, sig, &idx, &dir, now)) {
		if (!(meta->ct_flags & PGT_PKT_CTF_HANDED)) {
			owner = find_owner(w, &key, sig);
			if (owner >= 0)
				return handoff(t, (unsigned int)owner, m, hook);
		}
		return invalid(t, meta);
	}
	/* An error must travel where the connection's packets go. */
	if (t->conns[idx].tuple[dir].dst != rte_be_to_cpu_32(p->ip->dst_addr))
		return invalid(t, meta);
	t->stat[PGT_CT_STAT_FOUND]++;
	meta->ct = idx;
	meta->ctinfo = dir == PGT_CT_DIR_REPLY ? PGT_CT_RELATED_REPLY :
		PGT_CT_RELATED;
	return PGT_CT_GO;
}

/* Start a connection for the first packet @p p, key @p key. */
static enum pgt_ct_verdict
conn_new(unsigned int w, struct ct_table *t, struct pgt_pkt_meta *meta,
	const struct ct_pkt *p, const struct pgt_ct_tuple *key, uint64_t now)
{
	struct pgt_ct_conn *c;
	bool kill;
	uint32_t idx;

	idx = conn_alloc(w, t, now);
	if (idx == CT_NIL) {
		t->stat[PGT_CT_STAT_DROP]++;
		return PGT_CT_DROP_FULL;
	}
	c = &t->conns[idx];
	ct_seq_begin(c);
	c->tuple[0] = *key;
	if (!pgt_ct_tuple_invert(key, &c->tuple[1]) ||
			memcmp(&c->tuple[0], &c->tuple[1], sizeof(*key)) == 0) {
		ct_seq_end(c);
		conn_free(t, idx);
		return invalid(t, meta);
	}
	ct_seq_end(c);
	if (!pgt_ct_l4_new(c, p) || pgt_ct_l4_packet(t, c, p,
			PGT_CT_DIR_ORIGINAL, now, &kill) != CT_L4_ACCEPT) {
		conn_free(t, idx);
		return invalid(t, meta);
	}
	meta->ct = idx;
	meta->ctinfo = PGT_CT_NEW;
	meta->ct_flags |= PGT_PKT_CTF_UNCONFIRMED;
	return PGT_CT_GO;
}

void
pgt_ct_lookup_burst(unsigned int w, struct rte_mbuf **pkts, unsigned int n)
{
	struct ct_table *t = &pgt_ct_tables[w];
	struct pgt_pkt_meta *meta;
	uint64_t words[2];
	uint32_t slot;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (pgt_ct_parsed_key(pkts[i], words) < 0)
			continue;
		slot = words_sig(words) & head_mask;
		rte_prefetch0(&t->heads[slot]);
		meta = pgt_pkt_meta(pkts[i]);
		meta->ct_hint = slot;
		meta->ct_flags |= PGT_PKT_CTF_HINT;
	}
}

void
pgt_ct_lookup_ahead(unsigned int w, const struct rte_mbuf *m)
{
	const struct pgt_pkt_meta *meta =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)m);
	const struct ct_table *t = &pgt_ct_tables[w];
	uint32_t ref;

	if (!(meta->ct_flags & PGT_PKT_CTF_HINT))
		return;
	ref = __atomic_load_n(&t->heads[meta->ct_hint], __ATOMIC_ACQUIRE);
	if (ref == CT_NIL)
		return;
	rte_prefetch0(&t->conns[CT_REF_IDX(ref)]);
	rte_prefetch0((const uint8_t *)&t->conns[CT_REF_IDX(ref)] +
		RTE_CACHE_LINE_SIZE);
}

/* A packet of @p c in direction @p dir: its conntrack state, and the
 * connection's, after the protocol tracker took it. */
static inline void
packet_seen(struct ct_table *t, struct pgt_pkt_meta *meta,
	struct pgt_ct_conn *c, uint32_t idx, enum pgt_ct_dir dir,
	uint32_t old_status, uint8_t old_state, uint64_t now)
{
	if (dir == PGT_CT_DIR_REPLY) {
		meta->ctinfo = PGT_CT_ESTABLISHED_REPLY;
		c->status |= PGT_CT_S_SEEN_REPLY;
	} else {
		meta->ctinfo = (c->status & PGT_CT_S_SEEN_REPLY) ?
			PGT_CT_ESTABLISHED : PGT_CT_NEW;
	}
	meta->ct = idx;
	if (c->status != old_status || c->tcp.state != old_state)
		pgt_ct_event_post(t, c, PGT_CT_EVENT_UPDATE, now);
}

/*
 * UDP packet @p m's connection, found on the chain its burst's lookup
 * chose (ct_hint: the tuple is compared, so a packet rewritten since only
 * misses), when it is live and not a virtual service's and the NIC did
 * not find the checksum bad: most packets of a NAT gateway, taken without
 * the full parse. @return the connection (its reference in @p ref), or
 * NULL for the full way.
 */
static inline struct pgt_ct_conn *
hinted_udp(const struct ct_table *t, struct rte_mbuf *m,
	const struct pgt_pkt_meta *meta, uint64_t now, uint32_t *ref)
{
	struct pgt_ct_conn *c;
	uint64_t key[2];
	uint32_t r;

	/* The tuple as the burst's lookup made it, in registers. */
	if (meta->proto != IPPROTO_UDP ||
			(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
			RTE_MBUF_F_RX_L4_CKSUM_BAD ||
			pgt_ct_parsed_key(m, key) < 0)
		return NULL;
	for (r = __atomic_load_n(&t->heads[meta->ct_hint], __ATOMIC_ACQUIRE);
			r != CT_NIL; r = c->hnext[CT_REF_DIR(r)]) {
		c = &t->conns[CT_REF_IDX(r)];
		if (!tuple_is(&c->tuple[CT_REF_DIR(r)], key))
			continue;
		if (c->expires <= now || (c->status & PGT_CT_S_IPVS))
			return NULL;
		*ref = r;
		return c;
	}
	return NULL;
}

enum pgt_ct_verdict
pgt_ct_in(unsigned int w, struct rte_mbuf *m, uint8_t hook, uint64_t now)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct ct_table *t = &pgt_ct_tables[w];
	struct pgt_ct_tuple key;
	enum ct_l4_verdict v;
	struct pgt_ct_conn *c;
	enum pgt_ct_dir dir;
	struct ct_pkt p;
	uint32_t idx, ref, old_status;
	uint8_t old_state;
	uint32_t sig;
	bool hinted, kill;
	int owner;

	/* The burst's answer serves the packet's first lookup only. */
	hinted = meta->ct_flags & PGT_PKT_CTF_HINT;
	meta->ct_flags &= (uint8_t)~PGT_PKT_CTF_HINT;
	if (meta->ctinfo == PGT_CT_UNTRACKED ||
			(meta->ct_flags & PGT_PKT_CTF_ATTACHED))
		return PGT_CT_GO;
	if (hinted && (c = hinted_udp(t, m, meta, now, &ref)) != NULL) {
		t->stat[PGT_CT_STAT_FOUND]++;
		old_status = c->status;
		old_state = c->tcp.state;
		pgt_ct_udp_packet(t, c, now);
		packet_seen(t, meta, c, CT_REF_IDX(ref),
			(enum pgt_ct_dir)CT_REF_DIR(ref), old_status, old_state,
			now);
		return PGT_CT_GO;
	}
	meta->ct = PGT_PKT_CT_NONE;
	if (pgt_ct_pkt_key(m, &p, &key) < 0)
		return invalid(t, meta);
	/* Trust a NIC that checked the transport checksum: a corrupt
	 * segment must not move the TCP state (Linux checks it too). */
	if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
			RTE_MBUF_F_RX_L4_CKSUM_BAD)
		return invalid(t, meta);
	if (p.proto == IPPROTO_ICMP && pgt_ct_icmp_is_error(p.l4[0]))
		return icmp_error(w, t, m, &p, hook, now);
lookup:
	sig = tuple_sig(&key);
	if (!live_lookup(t, &key, sig, &idx, &dir, now)) {
		if (!(meta->ct_flags & PGT_PKT_CTF_HANDED)) {
			owner = find_owner(w, &key, sig);
			if (owner >= 0)
				return handoff(t, (unsigned int)owner, m, hook);
		}
		return conn_new(w, t, meta, &p, &key, now);
	}
	t->stat[PGT_CT_STAT_FOUND]++;
	c = &t->conns[idx];
	old_status = c->status;
	old_state = c->tcp.state;
	/* UDP, most of the traffic of a NAT gateway, without a call. */
	if (p.proto == IPPROTO_UDP && !(c->status & PGT_CT_S_IPVS)) {
		pgt_ct_udp_packet(t, c, now);
		v = CT_L4_ACCEPT;
		kill = false;
	} else {
		v = pgt_ct_l4_packet(t, c, &p, dir, now, &kill);
	}
	if (v == CT_L4_REOPEN) {
		conn_destroy(t, idx, now);
		goto lookup;
	}
	if (v == CT_L4_INVALID)
		return invalid(t, meta);
	/* This packet still uses it (NAT); the next lookup or the wheel's
	 * next visit removes it. */
	if (kill)
		pgt_ct_expire_at(t, c, now);
	packet_seen(t, meta, c, idx, dir, old_status, old_state, now);
	return PGT_CT_GO;
}

enum pgt_ct_verdict
pgt_ct_confirm(unsigned int w, struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct ct_table *t = &pgt_ct_tables[w];
	struct pgt_ct_conn *c;
	uint32_t sig[2];
	int d;

	meta->ct_flags &= (uint8_t)~PGT_PKT_CTF_UNCONFIRMED;
	c = &t->conns[meta->ct];
	for (d = 0; d < 2; d++) {
		sig[d] = tuple_sig(&c->tuple[d]);
		/* Taken here, or by a connection another worker started at
		 * the same time (a flow arriving on two queues). */
		if (find_owner(ANY_TABLE, &c->tuple[d], sig[d]) >= 0)
			goto clash;
	}
	for (d = 0; d < 2; d++)
		chain_link(t, meta->ct, (enum pgt_ct_dir)d, sig[d]);
	ct_seq_begin(c);
	c->status |= PGT_CT_S_CONFIRMED;
	ct_seq_end(c);
	wheel_place(t, meta->ct);
	t->stat[PGT_CT_STAT_INSERT]++;
	pgt_ct_event_post(t, c, PGT_CT_EVENT_NEW, rte_get_tsc_cycles());
	return PGT_CT_GO;
clash:
	t->stat[PGT_CT_STAT_INSERT_FAILED]++;
	conn_free(t, meta->ct);
	meta->ct = PGT_PKT_CT_NONE;
	return PGT_CT_DROP_CLASH;
}

void
pgt_ct_release(unsigned int w, struct pgt_pkt_meta *meta)
{
	if (!(meta->ct_flags & PGT_PKT_CTF_UNCONFIRMED))
		return;
	meta->ct_flags &= (uint8_t)~PGT_PKT_CTF_UNCONFIRMED;
	conn_free(&pgt_ct_tables[w], meta->ct);
	meta->ct = PGT_PKT_CT_NONE;
}

void
pgt_ct_attach(struct rte_mbuf *answer, const struct rte_mbuf *orig)
{
	const struct pgt_pkt_meta *om =
		pgt_pkt_meta((struct rte_mbuf *)(uintptr_t)orig);
	struct pgt_pkt_meta *am = pgt_pkt_meta(answer);

	pgt_ct_detach(am);
	if (om->ct == PGT_PKT_CT_NONE || om->ctinfo > PGT_CT_RELATED_REPLY)
		return;
	am->ct = om->ct;
	am->ct_flags = PGT_PKT_CTF_ATTACHED;
	am->ctinfo = pgt_ct_info_dir(om->ctinfo) == PGT_CT_DIR_ORIGINAL ?
		PGT_CT_RELATED_REPLY : PGT_CT_RELATED;
}

unsigned int
pgt_ct_handoff_dequeue(unsigned int w, struct rte_mbuf **pkts, unsigned int n)
{
	return rte_ring_sc_dequeue_burst(pgt_ct_tables[w].handoff,
		(void **)pkts, n, NULL);
}

/* Periodic work */

/* Free the deleted connections whose grace period is over. */
static void
reclaim(struct ct_table *t)
{
	unsigned int n = 0;
	struct ct_grace *g;
	uint32_t idx;

	while (t->grace_count > 0 && n < RECLAIM_BUDGET) {
		g = &t->grace[t->grace_head];
		if (rte_rcu_qsbr_check(pgt_rcu_qsbr, g->token, false) != 1)
			return;
		for (; t->def_freed != g->end && n < RECLAIM_BUDGET; n++) {
			idx = t->def_first;
			t->def_first = t->conns[idx].wheel_next;
			if (t->def_first == CT_NIL)
				t->def_last = CT_NIL;
			free_push(t, idx);
			t->def_freed++;
		}
		if (t->def_freed == g->end) {
			t->grace_head = (t->grace_head + 1) % CT_GRACE_MARKS;
			t->grace_count--;
		}
	}
}

static void
run_commands(struct ct_table *t, uint64_t now)
{
	struct ct_cmd cmd;
	unsigned int n = 0;
	struct pgt_ct_conn *c;

	while (n++ < CMD_BUDGET && rte_ring_sc_dequeue_elem(t->cmd, &cmd,
			sizeof(cmd)) == 0) {
		if (cmd.type == CT_CMD_FLUSH) {
			t->flushing = true;
			t->flush_cursor = 0;
			continue;
		}
		if (cmd.idx >= nb_slots)
			continue;
		c = &t->conns[cmd.idx];
		if (c->in_use && (c->status & PGT_CT_S_CONFIRMED) &&
				c->id == cmd.id)
			conn_destroy(t, cmd.idx, now);
	}
}

static void
flush_some(struct ct_table *t, uint64_t now)
{
	uint32_t end = RTE_MIN(t->flush_cursor + FLUSH_BUDGET, nb_slots);
	struct pgt_ct_conn *c;

	for (; t->flush_cursor < end; t->flush_cursor++) {
		c = &t->conns[t->flush_cursor];
		/* Between bursts no packet holds an unconfirmed one. */
		if (c->in_use && (c->status & PGT_CT_S_CONFIRMED))
			conn_destroy(t, t->flush_cursor, now);
	}
	if (t->flush_cursor == nb_slots)
		t->flushing = false;
}

/*
 * Visit the slots whose second has come, a bounded number of connections
 * per call: expired ones go, refreshed ones move to their new slot.
 */
static void
expire_some(struct ct_table *t, uint64_t now)
{
	unsigned int budget = WHEEL_BUDGET;
	struct pgt_ct_conn *c;
	uint32_t idx;

	while ((uint64_t)t->wheel_sec * pgt_ct_hz <= now) {
		idx = t->wheel[t->wheel_sec & CT_WHEEL_MASK];
		if (idx == CT_NIL) {
			t->wheel_sec++;
			continue;
		}
		if (budget-- == 0)
			return;
		c = &t->conns[idx];
		if (c->expires <= now) {
			conn_destroy(t, idx, now);
			t->stat[PGT_CT_STAT_EXPIRED]++;
		} else {
			wheel_unlink(t, c);
			wheel_place(t, idx);
		}
	}
}

void
pgt_ct_worker_poll(unsigned int w, uint64_t now)
{
	struct ct_table *t = &pgt_ct_tables[w];

	if (t->grace_count > 0)
		reclaim(t);
	if (unlikely(!rte_ring_empty(t->cmd)))
		run_commands(t, now);
	if (unlikely(t->flushing))
		flush_some(t, now);
	expire_some(t, now);
}

/* Management */

int
pgt_ct_snapshot(unsigned int w, uint32_t idx, struct pgt_ct_snapshot *s)
{
	const struct pgt_ct_conn *c = &pgt_ct_tables[w].conns[idx];
	uint64_t now;
	uint32_t seq;
	int tries;

	for (tries = 0; tries < 4; tries++) {
		seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		if (!__atomic_load_n(&c->in_use, __ATOMIC_RELAXED) ||
				!(__atomic_load_n(&c->status, __ATOMIC_RELAXED) &
				PGT_CT_S_CONFIRMED))
			return -ENOENT;
		memcpy(&s->c, c, sizeof(*c));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&c->seq, __ATOMIC_RELAXED) != seq)
			continue;
		s->worker = w;
		s->idx = idx;
		now = rte_get_tsc_cycles();
		s->timeout_s = s->c.expires <= now ? 0 :
			(int64_t)((s->c.expires - now) / pgt_ct_hz);
		return 0;
	}
	return -EAGAIN;
}

int
pgt_ct_delete(unsigned int w, uint32_t idx, uint32_t id)
{
	struct ct_cmd cmd = { .type = CT_CMD_DELETE, .idx = idx, .id = id };

	if (rte_ring_sp_enqueue_elem(pgt_ct_tables[w].cmd, &cmd,
			sizeof(cmd)) != 0)
		return -ENOBUFS;
	return 0;
}

int
pgt_ct_flush(void)
{
	struct ct_cmd cmd = { .type = CT_CMD_FLUSH };
	unsigned int w;

	for (w = 0; w < pgt_ct_workers; w++)
		if (rte_ring_free_count(pgt_ct_tables[w].cmd) == 0)
			return -ENOBUFS;
	for (w = 0; w < pgt_ct_workers; w++)
		rte_ring_sp_enqueue_elem(pgt_ct_tables[w].cmd, &cmd,
			sizeof(cmd));
	return 0;
}
