/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Virtual services: the snapshot the workers read, the slots that outlive
 * snapshots, persistence templates, scheduling a new connection, and the
 * conntrack callbacks that keep IPVS's TCP state and the real servers'
 * connection counts.
 *
 * Counting without locks. A connection is created, changed and freed by
 * the worker that owns it, so each worker keeps its own active/inactive
 * counts per real server and only ever adds to its own; a scheduler that
 * wants a server's load (lc, wlc, sed, nq) adds up the workers' counts with
 * relaxed loads. The sum may be a few packets old, which only matters as
 * much as Linux's own atomic counts racing with its softirqs on other CPUs:
 * two workers may both see a server as least loaded at the same instant.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_tcp.h>

#include "pgt_ipvs_priv.h"
#include "pgt_log.h"
#include "pgt_rcu.h"

PGT_LOG_REGISTER(ipvs);

struct pgt_ipvs_config pgt_ipvs_cfg = {
	.tcp_timeout = 900,
	.tcpfin_timeout = 120,
	.udp_timeout = 300,
	.mh_table_size = 4093,
	.reject_tcp_reset = false,
};

unsigned int pgt_ipvs_workers;

/* Schedulers */

static struct pgt_ipvs_sched_ops *scheds;

void
pgt_ipvs_sched_register(struct pgt_ipvs_sched_ops *ops)
{
	ops->next = scheds;
	scheds = ops;
}

