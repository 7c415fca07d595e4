/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON form of rules, for programs: the built-in matches as named
 * fields, extensions and targets as their name and option words. It maps
 * one to one onto the iptables form, so a rule read in one form and written
 * in the other is the same rule:
 *
 *   {"source": "10.0.0.0/8", "source_invert": true, "protocol": "tcp",
 *    "matches": [{"name": "tcp", "options": ["--dport", "22"]}],
 *    "target": {"name": "REJECT", "options": ["--reject-with", "tcp-reset"]}}
 *
 * Fields: source, destination, in, out, protocol (each with an optional
 * <field>_invert), fragment (true: -f, false: ! -f), matches, and target
 * ({"name", "options"} or {"goto": CHAIN}). A rule without a target counts
 * only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pgt_inet.h"
#include "pgt_rpc.h"
#include "pgt_ruleset_priv.h"

/* Words of what @p print writes for @p data, as a JSON array. */
static json_t *
option_words(void (*print)(const void *, FILE *), const void *data)
{
	json_t *a = json_array();
	struct pgt_rs_err err;
	char *text = NULL, **argv = NULL;
	size_t len = 0;
	int argc = 0, i;
	FILE *f;

	if (print == NULL)
		return a;
	f = open_memstream(&text, &len);
	if (f == NULL)
		return a;
	print(data, f);
	fclose(f);
	if (pgt_rs_tokenize(text, &argv, &argc, &err) == 0) {
		for (i = 0; i < argc; i++)
			json_array_append_new(a, json_string(argv[i]));
		pgt_rs_free_argv(argv, argc);
	}
	free(text);
	return a;
}

static void
set_addr(json_t *o, const char *key, uint32_t addr, uint32_t mask, bool inv)
{
	char a[PGT_INET_ADDRSTRLEN], m[PGT_INET_ADDRSTRLEN], buf[40], k[32];
	unsigned int len = (unsigned int)__builtin_popcount(mask);

	if (mask == 0 && !inv)
		return;
	pgt_inet_format_addr(addr, a, sizeof(a));
	if (pgt_inet_mask((uint8_t)len) == mask)
		snprintf(buf, sizeof(buf), "%s/%u", a, len);
	else
		snprintf(buf, sizeof(buf), "%s/%s", a,
			pgt_inet_format_addr(mask, m, sizeof(m)));
	json_object_set_new(o, key, json_string(buf));
	if (inv) {
		snprintf(k, sizeof(k), "%s_invert", key);
		json_object_set_new(o, k, json_true());
	}
}

json_t *
pgt_rs_rule_json(const struct pgt_rs_rule *r)
{
	json_t *o = json_object(), *ms = json_array(), *t;
	const char *pname;
	uint64_t p, b;
	unsigned int i;

	set_addr(o, "source", r->src, r->smsk, r->inv & PGT_RS_INV_SRC);
	set_addr(o, "destination", r->dst, r->dmsk, r->inv & PGT_RS_INV_DST);
	if (r->in[0] != '\0') {
		json_object_set_new(o, "in", json_string(r->in));
		if (r->inv & PGT_RS_INV_IN)
			json_object_set_new(o, "in_invert", json_true());
	}
	if (r->out[0] != '\0') {
		json_object_set_new(o, "out", json_string(r->out));
		if (r->inv & PGT_RS_INV_OUT)
			json_object_set_new(o, "out_invert", json_true());
	}
	if (r->proto != 0) {
		pname = pgt_rs_proto_name(r->proto);
		json_object_set_new(o, "protocol", pname != NULL ?
			json_string(pname) : json_integer(r->proto));
		if (r->inv & PGT_RS_INV_PROTO)
			json_object_set_new(o, "protocol_invert", json_true());
	}
	if (r->frag != PGT_RS_FRAG_ANY)
		json_object_set_new(o, "fragment",
			json_boolean(r->frag == PGT_RS_FRAG_ONLY));
	for (i = 0; i < r->nb_matches; i++)
		json_array_append_new(ms, json_pack("{s:s, s:o}", "name",
			r->m[i]->ops->name,
			"options", option_words(r->m[i]->ops->print,
				r->m[i]->data)));
	json_object_set_new(o, "matches", ms);
	switch (r->kind) {
	case PGT_RS_ACCEPT:
	case PGT_RS_DROP:
	case PGT_RS_RETURN:
		t = json_pack("{s:s, s:[]}", "name", r->kind == PGT_RS_ACCEPT ?
			"ACCEPT" : r->kind == PGT_RS_DROP ? "DROP" : "RETURN",
			"options");
		break;
	case PGT_RS_JUMP:
		t = json_pack("{s:s, s:[]}", "name", r->jump, "options");
		break;
	case PGT_RS_GOTO:
		t = json_pack("{s:s}", "goto", r->jump);
		break;
	case PGT_RS_TARGET:
		t = json_pack("{s:s, s:o}", "name", r->target->name, "options",
			option_words(r->target->print, r->tdata));
		break;
	default:
		t = NULL;
		break;
	}
	if (t != NULL)
		json_object_set_new(o, "target", t);
	pgt_ruleset_counter_read(r->counter, &p, &b);
	json_object_set_new(o, "packets", json_integer((json_int_t)p));
	json_object_set_new(o, "bytes", json_integer((json_int_t)b));
	return o;
}

