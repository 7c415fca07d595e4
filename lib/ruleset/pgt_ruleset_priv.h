/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RULESET_PRIV_H
#define PGT_RULESET_PRIV_H

/* The management thread's model of the ruleset, and the compiled form. */

#include <net/if.h>

#include <jansson.h>

#include "pgt_rpc.h"
#include "pgt_ruleset.h"

/* What a rule does when it matches. */
enum pgt_rs_kind {
	PGT_RS_ACCEPT,
	PGT_RS_DROP,
	PGT_RS_RETURN,
	PGT_RS_JUMP,
	PGT_RS_GOTO,
	PGT_RS_TARGET,		/* an extension target */
	PGT_RS_NONE,		/* no -j: count only */
};

/* Negations of the built-in matches. */
#define PGT_RS_INV_SRC		0x01
#define PGT_RS_INV_DST		0x02
#define PGT_RS_INV_PROTO	0x04
#define PGT_RS_INV_IN		0x08
#define PGT_RS_INV_OUT		0x10

/* -f */
#define PGT_RS_FRAG_ANY		0
#define PGT_RS_FRAG_ONLY	1	/* -f: non-first fragments */
#define PGT_RS_FRAG_NOT		2	/* ! -f */

/* One extension match in a rule: its ops, negation-free data (each
 * extension keeps its own inversion flags). */
struct pgt_rs_minst {
	const struct pgt_match_ops *ops;
	/* Per-worker state: worker W's at wstate + W * wstride. It lives as
	 * long as the rule, so a recompile keeps it. */
	uint8_t *wstate;
	uint32_t wstride;
	uint64_t data[];	/* ops->size bytes */
};

struct pgt_rs_minst *pgt_rs_minst_new(const struct pgt_match_ops *ops);
void pgt_rs_minst_free(struct pgt_rs_minst *mi);

/*
 * The sets (only @p name's if not NULL): name, type, entries, maxelem,
 * references, and with @p members their entries as ipset save writes them
 * (a JSON array).
 */
json_t *pgt_rs_sets_json(const char *name, bool members);

/**
 * Run the ipset commands of @p text, one per line (the form of ipset
 * save), stopping at the first error; or, with @p model, read its create
 * and add lines into @p model instead, creating nothing:
 * {NAME: {"type", "maxelem", "entries": {ENTRY: true}}}, each entry in the
 * form ipset save writes.
 *
 * @param[out] lineno  The line the error is on.
 * @return 0, or the failing command's error (with @p model: -EINVAL for
 *   another command, an unknown type, a bad entry, an add before its
 *   create) with @p err filled, or -ENOMEM.
 */
int pgt_rs_sets_lines(const char *text, json_t *model, int *lineno,
	struct pgt_rs_err *err);

/** Does a rule of the running ruleset match against set @p name? */
bool pgt_rs_set_in_use(const char *name);

/** The reload planner of iptables_restore (pgt_rpc_planner_t). */
int pgt_rs_plan_tables(json_t *running, json_t *wanted,
	enum pgt_rpc_phase phase, json_t *plan, struct pgt_rpc_err *err);

/** The reload planner of ipset_restore (pgt_rpc_planner_t). */
int pgt_rs_plan_sets(json_t *running, json_t *wanted,
	enum pgt_rpc_phase phase, json_t *plan, struct pgt_rpc_err *err);

/* A rule as the management thread keeps it: immutable once made, shared
 * by reference between a transaction's copy and the live model (its
 * reference count is kept by counter slot, see rule_refs). */
struct pgt_rs_rule {
	uint32_t counter;	/* counter slot, owned by the rule */
	uint32_t src, smsk, dst, dmsk;	/* host order */
	char in[IFNAMSIZ], out[IFNAMSIZ];	/* "" = any; '+' suffix */
	uint8_t proto;		/* 0 = any */
	uint8_t inv;
	uint8_t frag;
	uint8_t kind;
	char jump[PGT_RS_CHAIN_NAMESIZE];	/* JUMP/GOTO target */
	uint8_t nb_matches;
	struct pgt_rs_minst *m[PGT_RS_MAX_MATCHES];
	const struct pgt_target_ops *target;
	void *tdata;
	/* The compiled form, made once and shared by every compiled chain
	 * that holds the rule, so that a change compiles only the rules it
	 * adds. Made again when port names change if the rule names an
	 * interface; freed with the rule. Management thread only. */
	const struct pgt_rs_crule *crule;
};

