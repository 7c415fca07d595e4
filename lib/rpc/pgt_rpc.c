/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_debug.h>

#include "pgt_log.h"
#include "pgt_rpc.h"
#include "pgt_rpc_priv.h"

PGT_LOG_REGISTER(rpc);

static struct pgt_rpc_method *methods;

void
pgt_rpc_register(struct pgt_rpc_method *m)
{
	struct pgt_rpc_method **pp;

	/* Keep the registry sorted so rpc_get_methods is stable to read. */
	for (pp = &methods; *pp != NULL; pp = &(*pp)->next) {
		if (strcmp((*pp)->name, m->name) == 0)
			rte_panic("RPC method %s registered twice\n", m->name);
		if (strcmp((*pp)->name, m->name) > 0)
			break;
	}
	m->next = *pp;
	*pp = m;
}

const struct pgt_rpc_method *
pgt_rpc_find(const char *name)
{
	const struct pgt_rpc_method *m;

	for (m = methods; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

int
pgt_rpc_errorf(struct pgt_rpc_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = errnum;
	return errnum;
}

static const char *
type_name(enum pgt_rpc_type t)
{
	switch (t) {
	case PGT_RPC_STRING: return "string";
	case PGT_RPC_TEXT: return "string";
	case PGT_RPC_OBJECT: return "object";
	case PGT_RPC_BOOL: return "boolean";
	case PGT_RPC_U32: return "integer";
	case PGT_RPC_IPV4: return "ipv4 address";
	case PGT_RPC_PREFIX: return "ipv4 prefix";
	case PGT_RPC_IFADDR: return "ipv4 address/length";
	case PGT_RPC_MAC: return "mac address";
	}
	return "?";
}

static int
decode_param(const struct pgt_rpc_param *p, json_t *v, void *args,
	struct pgt_rpc_err *err)
{
	char *dst = (char *)args + p->offset;
	const char *s = NULL;
	struct pgt_prefix *pfx;
	json_int_t i;

	if (p->type == PGT_RPC_OBJECT) {
		if (!json_is_object(v))
			goto bad_type;
		*(json_t **)dst = v;
		return 0;
	}
	if (p->type != PGT_RPC_BOOL && p->type != PGT_RPC_U32) {
		if (!json_is_string(v))
			goto bad_type;
		s = json_string_value(v);
	}
	switch (p->type) {
	case PGT_RPC_STRING:
		if (json_string_length(v) >= PGT_RPC_STR_MAX ||
				strlen(s) != json_string_length(v))
			return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
				"parameter '%s': string longer than %u bytes or with NUL",
				p->name, PGT_RPC_STR_MAX - 1);
		memcpy(dst, s, json_string_length(v) + 1);
		return 0;
	case PGT_RPC_TEXT:
		if (strlen(s) != json_string_length(v))
			return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
				"parameter '%s': string with NUL", p->name);
		*(const char **)dst = s;
		return 0;
	case PGT_RPC_BOOL:
		if (!json_is_boolean(v))
			goto bad_type;
		*(bool *)dst = json_is_true(v);
		return 0;
	case PGT_RPC_U32:
		if (!json_is_integer(v))
			goto bad_type;
		i = json_integer_value(v);
		if (i < (json_int_t)p->min || i > (json_int_t)p->max)
			return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
				"parameter '%s': %lld is out of range %u..%u",
				p->name, (long long)i, p->min, p->max);
		*(uint32_t *)dst = (uint32_t)i;
		return 0;
	case PGT_RPC_IPV4:
		if (pgt_inet_parse_addr(s, (uint32_t *)dst) < 0)
			goto bad_value;
		return 0;
	case PGT_RPC_PREFIX:
	case PGT_RPC_IFADDR:
		pfx = (struct pgt_prefix *)dst;
		if (pgt_inet_parse_prefix(s, p->type == PGT_RPC_IFADDR,
				&pfx->addr, &pfx->len) < 0)
			goto bad_value;
		return 0;
	case PGT_RPC_MAC:
		if (pgt_inet_parse_mac(s, (struct rte_ether_addr *)dst) < 0)
			goto bad_value;
		return 0;
	case PGT_RPC_OBJECT:
		break;		/* decoded above */
	}
