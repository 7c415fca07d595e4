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
 * Beside it, a bit per port bucket and per /16 of each class says which
 * may have a list, and a packet probes the table only for those: a miss
 * is an open-addressing table's longest probe (about 16 slots at 10,000
 * rules, most of a lookup's cost before the bits).
 *
 * A change of a few rules does not build the index again: the new one is
 * the old one with the rules after the change renumbered and the new
 * rules' entries merged into their lists, one pass over the old lists
 * (pgt_rs_index_build() with the previous form), which is what keeps one
 * change to a chain of 100,000 rules well under a millisecond. A build
 * from nothing groups the entries by key with a radix sort, which keeps
 * each list in rule order.
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
/* A change adding or removing more rules than this builds the index
 * anew: past it, one build costs less than merging entry by entry. */
#define PATCH_MAX_RULES	64
#define NARROW_PORTS	256
#define NARROW_PREFIX	16

enum { CL_BOTH, CL_PORT, CL_ADDR, CL_NONE, CL_MAX };

struct rs_slot {
	uint32_t key;			/* 0: empty */
	uint32_t off, len;
};

#define PORT_BUCKETS	(65536 >> PORT_SHIFT)
#define ADDR_BUCKETS	65536

struct pgt_rs_index {
	uint32_t mask;			/* slots - 1 */
	uint32_t nb_keys;		/* slots in use */
	uint32_t nb_entries;		/* in the pool */
	uint32_t wide_off, wide_len;	/* class CL_NONE */
	const struct rs_slot *slots;
	const uint32_t *pool;
	/* A bit per port bucket and per /16 that has a list: of class
	 * CL_BOTH (by each of its halves), CL_PORT, CL_ADDR. A lookup probes
	 * the table only for keys whose bits are set: most packets have no
	 * list in some class, and a miss in an open-addressing table is its
	 * longest probe. */
	uint64_t both_pb[PORT_BUCKETS / 64], both_d16[ADDR_BUCKETS / 64];
	uint64_t port_pb[PORT_BUCKETS / 64], addr_d16[ADDR_BUCKETS / 64];
};

static inline void
bit_set(uint64_t *map, uint32_t i)
{
	map[i / 64] |= UINT64_C(1) << (i % 64);
}

static inline bool
bit_test(const uint64_t *map, uint32_t i)
{
	return (map[i / 64] >> (i % 64)) & 1;
}

static inline uint32_t
slot_key(unsigned int cls, uint32_t pb, uint32_t d16)
{
	/* 2 bits of class, 12 of port bucket, 16 of address; never 0. */
	return 1u << 31 | (uint32_t)cls << 28 | pb << 16 | d16;
}

/* slot_key()'s parts */
static inline unsigned int
key_class(uint32_t key)
{
	return key >> 28 & 3;
}

static inline uint32_t
key_pb(uint32_t key)
{
	return key >> 16 & (PORT_BUCKETS - 1);
}