/* Growing argv for the iptables form. */
struct words {
	char **v;
	int n, cap;
};

static int
push(struct words *w, const char *s)
{
	char **n;

	if (w->n + 1 >= w->cap) {
		n = realloc(w->v, sizeof(*n) * (size_t)(w->cap == 0 ? 32 :
			w->cap * 2));
		if (n == NULL)
			return -ENOMEM;
		w->v = n;
		w->cap = w->cap == 0 ? 32 : w->cap * 2;
	}
	w->v[w->n] = strdup(s);
	if (w->v[w->n] == NULL)
		return -ENOMEM;
	w->n++;
	w->v[w->n] = NULL;
	return 0;
}

static int
push_field(struct words *w, json_t *rule, const char *key, const char *opt,
	struct pgt_rs_err *err)
{
	json_t *v = json_object_get(rule, key), *inv;
	char k[32], num[8];
	int rc;

	if (v == NULL)
		return 0;
	snprintf(k, sizeof(k), "%s_invert", key);
	inv = json_object_get(rule, k);
	if (inv != NULL && !json_is_boolean(inv))
		return pgt_rs_errorf(err, "'%s' must be true or false", k);
	if (json_is_true(inv) && (rc = push(w, "!")) != 0)
		return rc;
	if ((rc = push(w, opt)) != 0)
		return rc;
	if (json_is_integer(v) && strcmp(key, "protocol") == 0) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			json_integer_value(v));
		return push(w, num);
	}
	if (!json_is_string(v))
		return pgt_rs_errorf(err, "'%s' must be a string", key);
	return push(w, json_string_value(v));
}

static int
push_options(struct words *w, json_t *o, const char *where,
	struct pgt_rs_err *err)
{
	json_t *opts = json_object_get(o, "options"), *v;
	size_t i;
	int rc;

	if (opts == NULL)
		return 0;
	if (!json_is_array(opts))
		return pgt_rs_errorf(err, "%s: 'options' must be an array of strings",
			where);
	json_array_foreach(opts, i, v) {
		if (!json_is_string(v))
			return pgt_rs_errorf(err,
				"%s: 'options' must be an array of strings", where);
		if ((rc = push(w, json_string_value(v))) != 0)
			return rc;
	}
	return 0;
}

static const char *const known_keys[] = {
	"source", "source_invert", "destination", "destination_invert", "in",
	"in_invert", "out", "out_invert", "protocol", "protocol_invert",
	"fragment", "matches", "target", "packets", "bytes", NULL,
};

