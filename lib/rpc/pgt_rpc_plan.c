/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reload plans: the calls that take the running state to a configuration
 * file's. Each saver plans its own methods, because only it knows which of
 * its calls name the same thing (a route by its prefix, a set by its name)
 * and how a running daemon changes one without a gap; this file walks the
 * savers in the order that keeps dependencies whole and holds the helpers
 * the simple modules share.
 */
#include <errno.h>
#include <string.h>

#include "pgt_rpc.h"
#include "pgt_rpc_priv.h"

static bool
owns(const struct pgt_rpc_saver *sv, const char *method)
{
	const char *const *m;

	for (m = sv->methods; m != NULL && *m != NULL; m++)
		if (strcmp(*m, method) == 0)
			return true;
	return false;
}

static const char *
method_of(const json_t *call)
{
	const char *m = json_string_value(json_object_get(call, "method"));

	return m != NULL ? m : "";
}

/* A call's params (borrowed): a call may leave them out. */
static json_t *
params_of(const json_t *call)
{
	static json_t *none;
	json_t *p = json_object_get(call, "params");

	if (p != NULL)
		return p;
	if (none == NULL)
		none = json_object();
	return none;
}

/* The calls of @p calls that saver @p sv plans, in their order. */
static json_t *
calls_of(const struct pgt_rpc_saver *sv, json_t *calls)
{
	json_t *mine = json_array(), *call;
	size_t i;

	json_array_foreach(calls, i, call)
		if (owns(sv, method_of(call)))
			json_array_append(mine, call);
	return mine;
}

static int
plan_saver(const struct pgt_rpc_saver *sv, json_t *running, json_t *wanted,
	enum pgt_rpc_phase phase, json_t *plan, struct pgt_rpc_err *err)
{
	json_t *r = calls_of(sv, running), *w = calls_of(sv, wanted);
	int rc;

	rc = sv->plan(r, w, phase, plan, err);
	json_decref(r);
	json_decref(w);
	return rc;
}

/* The savers that plan, in their order; returns how many. */
static unsigned int
planners(const struct pgt_rpc_saver **order, unsigned int max)
{
	const struct pgt_rpc_saver *sv;
	unsigned int n = 0;

	for (sv = pgt_rpc_savers(); sv != NULL && n < max; sv = sv->next)
		if (sv->plan != NULL)
			order[n++] = sv;
	return n;
}

bool
pgt_rpc_plannable(const char *method)
{
	const struct pgt_rpc_saver *order[64];
	unsigned int n = planners(order, RTE_DIM(order)), i;

	for (i = 0; i < n; i++)
		if (owns(order[i], method))
			return true;
	return false;
}

int
pgt_rpc_plan(json_t *running, json_t *wanted, json_t **plan,
	struct pgt_rpc_err *err)
{
	const struct pgt_rpc_saver *order[64];
	unsigned int n = planners(order, RTE_DIM(order)), i;
	int rc = 0;

	*plan = json_array();
	for (i = 0; i < n && rc == 0; i++)
		rc = plan_saver(order[i], running, wanted, PGT_RPC_PHASE_ADD,
			*plan, err);
	for (i = n; i > 0 && rc == 0; i--)
		rc = plan_saver(order[i - 1], running, wanted,
			PGT_RPC_PHASE_REMOVE, *plan, err);
	if (rc != 0) {
		json_decref(*plan);
		*plan = NULL;
	}
	return rc;
}

bool
pgt_rpc_params_within(const json_t *part, const json_t *whole)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)part, k, v)
		if (!json_equal(v, json_object_get(whole, k)))
			return false;
	return true;
}

/* Do @p a and @p b have the same key params? */
static bool
same_key(const struct pgt_rpc_items *it, const json_t *a, const json_t *b)
{
	const char *const *k;

	for (k = it->key; *k != NULL; k++)
		if (!json_equal(json_object_get(a, *k), json_object_get(b, *k)))
			return false;
	return true;
}

/* The call of @p calls (of @p it's add method) that names @p p, or NULL. */
static json_t *
find_item(const struct pgt_rpc_items *it, json_t *calls, const json_t *p,
	bool exact)
{
	json_t *call, *cp;
	size_t i;

	json_array_foreach(calls, i, call) {
		if (strcmp(method_of(call), it->add) != 0)
			continue;
		cp = json_object_get(call, "params");
		if (cp == NULL)
			continue;
		if (exact ? pgt_rpc_params_within(p, cp) :
				same_key(it, p, cp))
			return call;
	}
	return NULL;
}

/* The call deleting the item @p params names. */
static void
plan_delete(const struct pgt_rpc_items *it, json_t *params, json_t *plan)
{
	const char *const *k;
	json_t *p;

	if (it->del_params == NULL) {
		p = json_deep_copy(params);
	} else {
		p = json_object();
		for (k = it->del_params; *k != NULL; k++)
			if (json_object_get(params, *k) != NULL)
				json_object_set(p, *k,
					json_object_get(params, *k));
	}
	pgt_rpc_save_call(plan, it->del, p);
}

int
pgt_rpc_plan_items(const struct pgt_rpc_items *it, json_t *running,
	json_t *wanted, enum pgt_rpc_phase phase, json_t *plan,
	struct pgt_rpc_err *err)
{
	json_t *call, *p, *old, *np;
	const char *const *k;
	size_t i;

	if (phase == PGT_RPC_PHASE_REMOVE) {
		json_array_foreach(running, i, call)
			if (strcmp(method_of(call), it->add) == 0 &&
					find_item(it, wanted,
						params_of(call), false) == NULL)
				plan_delete(it, params_of(call), plan);
		return 0;
	}
	json_array_foreach(wanted, i, call) {
		if (strcmp(method_of(call), it->add) != 0)
			continue;
		p = json_object_get(call, "params");
		for (k = it->key; *k != NULL; k++)
			if (json_object_get(p, *k) == NULL)
				return pgt_rpc_errorf(err, -EINVAL,
					"%s without '%s'", it->add, *k);
		if (find_item(it, running, p, true) != NULL)
			continue;
		old = find_item(it, running, p, false);
		np = json_deep_copy(p);
		if (old != NULL && it->replace == PGT_RPC_REPLACE_BY_PARAM)
			json_object_set_new(np, "replace", json_true());
		else if (old != NULL && it->replace == PGT_RPC_REPLACE_BY_DELETE)
			plan_delete(it, params_of(old), plan);
		pgt_rpc_save_call(plan, it->add, np);
	}
	return 0;
}

/* @p base with the params of every call to @p method laid over it. */
static json_t *
overlay(const json_t *base, const char *method, json_t *calls)
{
	json_t *o = json_deep_copy(base), *call;
	size_t i;

	json_array_foreach(calls, i, call)
		if (strcmp(method_of(call), method) == 0)
			json_object_update(o, params_of(call));
	return o;
}

void
pgt_rpc_plan_setting(const char *method, json_t *defaults, json_t *running,
	json_t *wanted, enum pgt_rpc_phase phase, json_t *plan)
{
	json_t *now, *next;

	if (phase == PGT_RPC_PHASE_ADD) {
		now = overlay(defaults, method, running);
		next = overlay(defaults, method, wanted);
		if (!json_equal(now, next))
			pgt_rpc_save_call(plan, method, json_incref(next));
		json_decref(now);
		json_decref(next);
	}
	json_decref(defaults);
}