static inline uint32_t
key_d16(uint32_t key)
{
	return key & (ADDR_BUCKETS - 1);
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

/* One list entry: rule @p rule is a candidate under @p key (WIDE_KEY: the
 * list of rules that are candidates for every packet). */
struct entry {
	uint32_t key, rule;
};

#define WIDE_KEY UINT32_MAX
/* Below this many entries an insertion sort beats the radix sort's
 * 65,536 counters. */
#define SMALL_SORT 256

struct entries {
	struct entry *e;
	size_t n, cap;
};

static int
add_entry(struct entries *es, uint32_t key, uint32_t rule)
{
	struct entry *ne;
	size_t cap;

	if (es->n == es->cap) {
		cap = es->cap == 0 ? 1024 : es->cap * 2;
		ne = realloc(es->e, sizeof(*ne) * cap);
		if (ne == NULL)
			return -ENOMEM;
		es->e = ne;
		es->cap = cap;
	}
	es->e[es->n++] = (struct entry){ .key = key, .rule = rule };
	return 0;
}

/* File rule @p r, numbered @p num, under each of its keys. */
static int
file_rule(const struct pgt_rs_crule *r, uint32_t num, struct entries *es)
{
	bool narrow_port, narrow_addr;
	uint32_t pb, d16, prefix;
	unsigned int cls;
	uint16_t lo, hi;
	int rc = 0;

	narrow_port = rule_dports(r, &lo, &hi) && hi - lo < NARROW_PORTS;
	prefix = __builtin_popcount(r->dmsk);
	narrow_addr = !(r->inv & PGT_RS_INV_DST) && prefix >= NARROW_PREFIX;
	d16 = r->dst >> 16;
	cls = narrow_port ? (narrow_addr ? CL_BOTH : CL_PORT) :
		(narrow_addr ? CL_ADDR : CL_NONE);
	if (!narrow_port)
		return add_entry(es, cls == CL_ADDR ?
			slot_key(CL_ADDR, 0, d16) : WIDE_KEY, num);
	for (pb = lo >> PORT_SHIFT; pb <= (uint32_t)hi >> PORT_SHIFT &&
			rc == 0; pb++)
		rc = add_entry(es, slot_key(cls, pb, cls == CL_BOTH ? d16 : 0),
			num);
	return rc;
}

/*
 * Group entries by key, keeping each key's rules in the order filed (rule
 * order): a stable radix sort on the key, 16 bits at a time, O(n) where a
 * comparison sort of 400,000 entries cost tens of milliseconds.
 */
static int
sort_entries(struct entries *es)
{
	struct entry *tmp, *from = es->e, *to, x;
	uint32_t *count, sum, c;
	unsigned int shift;
	size_t i, j;

	if (es->n <= SMALL_SORT) {
		/* A change's few entries: insertion sort, stable too. */
		for (i = 1; i < es->n; i++) {
			x = es->e[i];
			for (j = i; j > 0 && es->e[j - 1].key > x.key; j--)
				es->e[j] = es->e[j - 1];
			es->e[j] = x;
		}
		return 0;
	}
	tmp = malloc(sizeof(*tmp) * (es->n + 1));
	count = malloc(sizeof(*count) * 65536);
	if (tmp == NULL || count == NULL) {
		free(tmp);
		free(count);
		return -ENOMEM;
	}
	to = tmp;
	for (shift = 0; shift < 32; shift += 16) {
		memset(count, 0, sizeof(*count) * 65536);
		for (i = 0; i < es->n; i++)
			count[(from[i].key >> shift) & 0xffff]++;
		for (sum = 0, i = 0; i < 65536; i++) {
			c = count[i];
			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < es->n; i++)
			to[count[(from[i].key >> shift) & 0xffff]++] = from[i];
		to = from;
		from = from == es->e ? tmp : es->e;
	}
	/* Two passes: the sorted entries are back in es->e. */
	free(tmp);
	free(count);
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

/* An index of room for @p keys keys and @p entries entries, empty. */
static struct pgt_rs_index *
index_alloc(size_t keys, size_t entries)
{
	struct pgt_rs_index *ix;
	uint32_t h;

	for (h = 1; h < 2 * keys + 2; h <<= 1)
		;
	ix = rte_zmalloc("pgt_rs_index", sizeof(*ix), 0);
	if (ix == NULL)
		return NULL;
	ix->mask = h - 1;
	ix->slots = rte_zmalloc("pgt_rs_index_slots",
		sizeof(*ix->slots) * h, RTE_CACHE_LINE_SIZE);
	ix->pool = rte_malloc("pgt_rs_index_pool",
		sizeof(*ix->pool) * (entries + 1), 0);
	if (ix->slots == NULL || ix->pool == NULL) {
		pgt_rs_index_free(ix);
		return NULL;
	}
	return ix;
}

/* The list of @p key is pool[off, off + len): file it. */
static void
index_put(struct pgt_rs_index *ix, uint32_t key, uint32_t off, uint32_t len)
{
	struct rs_slot *slots = (struct rs_slot *)(uintptr_t)ix->slots;
	uint32_t h;

	if (len == 0)
		return;
	if (key == WIDE_KEY) {
		ix->wide_off = off;
		ix->wide_len = len;
		return;
	}
	h = slot_hash(key, ix->mask);
	while (slots[h].key != 0)
		h = (h + 1) & ix->mask;
	slots[h] = (struct rs_slot){ .key = key, .off = off, .len = len };
	ix->nb_keys++;
	switch (key_class(key)) {
	case CL_BOTH:
		bit_set(ix->both_pb, key_pb(key));
		bit_set(ix->both_d16, key_d16(key));
		break;
	case CL_PORT:
		bit_set(ix->port_pb, key_pb(key));
		break;
	case CL_ADDR:
		bit_set(ix->addr_d16, key_d16(key));
		break;
	}
}

static int
index_full(const struct pgt_rs_cchain *c, const struct pgt_rs_index **out)
{
	struct entries es = { 0 };
	struct pgt_rs_index *ix;
	uint32_t *pool;
	size_t i, j, keys = 0;
	int rc = 0;

	for (i = 0; i < c->nb_rules && rc == 0; i++)
		rc = file_rule(c->rules[i], (uint32_t)i, &es);
	if (rc == 0)
		rc = sort_entries(&es);
	if (rc != 0) {
		free(es.e);
		return rc;
	}
	for (i = 0; i < es.n; i++)
		if (es.e[i].key != WIDE_KEY &&
				(i == 0 || es.e[i].key != es.e[i - 1].key))
			keys++;
	ix = index_alloc(keys, es.n);
	if (ix == NULL) {
		free(es.e);
		return -ENOMEM;
	}
	pool = (uint32_t *)(uintptr_t)ix->pool;
	for (i = 0; i < es.n; i = j) {
		for (j = i; j < es.n && es.e[j].key == es.e[i].key; j++)
			pool[j] = es.e[j].rule;
		index_put(ix, es.e[i].key, (uint32_t)i, (uint32_t)(j - i));
	}
	ix->nb_entries = (uint32_t)es.n;
	free(es.e);
	*out = ix;
	return 0;
}

/*
 * The change from @p prev to @p c: rules [p, old_end) of @p prev were
 * replaced by rules [p, new_end) of @p c, everything before and after
 * them the same rules (the same compiled forms) in the same order.
 */
struct change {
	uint32_t p, old_end, new_end;
};

/* The first of the sorted numbers [@p from, @p to) that is @p v or more. */
static const uint32_t *
lower_bound(const uint32_t *from, const uint32_t *to, uint32_t v)
{
	const uint32_t *m;

	while (from < to) {
		m = from + (to - from) / 2;
		if (*m < v)
			from = m + 1;
		else
			to = m;
	}
	return from;
}

/*
 * Write @p prev's list [@p from, @p to) with the change applied and the
 * new rules' entries of @p es, [@p lo, @p hi), merged in, at @p dst: the
 * numbers before the change as they are, the new rules', then the
 * numbers after it shifted, in three runs (the list is sorted). Indexes,
 * not pointers, into @p es: a change that adds no rule has no entries
 * array at all.
 */
static uint32_t
merge_list(const uint32_t *from, const uint32_t *to, const struct entries *es,
	size_t lo, size_t hi, const struct change *ch, uint32_t *dst)
{
	const uint32_t *before = lower_bound(from, to, ch->p);
	const uint32_t *after = lower_bound(before, to, ch->old_end);
	uint32_t *d = dst, shift = ch->new_end - ch->old_end;

	memcpy(d, from, sizeof(*d) * (size_t)(before - from));
	d += before - from;
	for (; lo < hi; lo++)
		*d++ = es->e[lo].rule;
	/* Unsigned wrap-around makes a negative shift work. */
	for (; after < to; after++)
		*d++ = *after + shift;
	return (uint32_t)(d - dst);
}

/* The entries of @p es filed under @p key, as [*lo, *hi). */
static void
find_key(const struct entries *es, uint32_t key, size_t *lo, size_t *hi)
{
	size_t l = 0, h = es->n, m;

	while (l < h) {
		m = (l + h) / 2;
		if (es->e[m].key < key)
			l = m + 1;
		else
			h = m;
	}
	*lo = l;
	while (h < es->n && es->e[h].key == key)
		h++;
	*hi = h;
}

static int
index_patch(const struct pgt_rs_cchain *c, const struct pgt_rs_cchain *prev,
	const struct pgt_rs_index **out)
{
	const struct pgt_rs_index *old = prev->index;
	struct entries es = { 0 };
	struct pgt_rs_index *ix;
	struct change ch = { 0 };
	uint32_t on = prev->nb_rules, nn = c->nb_rules, off = 0, len, i, k;
	size_t lo, hi;
	uint32_t *pool;
	int rc = 0;

	while (ch.p < on && ch.p < nn && prev->rules[ch.p] == c->rules[ch.p])
		ch.p++;
	for (k = 0; k < on - ch.p && k < nn - ch.p &&
			prev->rules[on - 1 - k] == c->rules[nn - 1 - k]; k++)
		;
	ch.old_end = on - k;
	ch.new_end = nn - k;
	if (ch.old_end - ch.p > PATCH_MAX_RULES ||
			ch.new_end - ch.p > PATCH_MAX_RULES)
		return index_full(c, out);
	for (i = ch.p; i < ch.new_end && rc == 0; i++)
		rc = file_rule(c->rules[i], i, &es);
	if (rc == 0)
		rc = sort_entries(&es);
	ix = rc == 0 ? index_alloc(old->nb_keys + es.n,
		old->nb_entries + es.n) : NULL;
	if (ix == NULL) {
		free(es.e);
		return -ENOMEM;
	}
	pool = (uint32_t *)(uintptr_t)ix->pool;
	/* The old lists, changed, with the new entries of their keys. */
	for (i = 0; i <= old->mask; i++) {
		if (old->slots[i].key == 0)
			continue;
		find_key(&es, old->slots[i].key, &lo, &hi);
		len = merge_list(old->pool + old->slots[i].off,
			old->pool + old->slots[i].off + old->slots[i].len,
			&es, lo, hi, &ch, pool + off);
		index_put(ix, old->slots[i].key, off, len);
		off += len;
	}
	find_key(&es, WIDE_KEY, &lo, &hi);
	len = merge_list(old->pool + old->wide_off,
		old->pool + old->wide_off + old->wide_len, &es, lo, hi, &ch,
		pool + off);
	index_put(ix, WIDE_KEY, off, len);
	off += len;
	/* Keys the old index did not have. */
	for (lo = 0; lo < es.n; lo = hi) {
		for (hi = lo; hi < es.n && es.e[hi].key == es.e[lo].key; hi++)
			;
		if (es.e[lo].key == WIDE_KEY || slot_find(old, es.e[lo].key))
			continue;
		for (i = 0; i < hi - lo; i++)
			pool[off + i] = es.e[lo + i].rule;
		index_put(ix, es.e[lo].key, off, (uint32_t)(hi - lo));
		off += (uint32_t)(hi - lo);
	}
	ix->nb_entries = off;
	free(es.e);
	*out = ix;
	return 0;
}

uint32_t
pgt_rs_index_lead(const struct pgt_rs_index *ix)
{
	const uint32_t *wide = ix->pool + ix->wide_off;
	uint32_t n = 0;

	while (n < ix->wide_len && wide[n] == n)
		n++;
	return n;
}

int
pgt_rs_index_build(const struct pgt_rs_cchain *c,
	const struct pgt_rs_cchain *prev, const struct pgt_rs_index **out)
{
	*out = NULL;
	if (c->nb_rules < PGT_RS_INDEX_MIN_RULES)
		return 0;
	if (prev != NULL && prev->index != NULL)
		return index_patch(c, prev, out);
	return index_full(c, out);
}

void
pgt_rs_index_lookup(const struct pgt_rs_index *ix, uint16_t dport,
	uint32_t dst, struct pgt_rs_cursor *cur)
{
	uint32_t pb = dport >> PORT_SHIFT, d16 = dst >> 16;
	const uint32_t keys[3] = { slot_key(CL_BOTH, pb, d16),
		slot_key(CL_PORT, pb, 0), slot_key(CL_ADDR, 0, d16) };
	const bool maybe[3] = {
		bit_test(ix->both_pb, pb) && bit_test(ix->both_d16, d16),
		bit_test(ix->port_pb, pb), bit_test(ix->addr_d16, d16) };
	const struct rs_slot *s;
	unsigned int i;

	cur->n = 0;
	for (i = 0; i < 3; i++) {
		if (!maybe[i] || (s = slot_find(ix, keys[i])) == NULL)
			continue;
		cur->at[cur->n] = ix->pool + s->off;
		cur->end[cur->n++] = ix->pool + s->off + s->len;
	}
	if (ix->wide_len > 0) {
		cur->at[cur->n] = ix->pool + ix->wide_off;
		cur->end[cur->n++] = ix->pool + ix->wide_off + ix->wide_len;
	}
}