/* A chain in the model. */
struct pgt_rs_chain {
	char name[PGT_RS_CHAIN_NAMESIZE];
	bool builtin;
	uint8_t policy;		/* PGT_RS_ACCEPT / PGT_RS_DROP (builtin) */
	uint32_t counter;	/* policy counter slot (builtin) */
	uint16_t slot;		/* index in the compiled table */
	bool dirty;		/* changed in this transaction */
	bool new_jumps;		/* a jump or goto added in this transaction */
	unsigned int nb_rules, cap;
	struct pgt_rs_rule **rules;
	/* Parallel to rules: each one's compiled form (NULL: to be made at
	 * commit, for a rule added or one whose ports were renamed) and
	 * counter slot. Copying, compiling and
	 * releasing a chain of 100,000 rules reads these arrays instead of
	 * 100,000 rules scattered in memory. */
	const struct pgt_rs_crule **crules;
	uint32_t *slots;
	/* Rules that need connection tracking (see rule_tracks()). */
	unsigned int nb_tracking;
	const struct pgt_rs_cchain *compiled;
};

#define PGT_RS_MAX_CHAINS 4096

/* A table in the model. */
struct pgt_rs_mtable {
	unsigned int nb_chains;		/* slots in use or free (NULL) */
	struct pgt_rs_chain *chains[PGT_RS_MAX_CHAINS];
};

/* Compiled forms (immutable, read by workers). */

struct pgt_rs_crule {
	uint32_t src, smsk, dst, dmsk;
	/* Bit per port id; bit 63: no interface (see iface_bitmap()). */
	uint64_t in_ports, out_ports;
	uint32_t counter;
	uint16_t jump;			/* chain slot */
	uint8_t proto, inv, frag, kind;
	uint8_t nb_matches;
	const struct pgt_target_ops *target;
	const void *tdata;
	const struct pgt_rs_minst *m[PGT_RS_MAX_MATCHES];
};

/* The candidate index of a long chain (pgt_ruleset_index.c). */
struct pgt_rs_index;

/* Chains shorter than this are walked rule by rule. */
#define PGT_RS_INDEX_MIN_RULES 32

/* A packet's candidates in one chain: up to four sorted lists of rule
 * numbers, looked up when the walk first passes the chain's lead. */
struct pgt_rs_cursor {
	bool looked_up;
	unsigned int n;
	const uint32_t *at[4], *end[4];
};

/*
 * The index of @p c, or NULL in @p out for a short chain. With @p prev,
 * the same chain's previous compiled form, and few rules inserted or
 * removed between them, it is derived from @p prev's index in one pass
 * instead of built anew.
 */
int pgt_rs_index_build(const struct pgt_rs_cchain *c,
	const struct pgt_rs_cchain *prev, const struct pgt_rs_index **out);
void pgt_rs_index_free(const struct pgt_rs_index *ix);
/* How many rules at the chain's start are candidates for every packet
 * (rules 0 to lead - 1 are all on the list of rules filed by no key). */
uint32_t pgt_rs_index_lead(const struct pgt_rs_index *ix);
void pgt_rs_index_lookup(const struct pgt_rs_index *ix, uint16_t dport,
	uint32_t dst, struct pgt_rs_cursor *cur);

struct pgt_rs_cchain {
	char name[PGT_RS_CHAIN_NAMESIZE];	/* for TRACE */
	bool builtin;
	uint8_t policy;
	uint32_t counter;
	uint32_t nb_rules;
	const struct pgt_rs_index *index;	/* NULL: walk every rule */
	/* Rules the walk takes in order before it needs the index: the
	 * usual "-m conntrack --ctstate ESTABLISHED -j ACCEPT" first rule
	 * matches most packets without a lookup. */
	uint32_t index_lead;
	/* When the first rule looks at the conntrack state alone and ends
	 * the walk (ACCEPT or DROP): a bit per enum pgt_ct_info it matches,
	 * without and with a connection (else 0), and its verdict. */
	uint8_t lead_state[2];
	uint8_t lead_verdict;		/* enum pgt_verdict */
	/* In rule order. Pointers, not the rules inline: a change copies
	 * this array and compiles only the rules it adds. */
	const struct pgt_rs_crule *rules[];
};

struct pgt_rs_ctable {
	uint32_t nb_chains;
	const struct pgt_rs_cchain *chains[];
};

struct pgt_ruleset {
	struct pgt_ruleset_flags flags;		/* first: see the header */
	const struct pgt_rs_ctable *tables[PGT_TABLE_MAX];
};

/* Model access for the parser and printers (pgt_ruleset.c). */

extern const char *const pgt_rs_table_names[PGT_TABLE_MAX];
extern const char *const pgt_rs_hook_names[PGT_HOOK_MAX];
/* Bit per hook: the built-in chains of each table. */
extern const uint8_t pgt_rs_table_hooks[PGT_TABLE_MAX];

/* The model being edited: the live one, or a transaction's copy. */
struct pgt_rs_model {
	struct pgt_rs_mtable *t[PGT_TABLE_MAX];
};

struct pgt_rs_model *pgt_rs_live(void);

