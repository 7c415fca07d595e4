/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ruleset model, its transactions, the compiler and the evaluator.
 *
 * Model and compiled form are separate on purpose: the model (chains of
 * rule objects, names, patterns) is what commands edit and printers show;
 * the compiled form is what workers run: per chain an array of compiled
 * rules with interface patterns resolved to port bitmaps, jumps resolved to
 * chain slots and extension data inline, so evaluating a rule touches one
 * cache line or two and never compares a string. A rule is compiled once
 * and its compiled form shared by every version of its chain: a change to
 * a chain of 100,000 rules copies an array of pointers, compiles the rules
 * it adds and patches the chain's index (pgt_ruleset_index.c), instead of
 * compiling and indexing 100,000 rules again.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_malloc.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pgt_log.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_ruleset_priv.h"
#include "pgt_ruleset_log.h"

PGT_LOG_REGISTER(ruleset);

const char *const pgt_rs_table_names[PGT_TABLE_MAX] = {
	[PGT_TABLE_RAW] = "raw",
	[PGT_TABLE_MANGLE] = "mangle",
	[PGT_TABLE_NAT] = "nat",
	[PGT_TABLE_FILTER] = "filter",
	[PGT_TABLE_SECURITY] = "security",
};

const char *const pgt_rs_hook_names[PGT_HOOK_MAX] = {
	[PGT_HOOK_PREROUTING] = "PREROUTING",
	[PGT_HOOK_INPUT] = "INPUT",
	[PGT_HOOK_FORWARD] = "FORWARD",
	[PGT_HOOK_OUTPUT] = "OUTPUT",
	[PGT_HOOK_POSTROUTING] = "POSTROUTING",
};

#define H(x) (1u << PGT_HOOK_##x)
/* Linux's built-in chains per table. */
const uint8_t pgt_rs_table_hooks[PGT_TABLE_MAX] = {
	[PGT_TABLE_RAW] = H(PREROUTING) | H(OUTPUT),
	[PGT_TABLE_MANGLE] = H(PREROUTING) | H(INPUT) | H(FORWARD) |
		H(OUTPUT) | H(POSTROUTING),
	[PGT_TABLE_NAT] = H(PREROUTING) | H(INPUT) | H(OUTPUT) |
		H(POSTROUTING),
	[PGT_TABLE_FILTER] = H(INPUT) | H(FORWARD) | H(OUTPUT),
	[PGT_TABLE_SECURITY] = H(INPUT) | H(FORWARD) | H(OUTPUT),
};
#undef H

/* Registries */

static struct pgt_match_ops *matches;
static struct pgt_target_ops *targets;

void
pgt_ruleset_register_match(struct pgt_match_ops *ops)
{
	ops->next = matches;
	matches = ops;
}

void
pgt_ruleset_register_target(struct pgt_target_ops *ops)
{
	/* Only the nat table may hold targets that cannot run yet. */
	RTE_VERIFY(ops->exec != NULL);
	ops->next = targets;
	targets = ops;
}