bad_type:
	return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
		"parameter '%s' must be a %s", p->name, type_name(p->type));
bad_value:
	return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
		"parameter '%s': '%s' is not a valid %s%s", p->name, s,
		type_name(p->type),
		p->type == PGT_RPC_PREFIX ? " (host bits must be zero)" : "");
}

static int
decode_params(const struct pgt_rpc_method *m, json_t *params, void *args,
	struct pgt_rpc_err *err)
{
	const struct pgt_rpc_param *p;
	const char *key;
	json_t *v;
	unsigned int i;
	int rc;

	if (params != NULL && !json_is_object(params))
		return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
			"params must be an object (named parameters)");
	if (params != NULL) {
		json_object_foreach(params, key, v) {
			for (i = 0; i < m->nb_params; i++)
				if (strcmp(m->params[i].name, key) == 0)
					break;
			if (i == m->nb_params)
				return pgt_rpc_errorf(err, PGT_RPC_INVALID_PARAMS,
					"unknown parameter '%s' for %s", key,
					m->name);
		}
	}
	for (i = 0; i < m->nb_params; i++) {
		p = &m->params[i];
		v = params != NULL ? json_object_get(params, p->name) : NULL;
		if (v == NULL) {
			if (p->required)
				return pgt_rpc_errorf(err,
					PGT_RPC_INVALID_PARAMS,
					"missing required parameter '%s'",
					p->name);
			continue;
		}
		rc = decode_param(p, v, args, err);
		if (rc != 0)
			return rc;
		if (p->has_offset >= 0)
			*(bool *)((char *)args + p->has_offset) = true;
	}
	return 0;
}

int
pgt_rpc_call(const char *method, json_t *params, json_t **result,
	struct pgt_rpc_err *err)
{
	const struct pgt_rpc_method *m;
	uint64_t args_buf[512];	/* args structs are small; checked below */
	int rc;

	*result = NULL;
	err->code = 0;
	err->msg[0] = '\0';
	m = pgt_rpc_find(method);
	if (m == NULL)
		return pgt_rpc_errorf(err, PGT_RPC_METHOD_NOT_FOUND,
			"method '%s' not found", method);
	if (m->args_size > sizeof(args_buf))
		return pgt_rpc_errorf(err, PGT_RPC_INTERNAL_ERROR,
			"method '%s' has oversized arguments", method);
	memset(args_buf, 0, m->args_size);
	rc = decode_params(m, params, args_buf, err);
	if (rc != 0)
		return rc;
	rc = m->handler(args_buf, result, err);
	if (rc == 0)
		return 0;
	/* Handlers return a negative errno, or invalid params for checks
	 * that span several parameters. */
	if (rc > 0 || (rc < -4095 && rc != PGT_RPC_INVALID_PARAMS))
		rc = PGT_RPC_INTERNAL_ERROR;
	if (err->msg[0] == '\0')
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(-rc));
	err->code = rc;
	if (*result != NULL) {
		json_decref(*result);
		*result = NULL;
	}
	return rc;
}

static json_t *
error_response(json_t *id, int code, const char *msg)
{
	return json_pack("{s:s, s:{s:i, s:s}, s:O}", "jsonrpc", "2.0",
		"error", "code", code, "message", msg,
		"id", id != NULL ? id : json_null());
}