/* The iptables words of a JSON rule, appended to @p w. */
static int
rule_words(struct words *w, json_t *rule, struct pgt_rs_err *err)
{
	const char *key, *const *k;
	json_t *v, *m, *t;
	size_t i;
	int rc;

	json_object_foreach(rule, key, v) {
		for (k = known_keys; *k != NULL; k++)
			if (strcmp(*k, key) == 0)
				break;
		if (*k == NULL)
			return pgt_rs_errorf(err, "rule: unknown field '%s'", key);
	}
	if ((rc = push_field(w, rule, "source", "-s", err)) != 0 ||
			(rc = push_field(w, rule, "destination", "-d", err)) != 0 ||
			(rc = push_field(w, rule, "in", "-i", err)) != 0 ||
			(rc = push_field(w, rule, "out", "-o", err)) != 0 ||
			(rc = push_field(w, rule, "protocol", "-p", err)) != 0)
		return rc;
	v = json_object_get(rule, "fragment");
	if (v != NULL) {
		if (!json_is_boolean(v))
			return pgt_rs_errorf(err, "'fragment' must be true or false");
		if (json_is_false(v) && (rc = push(w, "!")) != 0)
			return rc;
		if ((rc = push(w, "-f")) != 0)
			return rc;
	}
	v = json_object_get(rule, "matches");
	if (v != NULL && !json_is_array(v))
		return pgt_rs_errorf(err, "'matches' must be an array");
	json_array_foreach(v, i, m) {
		if (!json_is_string(json_object_get(m, "name")))
			return pgt_rs_errorf(err, "matches[%zu]: 'name' missing", i);
		if ((rc = push(w, "-m")) != 0 ||
				(rc = push(w, json_string_value(
					json_object_get(m, "name")))) != 0 ||
				(rc = push_options(w, m, "match", err)) != 0)
			return rc;
	}
	t = json_object_get(rule, "target");
	if (t == NULL)
		return 0;
	if (json_is_string(json_object_get(t, "goto")))
		return push(w, "-g") ? -ENOMEM :
			push(w, json_string_value(json_object_get(t, "goto")));
	if (!json_is_string(json_object_get(t, "name")))
		return pgt_rs_errorf(err, "target: 'name' or 'goto' missing");
	if ((rc = push(w, "-j")) != 0 ||
			(rc = push(w, json_string_value(json_object_get(t,
				"name")))) != 0)
		return rc;
	return push_options(w, t, "target", err);
}

int
pgt_rs_rule_from_json(const char *table, const char *cmd, const char *chain,
	const char *pos, json_t *rule, struct pgt_rs_err *err)
{
	struct words w = { 0 };
	int rc;

	err->msg[0] = '\0';
	rc = push(&w, "-t");
	if (rc == 0)
		rc = push(&w, table);
	if (rc == 0)
		rc = push(&w, cmd);
	if (rc == 0)
		rc = push(&w, chain);
	if (rc == 0 && pos != NULL)
		rc = push(&w, pos);
	if (rc == 0 && rule != NULL)
		rc = rule_words(&w, rule, err);
	if (rc == 0)
		rc = pgt_ruleset_command(w.n, w.v, NULL, err);
	pgt_rs_free_argv(w.v, w.n);
	return rc;
}

json_t *
pgt_rs_chains_json(int table, const char *chain)
{
	static struct pgt_rs_chain *list[PGT_RS_MAX_CHAINS];
	const struct pgt_rs_mtable *t = pgt_rs_live()->t[table];
	json_t *out = json_array(), *rules, *c;
	unsigned int i, j, n;
	uint64_t p, b;

	n = pgt_rs_sorted_chains(t, chain, list);
	for (i = 0; i < n; i++) {
		rules = json_array();
		for (j = 0; j < list[i]->nb_rules; j++)
			json_array_append_new(rules,
				pgt_rs_rule_json(list[i]->rules[j]));
		c = json_pack("{s:s, s:o}", "name", list[i]->name, "rules",
			rules);
		if (list[i]->builtin) {
			pgt_ruleset_counter_read(list[i]->counter, &p, &b);
			json_object_set_new(c, "policy", json_string(
				list[i]->policy == PGT_RS_ACCEPT ? "ACCEPT" :
				"DROP"));
			json_object_set_new(c, "packets",
				json_integer((json_int_t)p));
			json_object_set_new(c, "bytes",
				json_integer((json_int_t)b));
		}
		json_array_append_new(out, c);
	}
	return out;
}