const struct pgt_match_ops *
pgt_rs_match_find(const char *name)
{
	const struct pgt_match_ops *m;

	for (m = matches; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

const struct pgt_target_ops *
pgt_rs_target_find(const char *name)
{
	const struct pgt_target_ops *t;

	for (t = targets; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

int
pgt_rs_errorf(struct pgt_rs_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int
pgt_ruleset_table_find(const char *name)
{
	int t;

	for (t = 0; t < PGT_TABLE_MAX; t++)
		if (strcmp(pgt_rs_table_names[t], name) == 0)
			return t;
	return -1;
}

/* Counters */

static unsigned int nb_workers;
static uint32_t max_slots;
/* Per worker: one counter per slot; the worker is the only writer. */
struct pgt_ruleset_counter *pgt_ruleset_counters[RTE_MAX_LCORE];
/* Management's offsets: restored values and zeroing (-Z). */
static struct pgt_ruleset_counter *base_counters;
static uint32_t *free_slots;
static uint32_t nb_free_slots;
/* By a rule's counter slot: how many chains hold the rule, in the live
 * model and in transactions' copies. Kept here, not in the rule, so that
 * copying and releasing a long chain touch one dense array. */
static uint32_t *rule_refs;

static int
slot_alloc(uint32_t *slot)
{
	unsigned int w;
	uint32_t s;

	if (nb_free_slots == 0)
		return -ENOSPC;
	s = free_slots[--nb_free_slots];
	/* No worker has referenced it since its grace period ended. */
	for (w = 0; w < nb_workers; w++)
		pgt_ruleset_counters[w][s] =
			(struct pgt_ruleset_counter){ 0, 0 };
	base_counters[s] = (struct pgt_ruleset_counter){ 0, 0 };
	*slot = s;
	return 0;
}

static void
slot_free(uint32_t slot)
{
	free_slots[nb_free_slots++] = slot;
}

void
pgt_ruleset_counter_read(uint32_t slot, uint64_t *pkts, uint64_t *bytes)
{
	unsigned int w;

	*pkts = base_counters[slot].pkts;
	*bytes = base_counters[slot].bytes;
	for (w = 0; w < nb_workers; w++) {
		*pkts += __atomic_load_n(&pgt_ruleset_counters[w][slot].pkts,
			__ATOMIC_RELAXED);
		*bytes += __atomic_load_n(&pgt_ruleset_counters[w][slot].bytes,
			__ATOMIC_RELAXED);
	}
}

/* Make the slot read (pkts, bytes): the base absorbs what workers counted. */
void
pgt_rs_counter_set(uint32_t slot, uint64_t pkts, uint64_t bytes)
{
	uint64_t p, b;

	pgt_ruleset_counter_read(slot, &p, &b);
	base_counters[slot].pkts += pkts - p;
	base_counters[slot].bytes += bytes - b;
}

/* The model */

static struct pgt_rs_model live;
static struct pgt_ruleset *published;

struct pgt_rs_model *
pgt_rs_live(void)
{
	return &live;
}

const struct pgt_ruleset *
pgt_ruleset_get(void)
{
	return pgt_rcu_dereference(published);
}

static struct pgt_rs_chain *
chain_alloc(const char *name, bool builtin)
{
	struct pgt_rs_chain *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->builtin = builtin;
	c->policy = PGT_RS_ACCEPT;
	c->dirty = true;
	return c;
}

struct pgt_rs_chain *
pgt_rs_chain_find(const struct pgt_rs_mtable *t, const char *name)
{
	unsigned int i;

	for (i = 0; i < t->nb_chains; i++)
		if (t->chains[i] != NULL &&
				strcmp(t->chains[i]->name, name) == 0)
			return t->chains[i];
	return NULL;
}

unsigned int
pgt_rs_nb_workers(void)
{
	return nb_workers;
}

struct pgt_rs_minst *
pgt_rs_minst_new(const struct pgt_match_ops *ops)
{
	struct pgt_rs_minst *mi = calloc(1, sizeof(*mi) + ops->size);

	if (mi == NULL)
		return NULL;
	mi->ops = ops;
	if (ops->worker_state_size > 0) {
		/* A line per worker: no false sharing between workers. */
		mi->wstride = RTE_ALIGN_CEIL(ops->worker_state_size,
			RTE_CACHE_LINE_SIZE);
		mi->wstate = rte_zmalloc("pgt_rs_wstate",
			(size_t)mi->wstride * nb_workers, RTE_CACHE_LINE_SIZE);
		if (mi->wstate == NULL) {
			free(mi);
			return NULL;
		}
	}
	return mi;
}

void
pgt_rs_minst_free(struct pgt_rs_minst *mi)
{
	rte_free(mi->wstate);
	free(mi);
}

static void
rule_free(struct pgt_rs_rule *r)
{
	unsigned int i;

	for (i = 0; i < r->nb_matches; i++)
		pgt_rs_minst_free(r->m[i]);
	free(r->tdata);
	rte_free((void *)(uintptr_t)r->crule);
	free(r);
}

static void
rule_put_slot(struct pgt_rs_rule *r, uint32_t slot)
{
	if (--rule_refs[slot] > 0)
		return;
	slot_free(slot);
	rule_free(r);
}

void
pgt_rs_rule_put(struct pgt_rs_rule *r)
{
	rule_put_slot(r, r->counter);
}

/* Does rule @p r need connection state? */
static bool
rule_tracks(const struct pgt_rs_rule *r)
{
	unsigned int k;

	if (r->target != NULL && r->target->conntrack)
		return true;
	for (k = 0; k < r->nb_matches; k++)
		if (r->m[k]->ops->conntrack)
			return true;
	return false;
}

static void
chain_release(struct pgt_rs_chain *c)
{
	unsigned int i;

	for (i = 0; i < c->nb_rules; i++)
		rule_put_slot(c->rules[i], c->slots[i]);
	free(c->rules);
	free(c->crules);
	free(c->slots);
	free(c);
}

/* Room for @p cap rules in each of @p c's arrays. */
static int
chain_reserve(struct pgt_rs_chain *c, unsigned int cap)
{
	struct pgt_rs_rule **rules;
	const struct pgt_rs_crule **crules;
	uint32_t *slots;

	if (cap <= c->cap)
		return 0;
	rules = realloc(c->rules, sizeof(*rules) * cap);
	if (rules == NULL)
		return -ENOMEM;
	c->rules = rules;
	crules = realloc(c->crules, sizeof(*crules) * cap);
	if (crules == NULL)
		return -ENOMEM;
	c->crules = crules;
	slots = realloc(c->slots, sizeof(*slots) * cap);
	if (slots == NULL)
		return -ENOMEM;
	c->slots = slots;
	c->cap = cap;
	return 0;
}

static struct pgt_rs_chain *
chain_clone(const struct pgt_rs_chain *c)
{
	struct pgt_rs_chain *n = malloc(sizeof(*n));
	unsigned int i;

	if (n == NULL)
		return NULL;
	*n = *c;
	n->dirty = false;
	n->new_jumps = false;
	n->cap = 0;
	n->nb_rules = 0;
	n->rules = NULL;
	n->crules = NULL;
	n->slots = NULL;
	if (chain_reserve(n, c->nb_rules) != 0) {
		chain_release(n);
		return NULL;
	}
	n->nb_rules = c->nb_rules;
	if (c->nb_rules > 0) {
		memcpy(n->rules, c->rules, sizeof(*n->rules) * c->nb_rules);
		memcpy(n->crules, c->crules, sizeof(*n->crules) * c->nb_rules);
		memcpy(n->slots, c->slots, sizeof(*n->slots) * c->nb_rules);
	}
	for (i = 0; i < n->nb_rules; i++)
		rule_refs[n->slots[i]]++;
	return n;
}

static void
table_release(struct pgt_rs_mtable *t)
{
	unsigned int i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nb_chains; i++)
		if (t->chains[i] != NULL)
			chain_release(t->chains[i]);
	free(t);
}

static struct pgt_rs_mtable *
table_clone(const struct pgt_rs_mtable *t)
{
	struct pgt_rs_mtable *n = calloc(1, sizeof(*n));
	unsigned int i;

	if (n == NULL)
		return NULL;
	n->nb_chains = t->nb_chains;
	for (i = 0; i < t->nb_chains; i++) {
		if (t->chains[i] == NULL)
			continue;
		n->chains[i] = chain_clone(t->chains[i]);
		if (n->chains[i] == NULL) {
			table_release(n);
			return NULL;
		}
	}
	return n;
}

int
pgt_rs_chain_new(struct pgt_rs_mtable *t, const char *name,
	struct pgt_rs_err *err)
{
	struct pgt_rs_chain *c;
	unsigned int slot;

	if (pgt_rs_chain_find(t, name) != NULL) {
		pgt_rs_errorf(err, "chain '%s' already exists", name);
		return -EEXIST;
	}
	for (slot = 0; slot < t->nb_chains; slot++)
		if (t->chains[slot] == NULL)
			break;
	if (slot == PGT_RS_MAX_CHAINS) {
		pgt_rs_errorf(err, "too many chains (at most %u per table)",
			PGT_RS_MAX_CHAINS);
		return -ENOSPC;
	}
	c = chain_alloc(name, false);
	if (c == NULL)
		return -ENOMEM;
	c->slot = (uint16_t)slot;
	t->chains[slot] = c;
	if (slot == t->nb_chains)
		t->nb_chains++;
	return 0;
}

unsigned int
pgt_rs_chain_refs(const struct pgt_rs_mtable *t, const char *name)
{
	const struct pgt_rs_chain *c;
	unsigned int i, j, refs = 0;

	for (i = 0; i < t->nb_chains; i++) {
		c = t->chains[i];
		if (c == NULL)
			continue;
		for (j = 0; j < c->nb_rules; j++)
			if ((c->rules[j]->kind == PGT_RS_JUMP ||
					c->rules[j]->kind == PGT_RS_GOTO) &&
					strcmp(c->rules[j]->jump, name) == 0)
				refs++;
	}
	return refs;
}

int
pgt_rs_chain_delete(struct pgt_rs_mtable *t, struct pgt_rs_chain *c,
	struct pgt_rs_err *err)
{
	if (c->builtin) {
		pgt_rs_errorf(err, "cannot delete built-in chain %s", c->name);
		return -EPERM;
	}
	if (pgt_rs_chain_refs(t, c->name) > 0) {
		pgt_rs_errorf(err, "chain %s is referenced by a rule", c->name);
		return -EBUSY;
	}
	if (c->nb_rules > 0) {
		pgt_rs_errorf(err, "chain %s is not empty", c->name);
		return -EBUSY;
	}
	t->chains[c->slot] = NULL;
	chain_release(c);
	return 0;
}

void
pgt_rs_chain_flush(struct pgt_rs_chain *c)
{
	unsigned int i;

	for (i = 0; i < c->nb_rules; i++)
		rule_put_slot(c->rules[i], c->slots[i]);
	c->nb_rules = 0;
	c->nb_tracking = 0;
	c->dirty = true;
}

int
pgt_rs_chain_insert(struct pgt_rs_chain *c, unsigned int pos,
	struct pgt_rs_rule *r)
{
	unsigned int n = c->nb_rules - pos;

	if (c->nb_rules == c->cap &&
			chain_reserve(c, c->cap == 0 ? 8 : c->cap * 2) != 0)
		return -ENOMEM;
	memmove(&c->rules[pos + 1], &c->rules[pos], sizeof(*c->rules) * n);
	memmove(&c->crules[pos + 1], &c->crules[pos], sizeof(*c->crules) * n);
	memmove(&c->slots[pos + 1], &c->slots[pos], sizeof(*c->slots) * n);
	c->rules[pos] = r;
	c->crules[pos] = NULL;
	c->slots[pos] = r->counter;
	c->nb_rules++;
	c->nb_tracking += rule_tracks(r);
	c->new_jumps |= r->kind == PGT_RS_JUMP || r->kind == PGT_RS_GOTO;
	c->dirty = true;
	return 0;
}

void
pgt_rs_chain_remove(struct pgt_rs_chain *c, unsigned int pos)
{
	unsigned int n = c->nb_rules - pos - 1;

	c->nb_tracking -= rule_tracks(c->rules[pos]);
	rule_put_slot(c->rules[pos], c->slots[pos]);
	memmove(&c->rules[pos], &c->rules[pos + 1], sizeof(*c->rules) * n);
	memmove(&c->crules[pos], &c->crules[pos + 1], sizeof(*c->crules) * n);
	memmove(&c->slots[pos], &c->slots[pos + 1], sizeof(*c->slots) * n);
	c->nb_rules--;
	c->dirty = true;
}

void
pgt_rs_chain_set(struct pgt_rs_chain *c, unsigned int pos,
	struct pgt_rs_rule *r)
{
	c->nb_tracking -= rule_tracks(c->rules[pos]);
	rule_put_slot(c->rules[pos], c->slots[pos]);
	c->rules[pos] = r;
	c->crules[pos] = NULL;
	c->slots[pos] = r->counter;
	c->nb_tracking += rule_tracks(r);
	c->new_jumps |= r->kind == PGT_RS_JUMP || r->kind == PGT_RS_GOTO;
	c->dirty = true;
}

struct pgt_rs_rule *
pgt_rs_rule_new(struct pgt_rs_err *err)
{
	struct pgt_rs_rule *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		pgt_rs_errorf(err, "out of memory");
		return NULL;
	}
	if (slot_alloc(&r->counter) != 0) {
		pgt_rs_errorf(err, "no room for another rule (at most %u)",
			max_slots);
		free(r);
		return NULL;
	}
	rule_refs[r->counter] = 1;
	return r;
}

bool
pgt_rs_rule_equal(const struct pgt_rs_rule *a, const struct pgt_rs_rule *b)
{
	unsigned int i;

	if (a->src != b->src || a->smsk != b->smsk || a->dst != b->dst ||
			a->dmsk != b->dmsk || strcmp(a->in, b->in) != 0 ||
			strcmp(a->out, b->out) != 0 || a->proto != b->proto ||
			a->inv != b->inv || a->frag != b->frag ||
			a->kind != b->kind || strcmp(a->jump, b->jump) != 0 ||
			a->nb_matches != b->nb_matches || a->target != b->target)
		return false;
	for (i = 0; i < a->nb_matches; i++)
		if (a->m[i]->ops != b->m[i]->ops ||
				memcmp(a->m[i]->data, b->m[i]->data,
					a->m[i]->ops->size) != 0)
			return false;
	return a->target == NULL ||
		memcmp(a->tdata, b->tdata, a->target->size) == 0;
}

/* Transactions */

void
pgt_rs_tx_begin(struct pgt_rs_tx *tx)
{
	memset(tx, 0, sizeof(*tx));
}

int
pgt_rs_tx_set_counter(struct pgt_rs_tx *tx, uint32_t slot, uint64_t pkts,
	uint64_t bytes)
{
	struct pgt_rs_counter_set *n;

	if (tx->nb_counters == tx->cap_counters) {
		n = realloc(tx->counters, sizeof(*n) *
			(tx->cap_counters == 0 ? 16 : tx->cap_counters * 2));
		if (n == NULL)
			return -ENOMEM;
		tx->counters = n;
		tx->cap_counters = tx->cap_counters == 0 ? 16 :
			tx->cap_counters * 2;
	}
	tx->counters[tx->nb_counters++] = (struct pgt_rs_counter_set){
		.slot = slot, .pkts = pkts, .bytes = bytes };
	return 0;
}

struct pgt_rs_mtable *
pgt_rs_tx_table(struct pgt_rs_tx *tx, int table)
{
	if (tx->t[table] == NULL)
		tx->t[table] = table_clone(live.t[table]);
	return tx->t[table];
}

void
pgt_rs_tx_abort(struct pgt_rs_tx *tx)
{
	int t;

	for (t = 0; t < PGT_TABLE_MAX; t++)
		table_release(tx->t[t]);
	free(tx->counters);
	free(tx->swaps);
	memset(tx, 0, sizeof(*tx));
}

/* Compiler */

/* iptables' interface match: exact, or a prefix when it ends with '+'. */
static bool
iface_match(const char *pattern, const char *name)
{
	size_t n = strlen(pattern);

	if (n > 0 && pattern[n - 1] == '+')
		return strncmp(pattern, name, n - 1) == 0;
	return strcmp(pattern, name) == 0;
}

/* Bit 63: "no interface" (locally generated input, delivered output). */
#define NO_IFACE_BIT 63
_Static_assert(RTE_MAX_ETHPORTS <= NO_IFACE_BIT,
	"port bitmaps hold every port and the no-interface bit");

static uint64_t
iface_bitmap(const char *pattern, bool inv)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	uint64_t bits = 0;
	uint16_t pid;

	if (pattern[0] == '\0')
		return UINT64_MAX;
	for (pid = 0; v != NULL && pid < v->nb_ports; pid++)
		if (v->port[pid].name[0] != '\0' &&
				iface_match(pattern, v->port[pid].name))
			bits |= UINT64_C(1) << pid;
	if (iface_match(pattern, ""))
		bits |= UINT64_C(1) << NO_IFACE_BIT;
	return inv ? ~bits : bits;
}

/* Compile rule @p r of chain @p c (table @p t) into r->crule, replacing
 * the one it has, if any (its ports were renamed). */
static int
crule_make(struct pgt_rs_tx *tx, const struct pgt_rs_mtable *t,
	const struct pgt_rs_chain *c, struct pgt_rs_rule *r,
	struct pgt_rs_err *err)
{
	const struct pgt_rs_chain *target = NULL;
	struct pgt_rs_crule_swap *ns;
	struct pgt_rs_crule *cr;
	unsigned int j;

	if (r->kind == PGT_RS_JUMP || r->kind == PGT_RS_GOTO) {
		/* A target's slot is fixed for the rule's life: a chain
		 * cannot go while rules jump to it, and renaming one makes
		 * new rules of those that jump to it. */
		target = pgt_rs_chain_find(t, r->jump);
		if (target == NULL) {
			pgt_rs_errorf(err, "chain %s: jump to unknown chain %s",
				c->name, r->jump);
			return -ENOENT;
		}
	}
	if (r->crule != NULL && tx->nb_swaps == tx->cap_swaps) {
		ns = realloc(tx->swaps, sizeof(*ns) *
			(tx->cap_swaps == 0 ? 64 : tx->cap_swaps * 2));
		if (ns == NULL)
			goto nomem;
		tx->swaps = ns;
		tx->cap_swaps = tx->cap_swaps == 0 ? 64 : tx->cap_swaps * 2;
	}
	cr = rte_zmalloc("pgt_rs_rule", sizeof(*cr), RTE_CACHE_LINE_SIZE);
	if (cr == NULL)
		goto nomem;
	cr->src = r->src;
	cr->smsk = r->smsk;
	cr->dst = r->dst;
	cr->dmsk = r->dmsk;
	cr->in_ports = iface_bitmap(r->in, r->inv & PGT_RS_INV_IN);
	cr->out_ports = iface_bitmap(r->out, r->inv & PGT_RS_INV_OUT);
	cr->counter = r->counter;
	cr->proto = r->proto;
	cr->inv = r->inv;
	cr->frag = r->frag;
	cr->kind = r->kind;
	cr->nb_matches = r->nb_matches;
	for (j = 0; j < r->nb_matches; j++)
		cr->m[j] = r->m[j];
	cr->target = r->target;
	cr->tdata = r->tdata;
	if (target != NULL)
		cr->jump = target->slot;
	if (r->crule != NULL)
		tx->swaps[tx->nb_swaps++] = (struct pgt_rs_crule_swap){
			.rule = r, .old = r->crule };
	r->crule = cr;
	return 0;
nomem:
	pgt_rs_errorf(err, "chain %s: no memory to compile its rules",
		c->name);
	return -ENOMEM;
}

/* A failed commit: rules recompiled by it get their old forms back. */
static void
crule_swaps_undo(struct pgt_rs_tx *tx)
{
	struct pgt_rs_crule_swap *sw;

	while (tx->nb_swaps > 0) {
		sw = &tx->swaps[--tx->nb_swaps];
		rte_free((void *)(uintptr_t)sw->rule->crule);
		sw->rule->crule = sw->old;
	}
}

/*
 * The conntrack states that decide compiled chain @p cc at its first rule,
 * when that rule looks at nothing else (any address, interface, protocol,
 * fragment; one match that says it depends on the state alone) and ends
 * the walk. A packet in one of them would match it and stop there.
 */
static void
chain_lead_state(struct pgt_rs_cchain *cc)
{
	const struct pgt_rs_crule *r = cc->nb_rules > 0 ? cc->rules[0] : NULL;
	const struct pgt_rs_minst *m;

	cc->lead_state[0] = cc->lead_state[1] = 0;
	if (r == NULL || r->smsk != 0 || r->dmsk != 0 ||
			(r->inv & (PGT_RS_INV_SRC | PGT_RS_INV_DST)) ||
			r->in_ports != UINT64_MAX || r->out_ports != UINT64_MAX ||
			r->proto != 0 || r->frag != PGT_RS_FRAG_ANY ||
			r->nb_matches != 1 ||
			(r->kind != PGT_RS_ACCEPT && r->kind != PGT_RS_DROP))
		return;
	m = r->m[0];
	if (m->ops->state_only == NULL ||
			!m->ops->state_only(m->data, cc->lead_state)) {
		cc->lead_state[0] = cc->lead_state[1] = 0;
		return;
	}
	cc->lead_verdict = r->kind == PGT_RS_ACCEPT ? PGT_VERDICT_ACCEPT :
		PGT_VERDICT_DROP;
}

/*
 * Compile chain @p c: its rules' compiled forms in order (made for the
 * rules that have none yet) and its index, derived from the chain's
 * previous compiled form where it can be.
 */
static int
chain_compile(struct pgt_rs_tx *tx, const struct pgt_rs_mtable *t,
	struct pgt_rs_chain *c, struct pgt_rs_err *err)
{
	struct pgt_rs_cchain *cc;
	struct pgt_rs_rule *r;
	unsigned int i;
	int rc;

	cc = rte_malloc("pgt_rs_chain", sizeof(*cc) +
		sizeof(cc->rules[0]) * c->nb_rules, RTE_CACHE_LINE_SIZE);
	if (cc == NULL) {
		pgt_rs_errorf(err, "chain %s: no memory to compile it",
			c->name);
		return -ENOMEM;
	}
	memcpy(cc->name, c->name, sizeof(cc->name));
	cc->builtin = c->builtin;
	cc->policy = c->policy;
	cc->counter = c->counter;
	cc->nb_rules = c->nb_rules;
	cc->index = NULL;
	for (i = 0; i < c->nb_rules; i++) {
		if (c->crules[i] != NULL)
			continue;
		r = c->rules[i];
		rc = crule_make(tx, t, c, r, err);
		if (rc != 0) {
			rte_free(cc);
			return rc;
		}
		c->crules[i] = r->crule;
	}
	if (c->nb_rules > 0)
		memcpy(cc->rules, c->crules,
			sizeof(cc->rules[0]) * c->nb_rules);
	rc = pgt_rs_index_build(cc, c->compiled, &cc->index);
	if (rc != 0) {
		rte_free(cc);
		pgt_rs_errorf(err, "chain %s: no memory for its index", c->name);
		return rc;
	}
	cc->index_lead = cc->index != NULL ? pgt_rs_index_lead(cc->index) : 0;
	chain_lead_state(cc);
	c->compiled = cc;
	return 0;
}

/*
 * Refuse loops and over-deep nesting: depth-first from every chain, as
 * iptables' mark_source_chains() does for the kernel.
 */
static int
check_depth(const struct pgt_rs_mtable *t, const struct pgt_rs_chain *c,
	unsigned int depth, uint8_t *state, struct pgt_rs_err *err)
{
	const struct pgt_rs_chain *n;
	unsigned int i;
	int rc;

	if (state[c->slot] == 2)
		return 0;
	if (state[c->slot] == 1) {
		pgt_rs_errorf(err, "jumps to chain %s make a loop", c->name);
		return -ELOOP;
	}
	if (depth >= PGT_RS_MAX_DEPTH) {
		pgt_rs_errorf(err, "jumps nest deeper than %u chains at %s",
			PGT_RS_MAX_DEPTH, c->name);
		return -ELOOP;
	}
	state[c->slot] = 1;
	for (i = 0; i < c->nb_rules; i++) {
		if (c->rules[i]->kind != PGT_RS_JUMP &&
				c->rules[i]->kind != PGT_RS_GOTO)
			continue;
		n = pgt_rs_chain_find(t, c->rules[i]->jump);
		if (n == NULL)
			continue;	/* reported by the compiler */
		rc = check_depth(t, n, depth + 1, state, err);
		if (rc != 0)
			return rc;
	}
	state[c->slot] = 2;
	return 0;
}

/* Only a jump or goto added can make a loop or nest too deep: a commit
 * without one does not walk the table's rules. */
static int
table_check(const struct pgt_rs_mtable *t, struct pgt_rs_err *err)
{
	static uint8_t state[PGT_RS_MAX_CHAINS];
	unsigned int i;
	int rc;

	for (i = 0; i < t->nb_chains; i++)
		if (t->chains[i] != NULL && t->chains[i]->new_jumps)
			break;
	if (i == t->nb_chains)
		return 0;
	memset(state, 0, sizeof(state));
	for (i = 0; i < t->nb_chains; i++) {
		if (t->chains[i] == NULL || state[i] != 0)
			continue;
		rc = check_depth(t, t->chains[i], 0, state, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static struct pgt_rs_ctable *
table_link(const struct pgt_rs_mtable *t)
{
	struct pgt_rs_ctable *ct;
	unsigned int i;

	ct = rte_zmalloc("pgt_rs_table", sizeof(*ct) +
		sizeof(ct->chains[0]) * t->nb_chains, RTE_CACHE_LINE_SIZE);
	if (ct == NULL)
		return NULL;
	ct->nb_chains = t->nb_chains;
	for (i = 0; i < t->nb_chains; i++)
		ct->chains[i] = t->chains[i] != NULL ?
			t->chains[i]->compiled : NULL;
	return ct;
}

/* Built-in chain slots are fixed at init: the hooks' order in the table. */
static inline uint16_t
builtin_chain(int table, int hook)
{
	return (uint16_t)__builtin_popcount(pgt_rs_table_hooks[table] &
		((1u << hook) - 1));
}

/* Does any rule of the live model need connection state? */
static bool
needs_tracking(void)
{
	const struct pgt_rs_chain *c;
	unsigned int i;
	int t;

	for (t = 0; t < PGT_TABLE_MAX; t++) {
		for (i = 0; i < live.t[t]->nb_chains; i++) {
			c = live.t[t]->chains[i];
			/* NAT is decided per connection. */
			if (c != NULL && (c->nb_tracking > 0 ||
					(t == PGT_TABLE_NAT && c->nb_rules > 0)))
				return true;
		}
	}
	return false;
}

static void
hooks_activity(struct pgt_ruleset *rs)
{
	const struct pgt_rs_cchain *c;
	int t, h;

	for (h = 0; h < PGT_HOOK_MAX; h++) {
		rs->flags.active[h] = 0;
		for (t = 0; t < PGT_TABLE_MAX; t++) {
			if (!(pgt_rs_table_hooks[t] & (1u << h)))
				continue;
			c = rs->tables[t]->chains[builtin_chain(t, h)];
			if (c->nb_rules > 0 || c->policy != PGT_RS_ACCEPT)
				rs->flags.active[h] |= (uint8_t)(1u << t);
		}
	}
	rs->flags.tracking = needs_tracking();
	rs->flags.serial = published != NULL ? published->flags.serial + 1 : 1;
}

static void
free_compiled_chain(const struct pgt_rs_cchain *c)
{
	if (c != NULL)
		pgt_rs_index_free(c->index);
	rte_free((void *)(uintptr_t)c);
}

int
pgt_rs_tx_commit(struct pgt_rs_tx *tx, struct pgt_rs_err *err)
{
	struct pgt_rs_ctable *ct[PGT_TABLE_MAX] = { NULL };
	struct pgt_rs_mtable *old[PGT_TABLE_MAX] = { NULL };
	struct pgt_ruleset *rs, *old_rs = published;
	struct pgt_rs_chain *c, *oc;
	unsigned int i;
	int t, rc = 0;

	for (t = 0; t < PGT_TABLE_MAX && rc == 0; t++) {
		if (tx->t[t] == NULL)
			continue;
		rc = table_check(tx->t[t], err);
		for (i = 0; rc == 0 && i < tx->t[t]->nb_chains; i++) {
			c = tx->t[t]->chains[i];
			if (c != NULL && c->dirty)
				rc = chain_compile(tx, tx->t[t], c, err);
		}
		if (rc == 0) {
			ct[t] = table_link(tx->t[t]);
			if (ct[t] == NULL)
				rc = -ENOMEM;
		}
	}
	rs = rc == 0 ? rte_zmalloc("pgt_ruleset", sizeof(*rs), 0) : NULL;
	if (rc == 0 && rs == NULL)
		rc = -ENOMEM;
	if (rc != 0) {
		/* Free what this transaction compiled, then its copies. */
		for (t = 0; t < PGT_TABLE_MAX; t++) {
			if (tx->t[t] == NULL)
				continue;
			for (i = 0; i < tx->t[t]->nb_chains; i++) {
				c = tx->t[t]->chains[i];
				oc = live.t[t] != NULL && i < live.t[t]->nb_chains ?
					live.t[t]->chains[i] : NULL;
				if (c != NULL && c->dirty && c->compiled != NULL &&
						(oc == NULL ||
						 oc->compiled != c->compiled))
					free_compiled_chain(c->compiled);
			}
			rte_free(ct[t]);
		}
		crule_swaps_undo(tx);
		pgt_rs_tx_abort(tx);
		return rc;
	}
	for (t = 0; t < PGT_TABLE_MAX; t++) {
		if (tx->t[t] != NULL) {
			for (i = 0; i < tx->t[t]->nb_chains; i++) {
				c = tx->t[t]->chains[i];
				if (c != NULL)
					c->dirty = c->new_jumps = false;
			}
			old[t] = live.t[t];
			live.t[t] = tx->t[t];
			rs->tables[t] = ct[t];
		} else {
			rs->tables[t] = old_rs->tables[t];
		}
	}
	hooks_activity(rs);
	pgt_rcu_publish(published, rs);
	pgt_rcu_synchronize();

	/* No worker sees the old forms any more. */
	for (t = 0; t < PGT_TABLE_MAX; t++) {
		if (old[t] == NULL)
			continue;
		for (i = 0; i < old[t]->nb_chains; i++) {
			oc = old[t]->chains[i];
			c = i < live.t[t]->nb_chains ? live.t[t]->chains[i] : NULL;
			if (oc != NULL && (c == NULL || c->compiled != oc->compiled))
				free_compiled_chain(oc->compiled);
		}
		rte_free((void *)(uintptr_t)old_rs->tables[t]);
		table_release(old[t]);
	}
	rte_free(old_rs);
	for (i = 0; i < tx->nb_swaps; i++)
		rte_free((void *)(uintptr_t)tx->swaps[i].old);
	free(tx->swaps);
	for (i = 0; i < tx->nb_counters; i++)
		pgt_rs_counter_set(tx->counters[i].slot, tx->counters[i].pkts,
			tx->counters[i].bytes);
	free(tx->counters);
	memset(tx, 0, sizeof(*tx));
	return 0;
}

/* Port names changed: interface bitmaps must be computed again. */
static void
ports_renamed(void)
{
	struct pgt_rs_err err;
	struct pgt_rs_tx tx;
	struct pgt_rs_mtable *t;
	unsigned int i, j;
	int tb;

	pgt_rs_tx_begin(&tx);
	for (tb = 0; tb < PGT_TABLE_MAX; tb++) {
		t = pgt_rs_tx_table(&tx, tb);
		if (t == NULL) {
			pgt_rs_tx_abort(&tx);
			PGT_LOG(ERR, ruleset, "out of memory recompiling rules");
			return;
		}
		for (i = 0; i < t->nb_chains; i++) {
			if (t->chains[i] == NULL)
				continue;
			for (j = 0; j < t->chains[i]->nb_rules; j++) {
				if (t->chains[i]->rules[j]->in[0] == '\0' &&
						t->chains[i]->rules[j]->out[0] == '\0')
					continue;
				t->chains[i]->crules[j] = NULL;
				t->chains[i]->dirty = true;
			}
		}
	}
	if (pgt_rs_tx_commit(&tx, &err) != 0)
		PGT_LOG(ERR, ruleset, "cannot recompile rules: %s", err.msg);
}

int
pgt_ruleset_init(unsigned int workers, uint32_t max_rules)
{
	struct pgt_rs_err err;
	struct pgt_rs_tx tx;
	struct pgt_rs_mtable *t;
	struct pgt_rs_chain *c;
	unsigned int w;
	uint32_t i;
	int tb, h, rc;

	nb_workers = workers;
	/* Every built-in chain's policy takes a slot too. */
	max_slots = max_rules + PGT_TABLE_MAX * PGT_HOOK_MAX;
	for (w = 0; w < workers; w++) {
		pgt_ruleset_counters[w] = rte_zmalloc("pgt_rs_counters",
			sizeof(struct pgt_ruleset_counter) * max_slots,
			RTE_CACHE_LINE_SIZE);
		if (pgt_ruleset_counters[w] == NULL)
			return -ENOMEM;
	}
	if (pgt_rs_log_init(workers) != 0 || pgt_rs_nflog_init(workers) != 0 ||
			pgt_rs_trace_init(workers) != 0)
		return -ENOMEM;
	base_counters = calloc(max_slots, sizeof(*base_counters));
	free_slots = malloc(sizeof(*free_slots) * max_slots);
	rule_refs = calloc(max_slots, sizeof(*rule_refs));
	if (base_counters == NULL || free_slots == NULL || rule_refs == NULL)
		return -ENOMEM;
	for (i = 0; i < max_slots; i++)
		free_slots[i] = max_slots - 1 - i;
	nb_free_slots = max_slots;

	/* An empty ruleset to start from: every built-in chain, ACCEPT. */
	published = rte_zmalloc("pgt_ruleset", sizeof(*published), 0);
	if (published == NULL)
		return -ENOMEM;
	pgt_rs_tx_begin(&tx);
	for (tb = 0; tb < PGT_TABLE_MAX; tb++) {
		t = calloc(1, sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		tx.t[tb] = t;
		for (h = 0; h < PGT_HOOK_MAX; h++) {
			if (!(pgt_rs_table_hooks[tb] & (1u << h)))
				continue;
			c = chain_alloc(pgt_rs_hook_names[h], true);
			if (c == NULL || slot_alloc(&c->counter) != 0)
				return -ENOMEM;
			c->slot = (uint16_t)t->nb_chains;
			t->chains[t->nb_chains++] = c;
		}
	}
	rc = pgt_rs_tx_commit(&tx, &err);
	if (rc == 0)
		pgt_port_on_rename(ports_renamed);
	return rc;
}

/* Evaluation (workers) */

static inline bool
rule_match(const struct pgt_rs_crule *r, struct pgt_rs_pkt *p)
{
	const struct pgt_rs_minst *m;
	unsigned int i;
	bool hit;

	hit = (p->src & r->smsk) == r->src;
	if (hit == !!(r->inv & PGT_RS_INV_SRC))
		return false;
	hit = (p->dst & r->dmsk) == r->dst;
	if (hit == !!(r->inv & PGT_RS_INV_DST))
		return false;
	if (!((r->in_ports >> (p->in_port == PGT_PORT_NONE ? NO_IFACE_BIT :
			p->in_port)) & 1))
		return false;
	if (!((r->out_ports >> (p->out_port == PGT_PORT_NONE ? NO_IFACE_BIT :
			p->out_port)) & 1))
		return false;
	if (r->proto != 0) {
		hit = p->ip->next_proto_id == r->proto;
		if (hit == !!(r->inv & PGT_RS_INV_PROTO))
			return false;
	}
	if (r->frag != PGT_RS_FRAG_ANY &&
			(p->frag_off != 0) != (r->frag == PGT_RS_FRAG_ONLY))
		return false;
	for (i = 0; i < r->nb_matches; i++) {
		m = r->m[i];
		if (m->ops->match != NULL && !m->ops->match(m->data,
				m->wstate != NULL ?
				m->wstate + (size_t)m->wstride * p->worker : NULL,
				p))
			return false;
	}
	return true;
}

/* The first candidate rule of @p cur numbered @p i or more, or UINT32_MAX. */
static inline uint32_t
next_candidate(struct pgt_rs_cursor *cur, uint32_t i)
{
	uint32_t best = UINT32_MAX;
	unsigned int k;

	for (k = 0; k < cur->n; k++) {
		while (cur->at[k] < cur->end[k] && *cur->at[k] < i)
			cur->at[k]++;
		if (cur->at[k] < cur->end[k] && *cur->at[k] < best)
			best = *cur->at[k];
	}
	return best;
}

/* A TRACE event about rule @p num (0: the chain's end) of chain @p c. */
static void __rte_noinline
trace_rule(const struct pgt_rs_pkt *p, uint8_t table,
	const struct pgt_rs_cchain *c, uint32_t num, enum pgt_rs_trace_type type)
{
	struct pgt_rs_trace_record r;
	const struct pgt_rs_crule *cr = num > 0 ? c->rules[num - 1] : NULL;

	memset(&r, 0, offsetof(struct pgt_rs_trace_record, data));
	r.id = p->meta->trace;
	r.type = (uint8_t)type;
	r.hook = p->hook;
	r.table = table;
	r.arg = num > 0 ? num : c->nb_rules + 1;
	r.counter = cr != NULL ? cr->counter : c->counter;
	r.kind = cr != NULL ? cr->kind : c->policy;
	r.target = cr != NULL && cr->kind == PGT_RS_TARGET ? cr->target : NULL;
	r.in_port = p->in_port;
	r.out_port = p->out_port;
	r.mark = p->meta->mark;
	r.ctinfo = p->ctinfo;
	memcpy(r.chain, c->name, sizeof(r.chain));
	pgt_ruleset_trace_post(p->worker, &r);
}

/*
 * Run a table's chain for the hook: Linux's ipt_do_table(), in short.
 * Compiled twice (@p traced is a constant): a traced packet's copy posts an
 * event for every rule that matches and every chain end; the other is the
 * fast path, untouched by tracing.
 */
static __rte_always_inline enum pgt_verdict
run_chain(const struct pgt_rs_ctable *t, const struct pgt_rs_cchain *base,
	struct pgt_rs_pkt *p, uint8_t table, const bool traced)
{
	struct {
		const struct pgt_rs_cchain *c;
		uint32_t next;
		struct pgt_rs_cursor cur;
	} stack[PGT_RS_MAX_DEPTH];
	const struct pgt_rs_cchain *c = base;
	const struct pgt_rs_crule *r;
	struct pgt_rs_cursor cur;
	unsigned int depth = 0;
	enum pgt_verdict v;
	uint32_t i = 0;
	/* A RETURN rule ends the chain as falling off it does; its own
	 * rule event says so already. */
	bool returned = false;

	cur.looked_up = false;
	for (;;) {
		/* An indexed chain skips the rules that cannot match, once
		 * past the rules every packet must try. */
		if (c->index != NULL && i >= c->index_lead &&
				i < c->nb_rules) {
			if (!cur.looked_up) {
				pgt_rs_index_lookup(c->index, p->dport,
					p->dst, &cur);
				cur.looked_up = true;
			}
			i = next_candidate(&cur, i);
			if (i > c->nb_rules)
				i = c->nb_rules;
		}
		if (i == c->nb_rules) {
			/* Falling off a user chain returns to its caller;
			 * off the built-in chain, or a chain reached by goto
			 * from it, the policy applies. */
			if (depth > 0 && !c->builtin) {
				if (traced && !returned)
					trace_rule(p, table, c, 0,
						PGT_RS_TRACE_RETURN);
				returned = false;
				depth--;
				c = stack[depth].c;
				i = stack[depth].next;
				cur = stack[depth].cur;
				continue;
			}
			if (traced)
				trace_rule(p, table, base, 0,
					PGT_RS_TRACE_POLICY);
			pgt_ruleset_count(p->worker, base->counter, p->ip_len);
			return base->policy == PGT_RS_ACCEPT ?
				PGT_VERDICT_ACCEPT : PGT_VERDICT_DROP;
		}
		r = c->rules[i++];
		if (!rule_match(r, p))
			continue;
		pgt_ruleset_count(p->worker, r->counter, p->ip_len);
		if (traced)
			trace_rule(p, table, c, i, PGT_RS_TRACE_RULE);
		switch (r->kind) {
		case PGT_RS_ACCEPT:
			return PGT_VERDICT_ACCEPT;
		case PGT_RS_DROP:
			return PGT_VERDICT_DROP;
		case PGT_RS_RETURN:
			i = c->nb_rules;	/* as if it fell off */
			returned = traced;
			break;
		case PGT_RS_JUMP:
			stack[depth].c = c;
			stack[depth].next = i;
			stack[depth].cur = cur;
			depth++;
			c = t->chains[r->jump];
			i = 0;
			cur.looked_up = false;
			break;
		case PGT_RS_GOTO:
			c = t->chains[r->jump];
			i = 0;
			cur.looked_up = false;
			break;
		case PGT_RS_TARGET:
			v = r->target->exec(r->tdata, p);
			if (v != PGT_VERDICT_CONTINUE)
				return v;
			break;
		default:
			break;
		}
	}
}

/* The header fields of @p p (addresses, ports, lengths) from p->ip. */
static void
pkt_prepare(struct pgt_rs_pkt *p)
{
	uint16_t frag;

	p->prepared = true;
	/* Read once here, not by every rule: rules may rewrite neither. */
	p->src = rte_be_to_cpu_32(p->ip->src_addr);
	p->dst = rte_be_to_cpu_32(p->ip->dst_addr);
	p->ip_len = rte_be_to_cpu_16(p->ip->total_length);
	frag = rte_be_to_cpu_16(p->ip->fragment_offset);
	p->frag_off = frag & RTE_IPV4_HDR_OFFSET_MASK;
	p->l4 = NULL;
	p->l4_len = 0;
	p->sport = 0;
	p->dport = 0;
	if (p->frag_off == 0) {
		uint32_t hlen = (p->ip->version_ihl & 0xf) * 4u;
		uint32_t avail = rte_pktmbuf_data_len(p->m) -
			(uint32_t)((uint8_t *)p->ip -
				rte_pktmbuf_mtod(p->m, uint8_t *));

		if (avail > hlen && p->ip_len > hlen) {
			p->l4 = (const uint8_t *)p->ip + hlen;
			p->l4_len = (uint16_t)(RTE_MIN(avail, p->ip_len) - hlen);
			if ((p->ip->next_proto_id == IPPROTO_TCP &&
					p->l4_len >= sizeof(struct rte_tcp_hdr)) ||
					(p->ip->next_proto_id == IPPROTO_UDP &&
					p->l4_len >= sizeof(struct rte_udp_hdr))) {
				p->sport = rte_be_to_cpu_16(
					((const rte_be16_t *)p->l4)[0]);
				p->dport = rte_be_to_cpu_16(
					((const rte_be16_t *)p->l4)[1]);
			}
		}
	}
}

enum pgt_verdict
pgt_ruleset_run_table(const struct pgt_ruleset *rs, enum pgt_table table,
	enum pgt_hook hook, struct pgt_rs_pkt *p)
{
	const struct pgt_rs_ctable *t = rs->tables[table];
	const struct pgt_rs_cchain *c = t->chains[builtin_chain(table, hook)];

	p->hook = (uint8_t)hook;
	if (unlikely(p->meta->trace != 0)) {
		if (!p->prepared)
			pkt_prepare(p);
		return run_chain(t, c, p, (uint8_t)table, true);
	}
	/* Decided by the first rule on the packet's conntrack state alone
	 * (the usual ESTABLISHED accept): the walk would stop there too. */
	if ((c->lead_state[p->ct != NULL] >> p->ctinfo) & 1) {
		pgt_ruleset_count(p->worker, c->rules[0]->counter,
			rte_be_to_cpu_16(p->ip->total_length));
		return (enum pgt_verdict)c->lead_verdict;
	}
	if (!p->prepared)
		pkt_prepare(p);
	return run_chain(t, c, p, (uint8_t)table, false);
}

void
pgt_ruleset_lead(const struct pgt_ruleset *rs, enum pgt_table table,
	enum pgt_hook hook, struct pgt_ruleset_lead *lead)
{
	const struct pgt_rs_cchain *c =
		rs->tables[table]->chains[builtin_chain(table, hook)];

	lead->state[0] = c->lead_state[0];
	lead->state[1] = c->lead_state[1];
	lead->verdict = c->lead_verdict;
	lead->counter = c->nb_rules > 0 ? c->rules[0]->counter : 0;
}