/* A counter value to apply when a transaction commits (-c). */
struct pgt_rs_counter_set {
	uint32_t slot;
	uint64_t pkts, bytes;
};

/* A rule's compiled form replaced by a commit: the old one is freed once
 * no worker can see it, or put back if the commit fails. */
struct pgt_rs_crule_swap {
	struct pgt_rs_rule *rule;
	const struct pgt_rs_crule *old;
};

/* A transaction: copies of the tables it touches. */
struct pgt_rs_tx {
	struct pgt_rs_mtable *t[PGT_TABLE_MAX];	/* NULL: untouched */
	struct pgt_rs_counter_set *counters;
	unsigned int nb_counters, cap_counters;
	struct pgt_rs_crule_swap *swaps;
	unsigned int nb_swaps, cap_swaps;
};

void pgt_rs_tx_begin(struct pgt_rs_tx *tx);
struct pgt_rs_mtable *pgt_rs_tx_table(struct pgt_rs_tx *tx, int table);
int pgt_rs_tx_commit(struct pgt_rs_tx *tx, struct pgt_rs_err *err);
void pgt_rs_tx_abort(struct pgt_rs_tx *tx);
int pgt_rs_tx_set_counter(struct pgt_rs_tx *tx, uint32_t slot, uint64_t pkts,
	uint64_t bytes);

struct pgt_rs_chain *pgt_rs_chain_find(const struct pgt_rs_mtable *t,
	const char *name);
int pgt_rs_chain_new(struct pgt_rs_mtable *t, const char *name,
	struct pgt_rs_err *err);
int pgt_rs_chain_delete(struct pgt_rs_mtable *t, struct pgt_rs_chain *c,
	struct pgt_rs_err *err);
void pgt_rs_chain_flush(struct pgt_rs_chain *c);
int pgt_rs_chain_insert(struct pgt_rs_chain *c, unsigned int pos,
	struct pgt_rs_rule *r);
void pgt_rs_chain_remove(struct pgt_rs_chain *c, unsigned int pos);
/* Put rule @p r in place of rule @p pos, whose reference is dropped. */
void pgt_rs_chain_set(struct pgt_rs_chain *c, unsigned int pos,
	struct pgt_rs_rule *r);
/* References to chain @p name from rules of table @p t. */
unsigned int pgt_rs_chain_refs(const struct pgt_rs_mtable *t,
	const char *name);

struct pgt_rs_rule *pgt_rs_rule_new(struct pgt_rs_err *err);
void pgt_rs_rule_put(struct pgt_rs_rule *r);
bool pgt_rs_rule_equal(const struct pgt_rs_rule *a,
	const struct pgt_rs_rule *b);
void pgt_rs_counter_set(uint32_t slot, uint64_t pkts, uint64_t bytes);

const struct pgt_match_ops *pgt_rs_match_find(const char *name);
const struct pgt_target_ops *pgt_rs_target_find(const char *name);

/* Printers (pgt_ruleset_print.c). */
/* The chains of @p t named @p chain (NULL: all) as iptables orders them:
 * built-in first, then by name. @p out holds PGT_RS_MAX_CHAINS. */
unsigned int pgt_rs_sorted_chains(const struct pgt_rs_mtable *t,
	const char *chain, struct pgt_rs_chain **out);
void pgt_rs_print_rule(FILE *f, const char *chain,
	const struct pgt_rs_rule *r, bool counters);
void pgt_rs_list_rules(FILE *f, int table, const char *chain, bool counters);

/* iptables -L flags. */
#define PGT_RS_LIST_VERBOSE	0x1
#define PGT_RS_LIST_EXACT	0x2
#define PGT_RS_LIST_LINENUMBERS	0x4
void pgt_rs_list_chains(FILE *f, int table, const char *chain,
	unsigned int flags);

/* The JSON form (pgt_ruleset_json.c). */
json_t *pgt_rs_rule_json(const struct pgt_rs_rule *r);
json_t *pgt_rs_chains_json(int table, const char *chain);
/* Run "-t TABLE CMD CHAIN [POS] <rule>" with @p rule in the JSON form. */
int pgt_rs_rule_from_json(const char *table, const char *cmd,
	const char *chain, const char *pos, json_t *rule,
	struct pgt_rs_err *err);

/* Parser (pgt_ruleset_parse.c). */
const char *pgt_rs_proto_name(uint8_t proto);
int pgt_rs_tokenize(const char *line, char ***argv, int *argc,
	struct pgt_rs_err *err);
void pgt_rs_free_argv(char **argv, int argc);
int pgt_rs_exec(struct pgt_rs_tx *tx, int argc, char **argv, FILE *out,
	bool counters, struct pgt_rs_err *err);

#endif /* PGT_RULESET_PRIV_H */