json_t *
pgt_rpc_handle(json_t *req)
{
	struct pgt_rpc_err err;
	json_t *id, *jm, *params, *version, *result, *resp;
	int rc;

	if (json_is_array(req))
		return error_response(NULL, PGT_RPC_INVALID_REQUEST,
			"batch requests are not supported");
	if (!json_is_object(req))
		return error_response(NULL, PGT_RPC_INVALID_REQUEST,
			"request must be an object");
	id = json_object_get(req, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id) &&
			!json_is_null(id))
		return error_response(NULL, PGT_RPC_INVALID_REQUEST,
			"id must be a string, an integer or null");
	version = json_object_get(req, "jsonrpc");
	if (!json_is_string(version) ||
			strcmp(json_string_value(version), "2.0") != 0)
		return error_response(id, PGT_RPC_INVALID_REQUEST,
			"\"jsonrpc\" must be \"2.0\"");
	jm = json_object_get(req, "method");
	if (!json_is_string(jm))
		return error_response(id, PGT_RPC_INVALID_REQUEST,
			"\"method\" must be a string");
	params = json_object_get(req, "params");
	if (params != NULL && json_is_null(params))
		params = NULL;

	rc = pgt_rpc_call(json_string_value(jm), params, &result, &err);
	if (id == NULL) {
		/* A notification: the call ran, nobody wants an answer. */
		json_decref(result);
		return NULL;
	}
	if (rc != 0)
		return error_response(id, rc, err.msg);
	resp = json_pack("{s:s, s:o, s:O}", "jsonrpc", "2.0",
		"result", result != NULL ? result : json_true(), "id", id);
	return resp;
}

static struct pgt_rpc_saver *savers;

void
pgt_rpc_register_saver(struct pgt_rpc_saver *sv)
{
	struct pgt_rpc_saver **pp;

	for (pp = &savers; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->order > sv->order)
			break;
	sv->next = *pp;
	*pp = sv;
}

const struct pgt_rpc_saver *
pgt_rpc_savers(void)
{
	return savers;
}

json_t *
pgt_rpc_save_calls(void)
{
	const struct pgt_rpc_saver *sv;
	json_t *calls = json_array();

	for (sv = savers; sv != NULL; sv = sv->next)
		sv->save(calls);
	return calls;
}

void
pgt_rpc_save_call(json_t *calls, const char *method, json_t *params)
{
	json_array_append_new(calls, json_pack("{s:s, s:o}", "method", method,
		"params", params));
}

/* rpc_get_methods: the registry, with each method's parameter schema. */

struct get_methods_args {
	char method[PGT_RPC_STR_MAX];
	bool has_method;
};

static json_t *
method_schema(const struct pgt_rpc_method *m)
{
	json_t *params = json_array();
	const struct pgt_rpc_param *p;
	json_t *jp;
	unsigned int i;

	for (i = 0; i < m->nb_params; i++) {
		p = &m->params[i];
		jp = json_pack("{s:s, s:s, s:b, s:s}", "name", p->name,
			"type", type_name(p->type), "required", p->required,
			"description", p->desc);
		if (p->type == PGT_RPC_U32) {
			json_object_set_new(jp, "min", json_integer(p->min));
			json_object_set_new(jp, "max", json_integer(p->max));
		}
		json_array_append_new(params, jp);
	}
	return json_pack("{s:s, s:s, s:o}", "name", m->name,
		"description", m->desc, "params", params);
}

static int
rpc_get_methods(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct get_methods_args *args = argp;
	const struct pgt_rpc_method *m;

	if (args->has_method) {
		m = pgt_rpc_find(args->method);
		if (m == NULL)
			return pgt_rpc_errorf(err, -ENOENT,
				"no method named '%s'", args->method);
		*result = json_pack("[o]", method_schema(m));
		return 0;
	}
	*result = json_array();
	for (m = methods; m != NULL; m = m->next)
		json_array_append_new(*result, method_schema(m));
	return 0;
}

static const struct pgt_rpc_param get_methods_params[] = {
	PGT_RPC_PARAM_OPT(struct get_methods_args, method, PGT_RPC_STRING,
		"describe only this method"),
};

PGT_RPC_METHOD(get_methods_method, "rpc_get_methods",
	"List the methods with their descriptions and parameters",
	get_methods_params, struct get_methods_args, rpc_get_methods);
