/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reload planners of the ruleset and the sets: what a configuration file
 * changes, as the fewest calls that change it. A table is replaced only
 * when its text differs (so the counters of the others run on); a set is
 * edited entry by entry (so rules matching it never see it empty).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgt_ruleset_priv.h"

static const char *
text_of(const json_t *call, const char *param)
{
	return json_string_value(json_object_get(json_object_get(call,
		"params"), param));
}

/* Append to @p tables (name -> text) the table blocks of @p text. */
static int
table_blocks(const char *text, json_t *tables, struct pgt_rpc_err *err)
{
	const char *p = text, *nl;
	char *block = NULL, *line, name[32] = "";
	size_t len, blen = 0;
	FILE *f = NULL;
	json_t *prev;
	int lineno = 0;

	for (; *p != '\0'; p = nl != NULL ? nl + 1 : p + strlen(p)) {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' ||
				p[len - 1] == '\r'))
			len--;
		lineno++;
		if (len == 0 || p[0] == '#')
			continue;
		line = strndup(p, len);
		if (line == NULL)
			goto nomem;
		if (f == NULL && line[0] != '*') {
			pgt_rpc_errorf(err, -EINVAL,
				"iptables_restore line %d: '%s' outside a table (no *table line)",
				lineno, line);
			free(line);
			return -EINVAL;
		}
		if (f == NULL) {
			f = open_memstream(&block, &blen);
			if (f == NULL) {
				free(line);
				goto nomem;
			}
			snprintf(name, sizeof(name), "%s", line + 1);
		}
		fprintf(f, "%s\n", line);
		if (strcmp(line, "COMMIT") == 0) {
			fclose(f);
			f = NULL;
			/* A table named twice: both blocks, in order. */
			prev = json_object_get(tables, name);
			if (prev != NULL) {
				char *both;

				if (asprintf(&both, "%s%s",
						json_string_value(prev),
						block) < 0) {
					free(line);
					free(block);
					goto nomem;
				}
				free(block);
				block = both;
			}
			json_object_set_new(tables, name, json_string(block));
			free(block);
			block = NULL;
		}
		free(line);
	}
	if (f != NULL) {
		fclose(f);
		free(block);
		return pgt_rpc_errorf(err, -EINVAL,
			"iptables_restore: table %s has no COMMIT", name);
	}
	return 0;
nomem:
	if (f != NULL)
		fclose(f);
	free(block);
	return -ENOMEM;
}

/* A table back to what a fresh start has: its built-in chains, accepting. */
static void
table_reset(FILE *f, const char *name, const char *running)
{
	const char *p;
	char chain[64], policy[16];

	fprintf(f, "*%s\n", name);
	for (p = running; p != NULL && *p != '\0'; p = strchr(p, '\n'),
			p = p != NULL ? p + 1 : NULL)
		if (p[0] == ':' && sscanf(p + 1, "%63s %15s", chain,
				policy) == 2 && strcmp(policy, "-") != 0)
			fprintf(f, ":%s ACCEPT [0:0]\n", chain);
	fputs("COMMIT\n", f);
}