const struct pgt_ipvs_sched_ops *
pgt_ipvs_sched_find(const char *name)
{
	const struct pgt_ipvs_sched_ops *s;

	for (s = scheds; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

const char *const pgt_ipvs_method_names[PGT_IPVS_METHOD_MAX] = {
	[PGT_IPVS_MASQ] = "Masq",
	[PGT_IPVS_ROUTE] = "Route",
	[PGT_IPVS_TUNNEL] = "Tunnel",
	[PGT_IPVS_FULLNAT] = "FullNat",
};

/* Slots */

/* Per-worker counters: [worker][slot], so a worker writes its own lines. */
static struct pgt_ipvs_ctr *dest_ctr, *svc_ctr;
/* Per-service scheduler state: [slot][worker]. */
static struct pgt_ipvs_sched_state *svc_state;
/* Upper threshold reached (set and cleared by any worker: a hint). */
static uint8_t dest_overloaded[PGT_IPVS_MAX_DESTS];
/* Set before a snapshot names the slot (published by RCU with it). */
static uint32_t dest_addr[PGT_IPVS_MAX_DESTS];
/* Management thread only. */
enum { SLOT_FREE, SLOT_USED, SLOT_RETIRED };
static uint8_t dest_slot_state[PGT_IPVS_MAX_DESTS];
static uint8_t svc_slot_state[PGT_IPVS_MAX_SERVICES];
static struct pgt_ipvs_rate dest_rate[PGT_IPVS_MAX_DESTS];
static struct pgt_ipvs_rate svc_rate[PGT_IPVS_MAX_SERVICES];
static uint64_t stats[RTE_MAX_LCORE][PGT_IPVS_STAT_MAX];

static inline struct pgt_ipvs_ctr *
dctr(unsigned int w, uint16_t slot)
{
	return &dest_ctr[(size_t)w * PGT_IPVS_MAX_DESTS + slot];
}

static inline struct pgt_ipvs_ctr *
sctr(unsigned int w, uint16_t slot)
{
	return &svc_ctr[(size_t)w * PGT_IPVS_MAX_SERVICES + slot];
}

void
pgt_ipvs_count(unsigned int w, enum pgt_ipvs_stat s)
{
	stats[w][s]++;
}

uint64_t
pgt_ipvs_stat(enum pgt_ipvs_stat s)
{
	uint64_t sum = 0;
	unsigned int w;

	for (w = 0; w < pgt_ipvs_workers; w++)
		sum += __atomic_load_n(&stats[w][s], __ATOMIC_RELAXED);
	return sum;
}

void
pgt_ipvs_dest_conns(uint16_t slot, uint32_t *active, uint32_t *inactive)
{
	int64_t a = 0, i = 0;
	unsigned int w;

	for (w = 0; w < pgt_ipvs_workers; w++) {
		a += __atomic_load_n(&dctr(w, slot)->active, __ATOMIC_RELAXED);
		i += __atomic_load_n(&dctr(w, slot)->inactive,
			__ATOMIC_RELAXED);
	}
	/* One worker's count can be read mid-update against another's. */
	*active = a > 0 ? (uint32_t)a : 0;
	*inactive = i > 0 ? (uint32_t)i : 0;
}

uint32_t
pgt_ipvs_weight_gcd(const struct pgt_ipvs_service *svc)
{
	uint32_t i, a, b, t, g = 0;

	for (i = 0; i < svc->nb_dests; i++) {
		/* Euclid; gcd(w, 0) = w, so zero weights change nothing. */
		for (a = svc->dests[i].weight, b = g; b != 0; a = b, b = t)
			t = a % b;
		g = a != 0 ? a : g;
	}
	return g;
}

uint32_t
pgt_ipvs_dest_overhead(const struct pgt_ipvs_dest *d)
{
	uint32_t a, i;

	pgt_ipvs_dest_conns(d->slot, &a, &i);
	return (a << 8) + i;
}

bool
pgt_ipvs_dest_usable(const struct pgt_ipvs_dest *d)
{
	uint32_t a, i, n, low;

	if (d->weight == 0)
		return false;
	if (d->u_threshold == 0)
		return true;
	pgt_ipvs_dest_conns(d->slot, &a, &i);
	n = a + i;
	if (n >= d->u_threshold) {
		__atomic_store_n(&dest_overloaded[d->slot], 1, __ATOMIC_RELAXED);
		return false;
	}
	if (!__atomic_load_n(&dest_overloaded[d->slot], __ATOMIC_RELAXED))
		return true;
	low = d->l_threshold != 0 ? d->l_threshold : d->u_threshold * 3 / 4;
	if (n > low)
		return false;
	__atomic_store_n(&dest_overloaded[d->slot], 0, __ATOMIC_RELAXED);
	return true;
}

static void
totals(const struct pgt_ipvs_ctr *base, size_t stride, struct pgt_ipvs_totals *t)
{
	const struct pgt_ipvs_ctr *c;
	unsigned int w;

	memset(t, 0, sizeof(*t));
	for (w = 0; w < pgt_ipvs_workers; w++) {
		c = base + w * stride;
		t->active += __atomic_load_n(&c->active, __ATOMIC_RELAXED);
		t->inactive += __atomic_load_n(&c->inactive, __ATOMIC_RELAXED);
		t->conns += __atomic_load_n(&c->conns, __ATOMIC_RELAXED);
		t->inpkts += __atomic_load_n(&c->inpkts, __ATOMIC_RELAXED);
		t->outpkts += __atomic_load_n(&c->outpkts, __ATOMIC_RELAXED);
		t->inbytes += __atomic_load_n(&c->inbytes, __ATOMIC_RELAXED);
		t->outbytes += __atomic_load_n(&c->outbytes, __ATOMIC_RELAXED);
	}
	if (t->active < 0)
		t->active = 0;
	if (t->inactive < 0)
		t->inactive = 0;
}

void
pgt_ipvs_dest_totals(uint16_t slot, struct pgt_ipvs_totals *t)
{
	totals(dctr(0, slot), PGT_IPVS_MAX_DESTS, t);
}

void
pgt_ipvs_svc_totals(uint16_t slot, struct pgt_ipvs_totals *t)
{
	totals(sctr(0, slot), PGT_IPVS_MAX_SERVICES, t);
}

struct pgt_ipvs_rate *
pgt_ipvs_dest_rate(uint16_t slot)
{
	return &dest_rate[slot];
}

struct pgt_ipvs_rate *
pgt_ipvs_svc_rate(uint16_t slot)
{
	return &svc_rate[slot];
}

/*
 * Persistence templates: one table shared by the workers, because RSS may
 * spread one client's connections (different source ports) over workers
 * and they must all reach the same real server. An entry is claimed by a
 * compare-and-swap of its key; while connections use it (n_conns > 0) or
 * before it expires it is live; after that any worker may claim it again.
 * A worker that takes a reference increments n_conns first and then checks
 * the key is still its own, backing out if it was claimed meanwhile, so a
 * claimer (which only takes entries whose n_conns it saw at 0) never loses
 * a reference.
 */
#define TMPL_ENTRIES	65536u
#define TMPL_PROBES	16u

struct tmpl {
	uint64_t key;		/* (service slot + 1) << 32 | masked client */
	uint32_t expires;	/* second */
	uint32_t timeout;	/* seconds, from the service */
	int32_t n_conns;
	uint16_t dest;		/* slot */
	uint16_t pad;
};

static struct tmpl *tmpls;
static uint64_t hz;

static inline uint32_t
now_sec(uint64_t tsc)
{
	return (uint32_t)(tsc / hz);
}

static bool
tmpl_live(const struct tmpl *t, uint32_t sec)
{
	return __atomic_load_n(&t->n_conns, __ATOMIC_ACQUIRE) > 0 ||
		(int32_t)(__atomic_load_n(&t->expires, __ATOMIC_RELAXED) -
			sec) > 0;
}

/* Take a reference on the live template of @p key; @return index or -1. */
static int32_t
tmpl_get(uint64_t key, uint32_t sec, uint16_t *dest)
{
	uint32_t h = rte_hash_crc_8byte(key, 0), i, idx;
	struct tmpl *t;

	for (i = 0; i < TMPL_PROBES; i++) {
		idx = (h + i) & (TMPL_ENTRIES - 1);
		t = &tmpls[idx];
		if (__atomic_load_n(&t->key, __ATOMIC_ACQUIRE) != key ||
				!tmpl_live(t, sec))
			continue;
		__atomic_add_fetch(&t->n_conns, 1, __ATOMIC_ACQ_REL);
		if (__atomic_load_n(&t->key, __ATOMIC_ACQUIRE) != key) {
			__atomic_sub_fetch(&t->n_conns, 1, __ATOMIC_RELEASE);
			continue;
		}
		*dest = __atomic_load_n(&t->dest, __ATOMIC_ACQUIRE);
		return (int32_t)idx;
	}
	return -1;
}

/* Claim an entry for @p key pointing at @p dest with one reference. */
static int32_t
tmpl_new(uint64_t key, uint16_t dest, uint32_t timeout, uint32_t sec)
{
	uint32_t h = rte_hash_crc_8byte(key, 0), i, idx;
	uint64_t old;
	struct tmpl *t;

	for (i = 0; i < TMPL_PROBES; i++) {
		idx = (h + i) & (TMPL_ENTRIES - 1);
		t = &tmpls[idx];
		old = __atomic_load_n(&t->key, __ATOMIC_ACQUIRE);
		if (old != 0 && tmpl_live(t, sec))
			continue;
		if (!__atomic_compare_exchange_n(&t->key, &old, key, false,
				__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		__atomic_store_n(&t->dest, dest, __ATOMIC_RELEASE);
		__atomic_store_n(&t->timeout, timeout, __ATOMIC_RELAXED);
		__atomic_store_n(&t->expires, sec + timeout, __ATOMIC_RELAXED);
		__atomic_add_fetch(&t->n_conns, 1, __ATOMIC_ACQ_REL);
		return (int32_t)idx;
	}
	return -1;
}

/* A connection stops using template @p idx: it lasts timeout more. */
static void
tmpl_put(uint32_t idx, uint32_t sec)
{
	struct tmpl *t = &tmpls[idx];

	__atomic_store_n(&t->expires, sec + __atomic_load_n(&t->timeout,
		__ATOMIC_RELAXED), __ATOMIC_RELAXED);
	__atomic_sub_fetch(&t->n_conns, 1, __ATOMIC_RELEASE);
}

/* The snapshot */

static struct pgt_ipvs_snapshot empty_snapshot;
static struct pgt_ipvs_snapshot *published = &empty_snapshot;
static struct ipvs_model *model;
uint64_t pgt_ipvs_model_gen;

const struct pgt_ipvs_snapshot *
pgt_ipvs_get(void)
{
	return pgt_rcu_dereference(published);
}

bool
pgt_ipvs_active(const struct pgt_ipvs_snapshot *s)
{
	return s->nb_services > 0;
}

static inline uint32_t
svc_hash(uint8_t proto, uint32_t addr, uint16_t port)
{
	return rte_hash_crc_4byte(addr, (uint32_t)proto << 16 | port);
}

static const struct pgt_ipvs_service *
lookup_vip(const struct pgt_ipvs_snapshot *s, uint8_t proto, uint32_t addr,
	uint16_t port)
{
	const struct pgt_ipvs_service *svc;
	uint32_t i, h = svc_hash(proto, addr, port);
	uint16_t v;

	for (i = 0; i <= s->hash_mask; i++) {
		v = s->hash[(h + i) & s->hash_mask];
		if (v == 0)
			return NULL;
		svc = &s->svc[v - 1];
		if (svc->proto == proto && svc->addr == addr &&
				svc->port == port)
			return svc;
	}
	return NULL;
}

const struct pgt_ipvs_service *
pgt_ipvs_lookup(const struct pgt_ipvs_snapshot *s, uint8_t proto,
	uint32_t dst, uint16_t dport, uint32_t mark)
{
	const struct pgt_ipvs_service *svc;
	uint32_t i;

	if (mark != 0)
		for (i = 0; i < s->nb_fwmark; i++)
			if (s->svc[s->fwmark[i]].fwmark == mark)
				return &s->svc[s->fwmark[i]];
	if (s->hash_mask == 0 && s->hash == NULL)
		return NULL;
	svc = lookup_vip(s, proto, dst, dport);
	if (svc != NULL)
		return svc;
	svc = lookup_vip(s, proto, dst, 0);
	return svc != NULL && (svc->flags & PGT_IPVS_SVC_PERSISTENT) ? svc :
		NULL;
}

bool
pgt_ipvs_owns_addr(const struct pgt_ipvs_snapshot *s, uint32_t addr)
{
	uint32_t i, j;

	for (i = 0; i < s->nb_services; i++) {
		if (s->svc[i].fwmark == 0 && s->svc[i].addr == addr)
			return true;
		for (j = 0; j < s->svc[i].nb_laddrs; j++)
			if (s->svc[i].laddrs[j] == addr)
				return true;
	}
	return false;
}

static void
snapshot_free(struct pgt_ipvs_snapshot *s)
{
	uint32_t i;

	if (s == NULL || s == &empty_snapshot)
		return;
	for (i = 0; i < s->nb_services; i++) {
		if (s->svc[i].sched->fini != NULL)
			s->svc[i].sched->fini(&s->svc[i]);
		free(s->svc[i].dests);
	}
	free(s->svc);
	free(s->fwmark);
	free(s->hash);
	free(s);
}

/* Build the workers' form of @p m (slots already assigned). */
static int
snapshot_build(const struct ipvs_model *m, struct pgt_ipvs_snapshot **out)
{
	struct pgt_ipvs_snapshot *s;
	struct pgt_ipvs_service *svc;
	const struct ipvs_msvc *ms;
	uint32_t i, j, n, size, h;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	if (m->nb == 0) {
		*out = s;
		return 0;
	}
	for (size = 4; size < 2 * m->nb; size <<= 1)
		;
	s->svc = calloc(m->nb, sizeof(*s->svc));
	s->fwmark = calloc(m->nb, sizeof(*s->fwmark));
	s->hash = calloc(size, sizeof(*s->hash));
	if (s->svc == NULL || s->fwmark == NULL || s->hash == NULL) {
		snapshot_free(s);
		return -ENOMEM;
	}
	s->hash_mask = size - 1;
	for (i = 0; i < m->nb; i++) {
		ms = m->svc[i];
		svc = &s->svc[i];
		*svc = ms->s;
		svc->sched_data = NULL;
		svc->state = &svc_state[(size_t)svc->slot * pgt_ipvs_workers];
		svc->dests = calloc(ms->nb_dests + 1, sizeof(*svc->dests));
		if (svc->dests == NULL) {
			snapshot_free(s);
			return -ENOMEM;
		}
		for (j = 0, n = 0; j < ms->nb_dests; j++) {
			const struct ipvs_mdest *md = &ms->dests[j];
			bool removed;

			svc->dests[n] = md->d;
			svc->dests[n].down = pgt_ipvs_check_down(ms, md,
				&removed);
			if (svc->dests[n].down && removed)
				continue;
			if (svc->dests[n].down)
				svc->dests[n].weight = 0;
			n++;
		}
		svc->nb_dests = n;
		rc = svc->sched->init != NULL ? svc->sched->init(svc) : 0;
		if (rc != 0) {
			free(svc->dests);
			snapshot_free(s);
			return rc;
		}
		s->nb_services = i + 1;
		if (svc->fwmark != 0) {
			s->fwmark[s->nb_fwmark++] = (uint16_t)i;
			continue;
		}
		h = svc_hash(svc->proto, svc->addr, svc->port);
		for (j = 0; s->hash[(h + j) & s->hash_mask] != 0; j++)
			;
		s->hash[(h + j) & s->hash_mask] = (uint16_t)(i + 1);
	}
	*out = s;
	return 0;
}

/* The model */

struct ipvs_model *
pgt_ipvs_model(void)
{
	return model;
}

void
pgt_ipvs_model_free(struct ipvs_model *m)
{
	uint32_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nb; i++) {
		free(m->svc[i]->dests);
		free(m->svc[i]);
	}
	free(m->svc);
	free(m);
}

struct ipvs_model *
pgt_ipvs_model_clone(const struct ipvs_model *m)
{
	struct ipvs_model *c = calloc(1, sizeof(*c));
	struct ipvs_msvc *s;
	uint32_t i;

	if (c == NULL)
		return NULL;
	c->cap = m->nb + 8;
	c->svc = calloc(c->cap, sizeof(*c->svc));
	if (c->svc == NULL)
		goto nomem;
	for (i = 0; i < m->nb; i++) {
		s = malloc(sizeof(*s));
		if (s == NULL)
			goto nomem;
		*s = *m->svc[i];
		s->cap_dests = s->nb_dests;
		s->dests = calloc(s->nb_dests + 1, sizeof(*s->dests));
		if (s->dests == NULL) {
			free(s);
			goto nomem;
		}
		if (s->nb_dests > 0)
			memcpy(s->dests, m->svc[i]->dests,
				s->nb_dests * sizeof(*s->dests));
		c->svc[c->nb++] = s;
	}
	return c;
nomem:
	pgt_ipvs_model_free(c);
	return NULL;
}

/*
 * A free slot of @p state (@p n slots), or 0. The search starts where the
 * last one ended (*@p hint), so that giving slots to 10,000 new services
 * in one restore is linear, not quadratic.
 */
static uint16_t
slot_take(uint8_t *state, uint32_t n, uint32_t *hint)
{
	uint32_t i, k;

	for (k = 0; k < n - 1; k++) {
		i = 1 + (*hint + k) % (n - 1);
		if (state[i] == SLOT_FREE) {
			state[i] = SLOT_USED;
			*hint = i;
			return (uint16_t)i;
		}
	}
	return 0;
}

/* Give slots to what @p m adds; @return 0 or -ENOSPC (none taken). */
static int
slots_assign(struct ipvs_model *m)
{
	/* Static: 160 KiB is too much for a stack. */
	static uint16_t got_d[PGT_IPVS_MAX_DESTS], got_s[PGT_IPVS_MAX_SERVICES];
	static uint32_t hint_d, hint_s;
	uint32_t i, j, nd = 0, ns = 0;
	struct ipvs_msvc *s;
	uint16_t slot;

	for (i = 0; i < m->nb; i++) {
		s = m->svc[i];
		if (s->s.slot == 0) {
			slot = slot_take(svc_slot_state, PGT_IPVS_MAX_SERVICES,
				&hint_s);
			if (slot == 0)
				goto full;
			memset(&svc_rate[slot], 0, sizeof(svc_rate[slot]));
			s->s.slot = got_s[ns++] = slot;
		}
		for (j = 0; j < s->nb_dests; j++) {
			if (s->dests[j].d.slot != 0)
				continue;
			slot = slot_take(dest_slot_state, PGT_IPVS_MAX_DESTS,
				&hint_d);
			if (slot == 0)
				goto full;
			dest_overloaded[slot] = 0;
			dest_addr[slot] = s->dests[j].d.addr;
			memset(&dest_rate[slot], 0, sizeof(dest_rate[slot]));
			s->dests[j].d.slot = got_d[nd++] = slot;
		}
	}
	return 0;
full:
	while (nd > 0)
		dest_slot_state[got_d[--nd]] = SLOT_FREE;
	while (ns > 0)
		svc_slot_state[got_s[--ns]] = SLOT_FREE;
	for (i = 0; i < m->nb; i++) {
		for (j = 0; j < m->svc[i]->nb_dests; j++)
			if (dest_slot_state[m->svc[i]->dests[j].d.slot] ==
					SLOT_FREE)
				m->svc[i]->dests[j].d.slot = 0;
		if (svc_slot_state[m->svc[i]->s.slot] == SLOT_FREE)
			m->svc[i]->s.slot = 0;
	}
	return -ENOSPC;
}

/* Mark the slots @p old has and @p cur does not as retired. */
static void
slots_retire(const struct ipvs_model *old, const struct ipvs_model *cur)
{
	static uint8_t keep_d[PGT_IPVS_MAX_DESTS], keep_s[PGT_IPVS_MAX_SERVICES];
	uint32_t i, j;

	memset(keep_d, 0, sizeof(keep_d));
	memset(keep_s, 0, sizeof(keep_s));
	for (i = 0; i < cur->nb; i++) {
		keep_s[cur->svc[i]->s.slot] = 1;
		for (j = 0; j < cur->svc[i]->nb_dests; j++)
			keep_d[cur->svc[i]->dests[j].d.slot] = 1;
	}
	for (i = 0; i < old->nb; i++) {
		if (!keep_s[old->svc[i]->s.slot])
			svc_slot_state[old->svc[i]->s.slot] = SLOT_RETIRED;
		for (j = 0; j < old->svc[i]->nb_dests; j++)
			if (!keep_d[old->svc[i]->dests[j].d.slot])
				dest_slot_state[old->svc[i]->dests[j].d.slot] =
					SLOT_RETIRED;
	}
}

int
pgt_ipvs_publish(struct ipvs_model *m)
{
	struct pgt_ipvs_snapshot *s, *old = published;
	int rc;

	rc = slots_assign(m);
	if (rc != 0)
		return rc;
	rc = snapshot_build(m, &s);
	if (rc != 0)
		return rc;
	pgt_ipvs_model_gen++;
	pgt_rcu_publish(published, s);
	pgt_rcu_synchronize();
	snapshot_free(old);
	if (model != NULL) {
		slots_retire(model, m);
		pgt_ipvs_model_free(model);
	}
	model = m;
	return 0;
}

/* A retired slot is free once no connection counts on it. */
static void
slots_reclaim(void)
{
	struct pgt_ipvs_totals t;
	unsigned int w;
	uint32_t i;

	for (i = 1; i < PGT_IPVS_MAX_DESTS; i++) {
		if (dest_slot_state[i] != SLOT_RETIRED)
			continue;
		pgt_ipvs_dest_totals((uint16_t)i, &t);
		if (t.active + t.inactive != 0)
			continue;
		for (w = 0; w < pgt_ipvs_workers; w++)
			memset(dctr(w, (uint16_t)i), 0, sizeof(*dest_ctr));
		dest_slot_state[i] = SLOT_FREE;
	}
	for (i = 1; i < PGT_IPVS_MAX_SERVICES; i++) {
		if (svc_slot_state[i] != SLOT_RETIRED)
			continue;
		for (w = 0; w < pgt_ipvs_workers; w++)
			memset(sctr(w, (uint16_t)i), 0, sizeof(*svc_ctr));
		memset(&svc_state[(size_t)i * pgt_ipvs_workers], 0,
			pgt_ipvs_workers * sizeof(*svc_state));
		svc_slot_state[i] = SLOT_FREE;
	}
}

/* Linux's estimator: every two seconds, rate += (new - rate) / 4. */
static void
rate_update(struct pgt_ipvs_rate *r, const struct pgt_ipvs_totals *t,
	double secs)
{
	r->cps += ((double)(t->conns - r->last_conns) / secs - r->cps) / 4;
	r->inpps += ((double)(t->inpkts - r->last_inpkts) / secs -
		r->inpps) / 4;
	r->outpps += ((double)(t->outpkts - r->last_outpkts) / secs -
		r->outpps) / 4;
	r->inbps += ((double)(t->inbytes - r->last_inbytes) / secs -
		r->inbps) / 4;
	r->outbps += ((double)(t->outbytes - r->last_outbytes) / secs -
		r->outbps) / 4;
	r->last_conns = t->conns;
	r->last_inpkts = t->inpkts;
	r->last_outpkts = t->outpkts;
	r->last_inbytes = t->inbytes;
	r->last_outbytes = t->outbytes;
}

void
pgt_ipvs_poll(void)
{
	static uint64_t last;
	uint64_t now = rte_get_tsc_cycles();
	struct pgt_ipvs_totals t;
	uint32_t i, j;
	double secs;

	if (model == NULL)
		return;
	pgt_ipvs_check_poll();
	if (now - last < 2 * hz)
		return;
	secs = last == 0 ? 2.0 : (double)(now - last) / (double)hz;
	last = now;
	for (i = 0; i < model->nb; i++) {
		pgt_ipvs_svc_totals(model->svc[i]->s.slot, &t);
		rate_update(&svc_rate[model->svc[i]->s.slot], &t, secs);
		for (j = 0; j < model->svc[i]->nb_dests; j++) {
			pgt_ipvs_dest_totals(model->svc[i]->dests[j].d.slot, &t);
			rate_update(&dest_rate[model->svc[i]->dests[j].d.slot],
				&t, secs);
		}
	}
	slots_reclaim();
}

/* IPVS's TCP state table (Linux ip_vs_proto_tcp.c), in conntrack's
 * state numbers; rows: syn, fin, ack, rst. */
#define sNO PGT_TCP_NONE
#define sES PGT_TCP_ESTABLISHED
#define sSS PGT_TCP_SYN_SENT
#define sSR PGT_TCP_SYN_RECV
#define sFW PGT_TCP_FIN_WAIT
#define sTW PGT_TCP_TIME_WAIT
#define sCL PGT_TCP_CLOSE
#define sCW PGT_TCP_CLOSE_WAIT
#define sLA PGT_TCP_LAST_ACK

enum { TBL_INPUT, TBL_OUTPUT, TBL_INPUT_ONLY };

/* Indexed by the current state in conntrack's numbering. */
static const uint8_t tcp_next[3][4][PGT_TCP_STATE_MAX] = {
#define ROW(no, es, ss, sr, fw, tw, cl, cw, la) \
	{ [PGT_TCP_NONE] = no, [PGT_TCP_ESTABLISHED] = es, \
	  [PGT_TCP_SYN_SENT] = ss, [PGT_TCP_SYN_RECV] = sr, \
	  [PGT_TCP_FIN_WAIT] = fw, [PGT_TCP_TIME_WAIT] = tw, \
	  [PGT_TCP_CLOSE] = cl, [PGT_TCP_CLOSE_WAIT] = cw, \
	  [PGT_TCP_LAST_ACK] = la, [PGT_TCP_SYN_SENT2] = cl }
	[TBL_INPUT] = {
		ROW(sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR),
		ROW(sCL, sCW, sSS, sTW, sTW, sTW, sCL, sCW, sLA),
		ROW(sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL),
		ROW(sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA),
	},
	[TBL_OUTPUT] = {
		ROW(sSS, sES, sSS, sSR, sSS, sSS, sSS, sSS, sSS),
		ROW(sTW, sFW, sSS, sTW, sFW, sTW, sCL, sTW, sLA),
		ROW(sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sLA),
		ROW(sCL, sCL, sSS, sCL, sCL, sTW, sCL, sCL, sCL),
	},
	[TBL_INPUT_ONLY] = {
		ROW(sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR),
		ROW(sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA),
		ROW(sCL, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL),
		ROW(sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA),
	},
#undef ROW
};

static const char *const state_names[PGT_TCP_STATE_MAX] = {
	[PGT_TCP_NONE] = "NONE", [PGT_TCP_SYN_SENT] = "SYN_SENT",
	[PGT_TCP_SYN_RECV] = "SYN_RECV", [PGT_TCP_ESTABLISHED] = "ESTABLISHED",
	[PGT_TCP_FIN_WAIT] = "FIN_WAIT", [PGT_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
	[PGT_TCP_LAST_ACK] = "LAST_ACK", [PGT_TCP_TIME_WAIT] = "TIME_WAIT",
	[PGT_TCP_CLOSE] = "CLOSE", [PGT_TCP_SYN_SENT2] = "CLOSE",
};

const char *
pgt_ipvs_state_name(const struct pgt_ct_conn *c)
{
	if (c->tuple[0].proto != IPPROTO_TCP)
		return "UDP";
	return c->tcp.state < PGT_TCP_STATE_MAX ?
		state_names[c->tcp.state] : "ERR!";
}

/* Seconds a connection in @p state lives without a packet. */
static uint32_t
state_timeout(const struct pgt_ct_conn *c)
{
	if (c->tuple[0].proto != IPPROTO_TCP)
		return pgt_ipvs_cfg.udp_timeout;
	switch (c->tcp.state) {
	case PGT_TCP_ESTABLISHED:
		return pgt_ipvs_cfg.tcp_timeout;
	case PGT_TCP_FIN_WAIT:
		return pgt_ipvs_cfg.tcpfin_timeout;
	case PGT_TCP_SYN_SENT:
	case PGT_TCP_TIME_WAIT:
		return 120;
	case PGT_TCP_SYN_RECV:
	case PGT_TCP_CLOSE_WAIT:
		return 60;
	case PGT_TCP_LAST_ACK:
		return 30;
	case PGT_TCP_CLOSE:
		return 10;
	default:
		return 2;
	}
}

static int
tcp_row(uint8_t flags)
{
	if (flags & RTE_TCP_RST_FLAG)
		return 3;
	if (flags & RTE_TCP_SYN_FLAG)
		return 0;
	if (flags & RTE_TCP_FIN_FLAG)
		return 1;
	if (flags & RTE_TCP_ACK_FLAG)
		return 2;
	return -1;
}

/* conntrack: a packet of an IPVS connection. */
static uint32_t
ipvs_ct_packet(unsigned int w, struct pgt_ct_conn *c, enum pgt_ct_dir dir,
	uint8_t tcp_flags, uint32_t bytes)
{
	struct pgt_ipvs_ctr *d = dctr(w, c->ipvs_dest);
	struct pgt_ipvs_ctr *s = sctr(w, c->ipvs_svc);
	uint8_t old, next;
	int row, tbl;

	if (dir == PGT_CT_DIR_ORIGINAL) {
		d->inpkts++;
		d->inbytes += bytes;
		s->inpkts++;
		s->inbytes += bytes;
	} else {
		d->outpkts++;
		d->outbytes += bytes;
		s->outpkts++;
		s->outbytes += bytes;
	}
	if (c->tuple[0].proto != IPPROTO_TCP)
		return state_timeout(c);
	row = tcp_row(tcp_flags);
	if (row < 0)
		return state_timeout(c);
	if (dir == PGT_CT_DIR_REPLY)
		tbl = TBL_OUTPUT;
	else if (c->ipvs_method == PGT_IPVS_ROUTE ||
			c->ipvs_method == PGT_IPVS_TUNNEL)
		tbl = TBL_INPUT_ONLY;	/* replies bypass us */
	else
		tbl = TBL_INPUT;
	old = c->tcp.state < PGT_TCP_STATE_MAX ? c->tcp.state : PGT_TCP_NONE;
	next = tcp_next[tbl][row][old];
	if (next != old) {
		if (old == PGT_TCP_ESTABLISHED) {
			d->active--;
			d->inactive++;
		} else if (next == PGT_TCP_ESTABLISHED) {
			d->inactive--;
			d->active++;
			/* Worth keeping when the table fills up. */
			c->status |= PGT_CT_S_ASSURED;
		}
		c->tcp.state = next;
	}
	return state_timeout(c);
}

/* conntrack: an IPVS connection goes away. */
static void
ipvs_ct_gone(unsigned int w, struct pgt_ct_conn *c)
{
	struct pgt_ipvs_ctr *d = dctr(w, c->ipvs_dest);

	if (c->tuple[0].proto == IPPROTO_TCP &&
			c->tcp.state == PGT_TCP_ESTABLISHED)
		d->active--;
	else
		d->inactive--;
	if (c->ipvs_tmpl != 0)
		tmpl_put(c->ipvs_tmpl - 1, now_sec(rte_get_tsc_cycles()));
}

/*
 * conntrack: a client's SYN on @p c. Closed (TIME_WAIT, CLOSE) is over, as
 * Linux's conn_reuse_mode 1 says. So is FIN_WAIT when the replies bypass
 * us (direct routing, tunnel; Linux's conn_reuse_mode bit 2, off by
 * default there): the input-only table leaves such a connection in
 * FIN_WAIT once the client has sent its FIN and last ACK, for tcpfin's
 * 120 s, and a client that opens the same port in that time would
 * otherwise be sent to the old server, which may have left the service
 * or lost the VIP, for as long.
 */
static bool
ipvs_ct_syn_reopens(const struct pgt_ct_conn *c)
{
	switch (c->tcp.state) {
	case PGT_TCP_TIME_WAIT:
	case PGT_TCP_CLOSE:
		return true;
	case PGT_TCP_FIN_WAIT:
		return c->ipvs_method == PGT_IPVS_ROUTE ||
			c->ipvs_method == PGT_IPVS_TUNNEL;
	default:
		return false;
	}
}

static const struct pgt_ct_ipvs_ops ct_ops = {
	.packet = ipvs_ct_packet,
	.gone = ipvs_ct_gone,
	.syn_reopens = ipvs_ct_syn_reopens,
};

/* Scheduling */

uint32_t
pgt_ipvs_dest_addr(uint16_t slot)
{
	return dest_addr[slot];
}

/* The index of dest slot @p slot in @p svc, or -1. */
static int
dest_index(const struct pgt_ipvs_service *svc, uint16_t slot)
{
	uint32_t i;

	for (i = 0; i < svc->nb_dests; i++)
		if (svc->dests[i].slot == slot)
			return (int)i;
	return -1;
}

enum pgt_ipvs_result
pgt_ipvs_schedule(unsigned int w, const struct pgt_ipvs_snapshot *s,
	const struct pgt_ipvs_service *svc, struct rte_mbuf *m, uint64_t now)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct pgt_ct_ipvs_binding b = { .translate = false };
	const struct rte_ipv4_hdr *ip = pgt_pkt_ipv4(m);
	struct pgt_nat_range range;
	const struct pgt_ipvs_dest *d;
	const uint8_t *l4;
	struct pgt_ipvs_flow f;
	struct pgt_ipvs_ctr *c;
	uint32_t sec = 0, i, start;
	int32_t tmpl = -1;
	uint16_t slot;
	uint64_t key = 0;
	int idx = -1, rc = -ENOSPC;

	RTE_SET_USED(s);
	if (meta->proto != IPPROTO_TCP && meta->proto != IPPROTO_UDP)
		return PGT_IPVS_PASS;
	/* Ports, and TCP's flags, in the first segment (conntrack checked
	 * the header is whole, not that it is contiguous). */
	if (rte_pktmbuf_data_len(m) < meta->l3_off + meta->l3_hlen +
			(meta->proto == IPPROTO_TCP ? 14u : 8u))
		return PGT_IPVS_PASS;
	l4 = (const uint8_t *)ip + meta->l3_hlen;
	/* Only a SYN starts a TCP connection (Linux: no sloppy_tcp). */
	if (meta->proto == IPPROTO_TCP && (l4[13] & (RTE_TCP_SYN_FLAG |
			RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG)) !=
			RTE_TCP_SYN_FLAG)
		return PGT_IPVS_PASS;
	f.src = meta->src;
	f.dst = meta->dst;
	f.sport = (uint16_t)(l4[0] << 8 | l4[1]);
	f.dport = (uint16_t)(l4[2] << 8 | l4[3]);
	f.proto = meta->proto;
	if (svc->flags & PGT_IPVS_SVC_PERSISTENT) {
		sec = now_sec(now);
		key = (uint64_t)(svc->slot + 1u) << 32 |
			(f.src & svc->netmask);
		tmpl = tmpl_get(key, sec, &slot);
		if (tmpl >= 0) {
			idx = dest_index(svc, slot);
			/* Its server left or failed its check: choose
			 * again. A quiescent one keeps its clients (Linux's
			 * expire_quiescent_template=0). */
			if (idx < 0 || svc->dests[idx].down) {
				tmpl_put((uint32_t)tmpl, sec);
				tmpl = -1;
				idx = -1;
			}
		}
	}
	if (idx < 0)
		idx = svc->sched->schedule(svc, &svc->state[w], &f);
	if (idx < 0) {
		pgt_ipvs_count(w, PGT_IPVS_STAT_NO_DEST);
		return PGT_IPVS_NO_DEST;
	}
	d = &svc->dests[idx];
	if ((svc->flags & PGT_IPVS_SVC_PERSISTENT) && tmpl < 0) {
		tmpl = tmpl_new(key, d->slot, svc->timeout, sec);
		if (tmpl < 0)	/* served, just not remembered */
			pgt_ipvs_count(w, PGT_IPVS_STAT_TMPL_FULL);
	}
	b.daddr = d->addr;
	b.dport = d->port != 0 ? d->port : f.dport;
	b.dest = d->slot;
	b.svc = svc->slot;
	b.tmpl = tmpl >= 0 ? (uint32_t)tmpl + 1 : 0;
	b.method = d->method;
	b.translate = d->method == PGT_IPVS_MASQ ||
		d->method == PGT_IPVS_FULLNAT;
	b.tcp_state = PGT_TCP_SYN_RECV;
	b.timeout_s = meta->proto == IPPROTO_TCP ? 60 :
		pgt_ipvs_cfg.udp_timeout;
	if (d->method == PGT_IPVS_FULLNAT && svc->nb_laddrs > 0) {
		/* A client keeps its local address; another one is tried
		 * when its ports are used up. */
		start = rte_hash_crc_4byte(f.src, 0) % svc->nb_laddrs;
		for (i = 0; i < svc->nb_laddrs && rc == -ENOSPC; i++) {
			range = (struct pgt_nat_range){
				.min_addr = svc->laddrs[(start + i) %
					svc->nb_laddrs],
				.min_port = 1024, .max_port = UINT16_MAX,
				.flags = PGT_NAT_F_MAP_IPS | PGT_NAT_F_PROTO };
			range.max_addr = range.min_addr;
			b.snat = &range;
			rc = pgt_ct_ipvs_bind(w, m, &b);
		}
	} else {
		rc = pgt_ct_ipvs_bind(w, m, &b);
	}
	if (rc != 0) {
		if (tmpl >= 0)
			tmpl_put((uint32_t)tmpl, sec);
		pgt_ipvs_count(w, PGT_IPVS_STAT_NO_PORT);
		return PGT_IPVS_NO_PORT;
	}
	c = dctr(w, d->slot);
	c->inactive++;
	c->conns++;
	c->inpkts++;
	c->inbytes += rte_be_to_cpu_16(ip->total_length);
	c = sctr(w, svc->slot);
	c->conns++;
	c->inpkts++;
	c->inbytes += rte_be_to_cpu_16(ip->total_length);
	return PGT_IPVS_OK;
}

/* Set-up */

int
pgt_ipvs_init(unsigned int nb_workers)
{
	if (nb_workers == 0 || nb_workers > RTE_MAX_LCORE)
		return -EINVAL;
	pgt_ipvs_workers = nb_workers;
	hz = rte_get_tsc_hz();
	dest_ctr = rte_zmalloc("pgt_ipvs_dest_ctr", (size_t)nb_workers *
		PGT_IPVS_MAX_DESTS * sizeof(*dest_ctr), RTE_CACHE_LINE_SIZE);
	svc_ctr = rte_zmalloc("pgt_ipvs_svc_ctr", (size_t)nb_workers *
		PGT_IPVS_MAX_SERVICES * sizeof(*svc_ctr), RTE_CACHE_LINE_SIZE);
	svc_state = rte_zmalloc("pgt_ipvs_state", (size_t)nb_workers *
		PGT_IPVS_MAX_SERVICES * sizeof(*svc_state),
		RTE_CACHE_LINE_SIZE);
	tmpls = rte_zmalloc("pgt_ipvs_tmpl", TMPL_ENTRIES * sizeof(*tmpls),
		RTE_CACHE_LINE_SIZE);
	model = calloc(1, sizeof(*model));
	if (dest_ctr == NULL || svc_ctr == NULL || svc_state == NULL ||
			tmpls == NULL || model == NULL) {
		pgt_ipvs_fini();
		return -ENOMEM;
	}
	pgt_ct_ipvs_register(&ct_ops);
	return 0;
}

void
pgt_ipvs_fini(void)
{
	pgt_ipvs_check_fini();
	if (published != &empty_snapshot)
		snapshot_free(published);
	published = &empty_snapshot;
	pgt_ipvs_model_free(model);
	model = NULL;
	rte_free(dest_ctr);
	rte_free(svc_ctr);
	rte_free(svc_state);
	rte_free(tmpls);
	dest_ctr = svc_ctr = NULL;
	svc_state = NULL;
	tmpls = NULL;
	memset(dest_slot_state, 0, sizeof(dest_slot_state));
	memset(svc_slot_state, 0, sizeof(svc_slot_state));
}
