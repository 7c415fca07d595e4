/* SPDX-License-Identifier: BSD-3-Clause */
/* JSON-RPC methods for the ruleset, and its part of the configuration. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgt_rpc.h"
#include "pgt_ruleset_priv.h"
#include "pgt_ruleset_log.h"

/* Run @p fn with a memory stream; its text becomes *text (caller frees). */
static int
capture(char **text, size_t *len, FILE **f)
{
	*f = open_memstream(text, len);
	return *f == NULL ? -ENOMEM : 0;
}

static int
rs_error(struct pgt_rpc_err *err, int rc, const struct pgt_rs_err *e)
{
	return pgt_rpc_errorf(err, rc, "%s", e->msg[0] != '\0' ? e->msg :
		strerror(-rc));
}

/* iptables */

struct iptables_args {
	const char *command;
};

/*
 * Tokenize @p command as iptables-restore does and run it with @p run,
 * which writes any listing to a stream: it becomes {"output": text}.
 */
static int
run_words(const char *command,
	int (*run)(int argc, char **argv, FILE *out, struct pgt_rs_err *e),
	json_t **result, struct pgt_rpc_err *err)
{
	struct pgt_rs_err e = { .msg = "" };
	char **argv = NULL, *text = NULL;
	size_t len = 0;
	FILE *out;
	int argc = 0, rc;

	rc = pgt_rs_tokenize(command, &argv, &argc, &e);
	if (rc != 0)
		return rs_error(err, rc, &e);
	rc = capture(&text, &len, &out);
	if (rc != 0) {
		pgt_rs_free_argv(argv, argc);
		return rc;
	}
	rc = run(argc, argv, out, &e);
	fclose(out);
	pgt_rs_free_argv(argv, argc);
	if (rc != 0) {
		free(text);
		return rs_error(err, rc, &e);
	}
	*result = len > 0 ? json_pack("{s:s}", "output", text) : NULL;
	free(text);
	return 0;
}

static int
rpc_iptables(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	return run_words(((struct iptables_args *)argp)->command,
		pgt_ruleset_command, result, err);
}

static const struct pgt_rpc_param iptables_params[] = {
	PGT_RPC_PARAM(struct iptables_args, command, PGT_RPC_TEXT, true,
		"the arguments of one iptables command, e.g. \"-t filter -A FORWARD -p tcp --dport 22 -j DROP\" (quoted as iptables-restore quotes)"),
};

PGT_RPC_METHOD(iptables_method, "iptables",
	"Run one iptables command (-A -I -D -R -N -X -F -Z -P -E, or -S / -L -n to list); atomic: on error nothing changes",
	iptables_params, struct iptables_args, rpc_iptables);

/* ipset */

static int
rpc_ipset(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	return run_words(((struct iptables_args *)argp)->command,
		pgt_ruleset_ipset, result, err);
}

static const struct pgt_rpc_param ipset_params[] = {
	PGT_RPC_PARAM(struct iptables_args, command, PGT_RPC_TEXT, true,
		"one ipset command, e.g. \"add blocked 10.0.0.1\""),
};

PGT_RPC_METHOD(ipset_method, "ipset",
	"Run one ipset command (create, add, del, test, list, save, flush, destroy) on the named sets -m set matches",
	ipset_params, struct iptables_args, rpc_ipset);

/* ipset_list: ipset list as data, for pktgatectl -j and scripts. */

struct ipset_list_args {
	char name[PGT_RPC_STR_MAX];
	bool has_name;
	bool members;
	bool has_members;
};

static int
rpc_ipset_list(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct ipset_list_args *args = argp;

	*result = pgt_rs_sets_json(args->has_name ? args->name : NULL,
		!args->has_members || args->members);
	if (args->has_name && json_array_size(*result) == 0) {
		json_decref(*result);
		*result = NULL;
		return pgt_rpc_errorf(err, -ENOENT, "no set named '%s'",
			args->name);
	}
	return 0;
}

static const struct pgt_rpc_param ipset_list_params[] = {
	PGT_RPC_PARAM_OPT(struct ipset_list_args, name, PGT_RPC_STRING,
		"only this set"),
	PGT_RPC_PARAM_OPT(struct ipset_list_args, members, PGT_RPC_BOOL,
		"with the entries (default true; false: ipset list -t)"),
};

PGT_RPC_METHOD(ipset_list_method, "ipset_list",
	"The sets with type, size, references and entries, as data",
	ipset_list_params, struct ipset_list_args, rpc_ipset_list);

/* ipset_restore: the lines of `ipset save`, applied in order. */

static int
rpc_ipset_restore(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct iptables_args *args = argp;
	struct pgt_rs_err e = { .msg = "" };
	int rc, lineno;

	rc = pgt_rs_sets_lines(args->command, NULL, &lineno, &e);
	if (rc != 0)
		return pgt_rpc_errorf(err, rc, "line %d: %s", lineno, e.msg);
	*result = NULL;
	return 0;
}