int
pgt_rs_plan_tables(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	json_t *now = json_object(), *next = json_object(), *call, *v;
	bool counters = false;
	const char *name;
	char *text = NULL;
	size_t i, len = 0;
	FILE *f = NULL;
	int rc = 0;

	if (phase != PGT_RPC_PHASE_ADD)
		goto out;
	json_array_foreach(running, i, call)
		if (rc == 0)
			rc = table_blocks(text_of(call, "text"), now, err);
	json_array_foreach(wanted, i, call) {
		if (json_is_true(json_object_get(json_object_get(call,
				"params"), "noflush")) && rc == 0)
			rc = pgt_rpc_errorf(err, -EINVAL,
				"iptables_restore with noflush edits tables: what it leaves depends on what ran before, so a reload cannot tell (give whole tables)");
		if (json_is_true(json_object_get(json_object_get(call,
				"params"), "counters")))
			counters = true;
		if (rc == 0 && text_of(call, "text") == NULL)
			rc = pgt_rpc_errorf(err, -EINVAL,
				"iptables_restore without 'text'");
		if (rc == 0)
			rc = table_blocks(text_of(call, "text"), next, err);
	}
	if (rc != 0)
		goto out;
	f = open_memstream(&text, &len);
	if (f == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	json_object_foreach(next, name, v)
		if (!json_equal(v, json_object_get(now, name)))
			fputs(json_string_value(v), f);
	json_object_foreach(now, name, v)
		if (json_object_get(next, name) == NULL)
			table_reset(f, name, json_string_value(v));
	fclose(f);
	if (len > 0) {
		call = json_pack("{s:s}", "text", text);
		if (counters)
			json_object_set_new(call, "counters", json_true());
		pgt_rpc_save_call(plan, "iptables_restore", call);
	}
	free(text);
out:
	json_decref(now);
	json_decref(next);
	return rc;
}

/* The sets of @p calls' documents, as pgt_rs_sets_lines() reads them. */
static int
sets_of(json_t *calls, json_t *model, struct pgt_rpc_err *err)
{
	struct pgt_rs_err e = { .msg = "" };
	json_t *call;
	int rc, lineno;
	size_t i;

	json_array_foreach(calls, i, call) {
		if (text_of(call, "command") == NULL)
			return pgt_rpc_errorf(err, -EINVAL,
				"ipset_restore without 'command'");
		rc = pgt_rs_sets_lines(text_of(call, "command"), model,
			&lineno, &e);
		if (rc != 0)
			return pgt_rpc_errorf(err, rc,
				"ipset_restore line %d: %s", lineno, e.msg);
	}
	return 0;
}

static void
set_fill(FILE *f, const char *name, json_t *set)
{
	const char *entry;
	json_t *v;

	fprintf(f, "create %s %s maxelem %lld\n", name,
		json_string_value(json_object_get(set, "type")),
		(long long)json_integer_value(json_object_get(set, "maxelem")));
	json_object_foreach(json_object_get(set, "entries"), entry, v)
		fprintf(f, "add %s %s\n", name, entry);
}

/* Entries out first: an entry respelled (10.0.0.0/24 for 10.0.0.0/24) is
 * deleted and added back, never refused as already there. */
static void
set_edit(FILE *f, const char *name, json_t *from, json_t *to)
{
	json_t *fe = json_object_get(from, "entries"),
		*te = json_object_get(to, "entries"), *v;
	const char *entry;

	json_object_foreach(fe, entry, v)
		if (json_object_get(te, entry) == NULL)
			fprintf(f, "del %s %s\n", name, entry);
	json_object_foreach(te, entry, v)
		if (json_object_get(fe, entry) == NULL)
			fprintf(f, "add %s %s\n", name, entry);
}

int
pgt_rs_plan_sets(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	json_t *now = json_object(), *next = json_object(), *v, *old;
	const char *name;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	rc = sets_of(running, now, err);
	if (rc == 0)
		rc = sets_of(wanted, next, err);
	if (rc != 0)
		goto out;
	f = open_memstream(&text, &len);
	if (f == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/*
	 * New sets and new entries before the ruleset that uses them; sets
	 * destroyed after it stopped naming them. A set of another type or
	 * size is made anew: before the ruleset if no rule holds it now,
	 * else after (refused if the new rules hold it too: sets are not
	 * swapped under the rules).
	 */
	json_object_foreach(next, name, v) {
		old = json_object_get(now, name);
		if (old == NULL && phase == PGT_RPC_PHASE_ADD) {
			set_fill(f, name, v);
		} else if (old != NULL && (!json_equal(json_object_get(old,
				"type"), json_object_get(v, "type")) ||
				!json_equal(json_object_get(old, "maxelem"),
					json_object_get(v, "maxelem")))) {
			if ((phase == PGT_RPC_PHASE_REMOVE) ==
					pgt_rs_set_in_use(name)) {
				fprintf(f, "destroy %s\n", name);
				set_fill(f, name, v);
			}
		} else if (old != NULL && phase == PGT_RPC_PHASE_ADD) {
			set_edit(f, name, old, v);
		}
	}
	if (phase == PGT_RPC_PHASE_REMOVE)
		json_object_foreach(now, name, v)
			if (json_object_get(next, name) == NULL)
				fprintf(f, "destroy %s\n", name);
	fclose(f);
	if (len > 0)
		pgt_rpc_save_call(plan, "ipset_restore", json_pack("{s:s}",
			"command", text));
	free(text);
out:
	json_decref(now);
	json_decref(next);
	return rc;
}
