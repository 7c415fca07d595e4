/* SPDX-License-Identifier: BSD-3-Clause */
#include "pgt_rpc.h"
#include "pgt_test.h"

struct echo_args {
	char name[PGT_RPC_STR_MAX];
	uint32_t count;
	bool has_count;
	uint32_t addr;
	bool has_addr;
	struct pgt_prefix prefix;
	bool has_prefix;
	bool flag;
	bool has_flag;
};

static int
rpc_test_echo(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct echo_args *a = argp;

	if (strcmp(a->name, "fail") == 0)
		return pgt_rpc_errorf(err, -EEXIST, "'%s' exists", a->name);
	if (strcmp(a->name, "errno") == 0)
		return -ENOENT;
	*result = json_pack("{s:s, s:i, s:b, s:I, s:i, s:b}", "name", a->name,
		"count", a->has_count ? (int)a->count : -1,
		"has_addr", a->has_addr, "addr", (json_int_t)a->addr,
		"len", a->prefix.len, "flag", a->flag);
	return 0;
}

static const struct pgt_rpc_param echo_params[] = {
	PGT_RPC_PARAM(struct echo_args, name, PGT_RPC_STRING, true, "a name"),
	PGT_RPC_PARAM_U32(struct echo_args, count, 1, 10, "a count"),
	PGT_RPC_PARAM_OPT(struct echo_args, addr, PGT_RPC_IPV4, "an address"),
	PGT_RPC_PARAM_OPT(struct echo_args, prefix, PGT_RPC_PREFIX, "a prefix"),
	PGT_RPC_PARAM_OPT(struct echo_args, flag, PGT_RPC_BOOL, "a flag"),
};

PGT_RPC_METHOD(echo_method, "test_echo",
	"Echo the decoded parameters",
	echo_params, struct echo_args, rpc_test_echo);

/* Handle request text; return the response (caller decrefs) or NULL. */
static json_t *
handle(const char *text)
{
	json_t *req = json_loads(text, JSON_DECODE_ANY, NULL);
	json_t *resp;

	if (req == NULL)
		return NULL;
	resp = pgt_rpc_handle(req);
	json_decref(req);
	return resp;
}

static int
error_code(json_t *resp)
{
	return (int)json_integer_value(json_object_get(
		json_object_get(resp, "error"), "code"));
}

static const char *
error_msg(json_t *resp)
{
	return json_string_value(json_object_get(
		json_object_get(resp, "error"), "message"));
}

static void
check_error(const char *req, int code, const char *msg)
{
	json_t *resp = handle(req);

	CHECK(resp != NULL);
	if (resp == NULL)
		return;
	CHECK_EQ(error_code(resp), code);
	if (msg != NULL)
		CHECK_STR(error_msg(resp), msg);
	json_decref(resp);
}

static void
test_success(void)
{
	json_t *resp, *res;

	resp = handle("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"x\",\"count\":3,\"addr\":\"10.0.0.1\","
		"\"prefix\":\"10.0.0.0/8\",\"flag\":true}}");
	CHECK(resp != NULL);
	res = json_object_get(resp, "result");
	CHECK_EQ(json_integer_value(json_object_get(resp, "id")), 7);
	CHECK_STR(json_string_value(json_object_get(res, "name")), "x");
	CHECK_EQ(json_integer_value(json_object_get(res, "count")), 3);
	CHECK_EQ(json_integer_value(json_object_get(res, "addr")), 0x0a000001);
	CHECK_EQ(json_integer_value(json_object_get(res, "len")), 8);
	CHECK(json_is_true(json_object_get(res, "flag")));
	json_decref(resp);

	/* Optional parameters absent: presence flags stay false. */
	resp = handle("{\"jsonrpc\":\"2.0\",\"id\":\"s\",\"method\":\"test_echo\","
		"\"params\":{\"name\":\"y\"}}");
	res = json_object_get(resp, "result");
	CHECK_EQ(json_integer_value(json_object_get(res, "count")), -1);
	CHECK(json_is_false(json_object_get(res, "has_addr")));
	CHECK_STR(json_string_value(json_object_get(resp, "id")), "s");
	json_decref(resp);

	/* A notification runs but gets no response. */
	CHECK(handle("{\"jsonrpc\":\"2.0\",\"method\":\"test_echo\","
		"\"params\":{\"name\":\"n\"}}") == NULL);
}

static void
test_errors(void)
{
	check_error("[]", PGT_RPC_INVALID_REQUEST,
		"batch requests are not supported");
	check_error("\"x\"", PGT_RPC_INVALID_REQUEST, NULL);
	check_error("{\"id\":1,\"method\":\"test_echo\"}",
		PGT_RPC_INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\"");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1}", PGT_RPC_INVALID_REQUEST,
		"\"method\" must be a string");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"x\"}",
		PGT_RPC_INVALID_REQUEST, NULL);
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}",
		PGT_RPC_METHOD_NOT_FOUND, "method 'nope' not found");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\"}",
		PGT_RPC_INVALID_PARAMS, "missing required parameter 'name'");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":[\"x\"]}", PGT_RPC_INVALID_PARAMS,
		"params must be an object (named parameters)");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"x\",\"bogus\":1}}",
		PGT_RPC_INVALID_PARAMS, "unknown parameter 'bogus' for test_echo");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":5}}", PGT_RPC_INVALID_PARAMS,
		"parameter 'name' must be a string");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"x\",\"count\":11}}",
		PGT_RPC_INVALID_PARAMS,
		"parameter 'count': 11 is out of range 1..10");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"x\",\"addr\":\"10.0.0\"}}",
		PGT_RPC_INVALID_PARAMS,
		"parameter 'addr': '10.0.0' is not a valid ipv4 address");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"x\",\"prefix\":\"10.0.0.1/8\"}}",
		PGT_RPC_INVALID_PARAMS,
		"parameter 'prefix': '10.0.0.1/8' is not a valid ipv4 prefix (host bits must be zero)");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}",
		PGT_RPC_INVALID_PARAMS, NULL);
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"fail\"}}", -EEXIST, "'fail' exists");
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"test_echo\","
		"\"params\":{\"name\":\"errno\"}}", -ENOENT,
		"No such file or directory");
}

static void
test_get_methods(void)
{
	json_t *resp, *list, *m, *p;
	size_t i;
	bool found = false;

	resp = handle("{\"jsonrpc\":\"2.0\",\"id\":1,"
		"\"method\":\"rpc_get_methods\"}");
	list = json_object_get(resp, "result");
	CHECK(json_array_size(list) > 5);
	json_array_foreach(list, i, m) {
		CHECK(json_string_length(json_object_get(m, "description")) > 0);
		if (strcmp(json_string_value(json_object_get(m, "name")),
				"test_echo") != 0)
			continue;
		found = true;
		p = json_array_get(json_object_get(m, "params"), 1);
		CHECK_STR(json_string_value(json_object_get(p, "name")),
			"count");
		CHECK_EQ(json_integer_value(json_object_get(p, "max")), 10);
		CHECK(json_is_false(json_object_get(p, "required")));
	}
	CHECK(found);
	json_decref(resp);
	check_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"rpc_get_methods\","
		"\"params\":{\"method\":\"zzz\"}}", -ENOENT,
		"no method named 'zzz'");
}

int
main(void)
{
	test_success();
	test_errors();
	test_get_methods();
	return pgt_test_report("rpc");
}