static const struct pgt_rpc_param ipset_restore_params[] = {
	PGT_RPC_PARAM(struct iptables_args, command, PGT_RPC_TEXT, true,
		"ipset commands, one per line (the form of `ipset save`)"),
};

PGT_RPC_METHOD(ipset_restore_method, "ipset_restore",
	"Run ipset commands, one per line, stopping at the first error (which names its line)",
	ipset_restore_params, struct iptables_args, rpc_ipset_restore);

static void
sets_save(json_t *calls)
{
	char *text = NULL, *argv[] = { (char *)"save" };
	struct pgt_rs_err e;
	size_t len = 0;
	FILE *f;

	if (capture(&text, &len, &f) != 0)
		return;
	pgt_ruleset_ipset(1, argv, f, &e);
	fclose(f);
	if (len > 0)
		pgt_rpc_save_call(calls, "ipset_restore",
			json_pack("{s:s}", "command", text));
	free(text);
}

/* Before the ruleset (60), whose rules name sets. */
static const char *const sets_methods[] = { "ipset_restore", NULL };
static struct pgt_rpc_saver sets_saver = { .order = 55, .save = sets_save,
	.methods = sets_methods, .plan = pgt_rs_plan_sets };
PGT_RPC_REGISTER_SAVER(sets_saver);

/* iptables_restore */

struct restore_args {
	const char *text;
	bool noflush;
	bool has_noflush;
	bool counters;
	bool has_counters;
};

static int
rpc_restore(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct restore_args *args = argp;
	struct pgt_rs_err e = { .msg = "" };
	int rc;

	rc = pgt_ruleset_restore(args->text, args->noflush, args->counters,
		&e);
	if (rc != 0)
		return rs_error(err, rc, &e);
	*result = NULL;
	return 0;
}

static const struct pgt_rpc_param restore_params[] = {
	PGT_RPC_PARAM(struct restore_args, text, PGT_RPC_TEXT, true,
		"an iptables-save document"),
	PGT_RPC_PARAM_OPT(struct restore_args, noflush, PGT_RPC_BOOL,
		"edit the named tables instead of replacing them (--noflush)"),
	PGT_RPC_PARAM_OPT(struct restore_args, counters, PGT_RPC_BOOL,
		"apply the [packets:bytes] counters (-c)"),
};

PGT_RPC_METHOD(restore_method, "iptables_restore",
	"Apply an iptables-restore document: every table it names changes in one atomic step, or nothing changes",
	restore_params, struct restore_args, rpc_restore);

/* iptables_save */

struct save_args {
	char table[PGT_RPC_STR_MAX];
	bool has_table;
	bool counters;
	bool has_counters;
};

static int
rpc_save(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct save_args *args = argp;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int table = -1, rc;

	if (args->has_table) {
		table = pgt_ruleset_table_find(args->table);
		if (table < 0)
			return pgt_rpc_errorf(err, -ENOENT,
				"no table named '%s'", args->table);
	}
	rc = capture(&text, &len, &f);
	if (rc != 0)
		return rc;
	pgt_ruleset_save(table, args->counters, true, f);
	fclose(f);
	*result = json_pack("{s:s}", "text", text);
	free(text);
	return 0;
}

static const struct pgt_rpc_param save_params[] = {
	PGT_RPC_PARAM_OPT(struct save_args, table, PGT_RPC_STRING,
		"only this table (default: every table that is not empty)"),
	PGT_RPC_PARAM_OPT(struct save_args, counters, PGT_RPC_BOOL,
		"with [packets:bytes] counters (-c)"),
};

PGT_RPC_METHOD(save_method, "iptables_save",
	"The ruleset in iptables-save format",
	save_params, struct save_args, rpc_save);

static void
ruleset_save(json_t *calls)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (capture(&text, &len, &f) != 0)
		return;
	pgt_ruleset_save(-1, false, false, f);
	fclose(f);
	if (len > 0)
		pgt_rpc_save_call(calls, "iptables_restore",
			json_pack("{s:s}", "text", text));
	free(text);
}

/* After ports and addresses: rules name ports. */
static const char *const ruleset_methods[] = { "iptables_restore", NULL };
static struct pgt_rpc_saver ruleset_saver = {
	.order = 60, .save = ruleset_save, .methods = ruleset_methods,
	.plan = pgt_rs_plan_tables };
PGT_RPC_REGISTER_SAVER(ruleset_saver);

static int
rpc_ruleset_stats(void *args, json_t **result, struct pgt_rpc_err *err)
{
	uint64_t posted, overflow, written;

	pgt_ruleset_log_stats(&posted, &overflow, &written);
	*result = json_pack("{s:{s:I, s:I, s:I}, s:o, s:o}", "log",
		"posted", (json_int_t)posted, "ring_full", (json_int_t)overflow,
		"written", (json_int_t)written, "nflog", pgt_rs_nflog_stats(),
		"trace", pgt_rs_trace_stats());
	json_object_set_new(*result, "sets", pgt_rs_sets_json(NULL, false));
	return 0;
}

