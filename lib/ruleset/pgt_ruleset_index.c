/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The candidate index of a long chain: which of its rules can match a
 * packet at all, found in O(1) from the packet's destination port and
 * destination address, so that a chain of 100,000 rules costs the few
 * rules near the packet instead of all of them.
 *
 * Each rule is filed by two facts the evaluator would check anyway:
 * - its destination ports, when a match guarantees they fall in a range of
 *   at most NARROW_PORTS ports (tcp/udp --dport, multiport --dports; see
 *   pgt_match_ops.dport_range): in every 16-port bucket the range touches;
 * - its destination address, when it is a prefix of /16 or longer, not
 *   negated: in the bucket of its top 16 bits.
 * A rule is filed in one of four classes: narrow port and narrow address
 * (by both), narrow port only, narrow address only, neither (always a
 * candidate). A packet's candidates are the union of four sorted lists,
 * walked in rule order, and every candidate is still checked in full by
 * rule_match(): the index only skips rules that cannot match, so the
 * first-match semantics, jumps, returns and non-terminating targets are
 * exactly those of the linear walk. Buckets are kept in one open-addressing
 * table keyed by class and bucket numbers; the lists share one array.
 *
 * Why this and not rte_acl: an rte_acl build takes about a second at 10,000
 * rules and twenty at 100,000, which a single rule change would have to
 * wait for; this index is built in one sort, and real rulesets (services by
 * address and port, Kubernetes' chains) put few rules in any bucket. Its
 * worst case (rules with neither a narrow port nor a narrow destination) is
 * the linear walk, no worse than before.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_malloc.h>

#include "pgt_ruleset_priv.h"

#define PORT_SHIFT	4		/* 16 ports per bucket */
#define NARROW_PORTS	256
#define NARROW_PREFIX	16

enum { CL_BOTH, CL_PORT, CL_ADDR, CL_NONE, CL_MAX };

struct rs_slot {
	uint32_t key;			/* 0: empty */
	uint32_t off, len;
};

struct pgt_rs_index {
	uint32_t mask;			/* slots - 1 */
	uint32_t wide_off, wide_len;	/* class CL_NONE */
	const struct rs_slot *slots;
	const uint32_t *pool;
};

static inline uint32_t
slot_key(unsigned int cls, uint32_t pb, uint32_t d16)
{
	/* 2 bits of class, 12 of port bucket, 16 of address; never 0. */
	return 1u << 31 | (uint32_t)cls << 28 | pb << 16 | d16;
}

/* Keys differ in their middle bits: mix all bits into the low ones
 * (MurmurHash3's finalizer) or probing would run in long clusters. */
static inline uint32_t
slot_hash(uint32_t key, uint32_t mask)
{
	key ^= key >> 16;
	key *= 0x85ebca6bu;
	key ^= key >> 13;
	key *= 0xc2b2ae35u;
	key ^= key >> 16;
	return key & mask;
}

static const struct rs_slot *
slot_find(const struct pgt_rs_index *ix, uint32_t key)
{
	uint32_t h = slot_hash(key, ix->mask);

	for (;;) {
		if (ix->slots[h].key == key)
			return &ix->slots[h];
		if (ix->slots[h].key == 0)
			return NULL;
		h = (h + 1) & ix->mask;
	}
}

/* The destination ports rule @p r can match, if it says. */
static bool
rule_dports(const struct pgt_rs_crule *r, uint16_t *lo, uint16_t *hi)
{
	uint16_t l, h;
	bool known = false;
	unsigned int i;

	*lo = 0;
	*hi = UINT16_MAX;
	for (i = 0; i < r->nb_matches; i++) {
		if (r->m[i]->ops->dport_range == NULL ||
				!r->m[i]->ops->dport_range(r->m[i]->data, &l, &h))
			continue;
		*lo = RTE_MAX(*lo, l);
		*hi = RTE_MIN(*hi, h);
		known = true;
	}
	return known && *lo <= *hi;
}

struct entry {
	uint32_t key, rule;
};

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static int
add_entry(struct entry **e, size_t *n, size_t *cap, uint32_t key,
	uint32_t rule)
{
	struct entry *ne;

	if (*n == *cap) {
		*cap = *cap == 0 ? 1024 : *cap * 2;
		ne = realloc(*e, sizeof(**e) * *cap);
		if (ne == NULL)
			return -ENOMEM;
		*e = ne;
	}
	(*e)[(*n)++] = (struct entry){ .key = key, .rule = rule };
	return 0;
}

void
pgt_rs_index_free(const struct pgt_rs_index *ix)
{
	if (ix == NULL)
		return;
	rte_free((void *)(uintptr_t)ix->slots);
	rte_free((void *)(uintptr_t)ix->pool);
	rte_free((void *)(uintptr_t)ix);
}

int
pgt_rs_index_build(const struct pgt_rs_cchain *c,
	const struct pgt_rs_index **out)
{
	struct entry *e = NULL;
	size_t n = 0, cap = 0, i, j, keys = 0;
	struct pgt_rs_index *ix;
	struct rs_slot *slots;
	uint32_t *pool, pb, d16, h, prefix;
	const struct pgt_rs_crule *r;
	uint16_t lo, hi;
	bool narrow_port, narrow_addr;
	unsigned int cls;
	int rc = 0;

	*out = NULL;
	if (c->nb_rules < PGT_RS_INDEX_MIN_RULES)
		return 0;
	for (i = 0; i < c->nb_rules && rc == 0; i++) {
		r = &c->rules[i];
		narrow_port = rule_dports(r, &lo, &hi) &&
			hi - lo < NARROW_PORTS;
		prefix = __builtin_popcount(r->dmsk);
		narrow_addr = !(r->inv & PGT_RS_INV_DST) &&
			prefix >= NARROW_PREFIX;
		d16 = r->dst >> 16;
		cls = narrow_port ? (narrow_addr ? CL_BOTH : CL_PORT) :
			(narrow_addr ? CL_ADDR : CL_NONE);
		if (!narrow_port) {
			rc = add_entry(&e, &n, &cap, cls == CL_ADDR ?
				slot_key(CL_ADDR, 0, d16) : UINT32_MAX,
				(uint32_t)i);
			continue;
		}
		for (pb = lo >> PORT_SHIFT; pb <= (uint32_t)hi >> PORT_SHIFT &&
				rc == 0; pb++)
			rc = add_entry(&e, &n, &cap, slot_key(cls, pb,
				cls == CL_BOTH ? d16 : 0), (uint32_t)i);
	}
	if (rc != 0) {
		free(e);
		return rc;
	}
	/* Group by key, rules in order within a key. */
	qsort(e, n, sizeof(*e), entry_cmp);
	for (i = 0; i < n; i++)
		if (e[i].key != UINT32_MAX && (i == 0 || e[i].key != e[i - 1].key))
			keys++;
	for (h = 1; h < 2 * keys + 2; h <<= 1)
		;
	ix = rte_zmalloc("pgt_rs_index", sizeof(*ix), 0);
	slots = rte_zmalloc("pgt_rs_index_slots", sizeof(*slots) * h,
		RTE_CACHE_LINE_SIZE);
	pool = rte_malloc("pgt_rs_index_pool", sizeof(*pool) * (n + 1), 0);
	if (ix == NULL || slots == NULL || pool == NULL) {
		rte_free(ix);
		rte_free(slots);
		rte_free(pool);
		free(e);
		return -ENOMEM;
	}
	ix->mask = h - 1;
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && e[j].key == e[i].key; j++)
			pool[j] = e[j].rule;
		if (e[i].key == UINT32_MAX) {
			ix->wide_off = (uint32_t)i;
			ix->wide_len = (uint32_t)(j - i);
			continue;
		}
		h = slot_hash(e[i].key, ix->mask);
		while (slots[h].key != 0)
			h = (h + 1) & ix->mask;
		slots[h] = (struct rs_slot){ .key = e[i].key,
			.off = (uint32_t)i, .len = (uint32_t)(j - i) };
	}
	free(e);
	ix->slots = slots;
	ix->pool = pool;
	*out = ix;
	return 0;
}

void
pgt_rs_index_lookup(const struct pgt_rs_index *ix, uint16_t dport,
	uint32_t dst, struct pgt_rs_cursor *cur)
{
	uint32_t pb = dport >> PORT_SHIFT, d16 = dst >> 16;
	const uint32_t keys[3] = { slot_key(CL_BOTH, pb, d16),
		slot_key(CL_PORT, pb, 0), slot_key(CL_ADDR, 0, d16) };
	const struct rs_slot *s;
	unsigned int i;

	cur->n = 0;
	for (i = 0; i < 3; i++) {
		s = slot_find(ix, keys[i]);
		if (s == NULL)
			continue;
		cur->at[cur->n] = ix->pool + s->off;
		cur->end[cur->n++] = ix->pool + s->off + s->len;
	}
	if (ix->wide_len > 0) {
		cur->at[cur->n] = ix->pool + ix->wide_off;
		cur->end[cur->n++] = ix->pool + ix->wide_off + ix->wide_len;
	}
}