PGT_RPC_METHOD_NOARGS(ruleset_stats_method, "ruleset_stats",
	"Counters of the ruleset engine: LOG records posted by workers, lost to a full ring, and written; NFLOG records posted, lost to a full ring, and captured; TRACE events posted, lost to a full ring, and kept; each set's type, entries, maxelem and references",
	rpc_ruleset_stats);

/* The JSON form of rules (pgt_ruleset_json.c). */

struct rules_get_args {
	char table[PGT_RPC_STR_MAX];
	bool has_table;
	char chain[PGT_RPC_STR_MAX];
	bool has_chain;
};

static int
table_arg(const char *name, bool given, struct pgt_rpc_err *err)
{
	int t = given ? pgt_ruleset_table_find(name) : PGT_TABLE_FILTER;

	if (t < 0)
		return pgt_rpc_errorf(err, -ENOENT, "no table named '%s'", name);
	return t;
}

static int
rpc_rules_get(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct rules_get_args *args = argp;
	int t = table_arg(args->table, args->has_table, err);

	if (t < 0)
		return t;
	if (args->has_chain &&
			pgt_rs_chain_find(pgt_rs_live()->t[t], args->chain) == NULL)
		return pgt_rpc_errorf(err, -ENOENT,
			"no chain named '%s' in table %s", args->chain,
			pgt_rs_table_names[t]);
	*result = pgt_rs_chains_json(t, args->has_chain ? args->chain : NULL);
	return 0;
}

static const struct pgt_rpc_param rules_get_params[] = {
	PGT_RPC_PARAM_OPT(struct rules_get_args, table, PGT_RPC_STRING,
		"table (default filter)"),
	PGT_RPC_PARAM_OPT(struct rules_get_args, chain, PGT_RPC_STRING,
		"only this chain"),
};

PGT_RPC_METHOD(rules_get_method, "iptables_rules_get",
	"The chains of a table with their rules in the JSON form, policies and counters",
	rules_get_params, struct rules_get_args, rpc_rules_get);

struct rule_args {
	char table[PGT_RPC_STR_MAX];
	bool has_table;
	char chain[PGT_RPC_STR_MAX];
	uint32_t position;
	bool has_position;
	json_t *rule;
	bool has_rule;
};

static int
rule_call(struct rule_args *args, const char *cmd, bool need_rule,
	bool need_pos, struct pgt_rpc_err *err)
{
	struct pgt_rs_err e;
	char pos[16];
	int t, rc;

	t = table_arg(args->table, args->has_table, err);
	if (t < 0)
		return t;
	if (need_rule != args->has_rule)
		return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
			need_rule ? "parameter 'rule' is required" :
				"parameter 'rule' is not taken");
	if (need_pos && !args->has_position)
		return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
			"parameter 'position' is required");
	snprintf(pos, sizeof(pos), "%u", args->position);
	rc = pgt_rs_rule_from_json(pgt_rs_table_names[t],
		strcmp(cmd, "-A") == 0 && args->has_position ? "-I" : cmd,
		args->chain, args->has_position ? pos : NULL,
		args->has_rule ? args->rule : NULL, &e);
	return rc != 0 ? rs_error(err, rc, &e) : 0;
}

static int
rpc_rule_insert(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	*result = NULL;
	return rule_call(argp, "-A", true, false, err);
}

static int
rpc_rule_replace(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	*result = NULL;
	return rule_call(argp, "-R", true, true, err);
}

static int
rpc_rule_delete(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	*result = NULL;
	return rule_call(argp, "-D", false, true, err);
}

static const struct pgt_rpc_param rule_params[] = {
	PGT_RPC_PARAM_OPT(struct rule_args, table, PGT_RPC_STRING,
		"table (default filter)"),
	PGT_RPC_PARAM(struct rule_args, chain, PGT_RPC_STRING, true, "chain"),
	PGT_RPC_PARAM_U32(struct rule_args, position, 1, UINT32_MAX,
		"rule number, from 1 (insert: default is to append)"),
	PGT_RPC_PARAM_OPT(struct rule_args, rule, PGT_RPC_OBJECT,
		"the rule in the JSON form (see iptables_rules_get)"),
};

PGT_RPC_METHOD(rule_insert_method, "iptables_rule_insert",
	"Insert a rule given in the JSON form at a position, or append it",
	rule_params, struct rule_args, rpc_rule_insert);
PGT_RPC_METHOD(rule_replace_method, "iptables_rule_replace",
	"Replace rule number 'position' of a chain by a rule in the JSON form",
	rule_params, struct rule_args, rpc_rule_replace);
PGT_RPC_METHOD(rule_delete_method, "iptables_rule_delete",
	"Delete rule number 'position' of a chain",
	rule_params, struct rule_args, rpc_rule_delete);
