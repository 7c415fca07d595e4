/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK telemetry commands under /pktgate/.
 *
 * DPDK calls a command's callback on its telemetry thread, but the state
 * the answers read (port names, services, the RPC methods themselves)
 * belongs to the management thread. So a callback only posts its request
 * and waits; the management loop runs it and signals. One request at a time
 * (telemetry clients are people and scripts, not data paths); a request the
 * management thread does not take within REQUEST_TIMEOUT_MS gets null.
 *
 * Telemetry in DPDK 22.11 carries dicts and arrays of integers and strings,
 * one level of nesting, no floating point: results are flattened into
 * "object_key" names, rates are rounded, and lists are separate commands.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <rte_common.h>
#include <rte_telemetry.h>

#include "pgt_log.h"
#include "pgt_metrics.h"
#include "pgt_metrics_priv.h"
#include "pgt_rpc.h"

#define REQUEST_TIMEOUT_MS 2000

typedef int (*tel_handler_t)(const char *params, struct rte_tel_data *d);

static pthread_mutex_t req_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t req_cond = PTHREAD_COND_INITIALIZER;
static struct {
	bool pending;		/* posted, not yet answered */
	bool answered;
	tel_handler_t handler;
	const char *params;
	struct rte_tel_data *d;
	int rc;
} req;
static bool serving;

/*
 * Add the scalars of @p o to dict @p d, nested objects as "key_subkey".
 * Arrays are left out (22.11 cannot nest them in a dict entry).
 */
static void
flatten(struct rte_tel_data *d, const char *prefix, const json_t *o)
{
	char name[RTE_TEL_MAX_STRING_LEN];
	const char *key;
	json_int_t i;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)o, key, v) {
		snprintf(name, sizeof(name), "%s%s%s", prefix,
			prefix[0] != '\0' ? "_" : "", key);
		switch (json_typeof(v)) {
		case JSON_INTEGER:
			i = json_integer_value(v);
			if (i >= 0)
				rte_tel_data_add_dict_u64(d, name, (uint64_t)i);
			else
				rte_tel_data_add_dict_int(d, name, (int)i);
			break;
		case JSON_REAL:
			rte_tel_data_add_dict_u64(d, name,
				(uint64_t)(json_real_value(v) + 0.5));
			break;
		case JSON_TRUE:
		case JSON_FALSE:
			rte_tel_data_add_dict_int(d, name, json_is_true(v));
			break;
		case JSON_STRING:
			rte_tel_data_add_dict_string(d, name,
				json_string_value(v));
			break;
		case JSON_OBJECT:
			flatten(d, name, v);
			break;
		default:
			break;
		}
	}
}

/* Answer with the flattened result of @p method, or fail with -ENOENT. */
static int
call_dict(struct rte_tel_data *d, const char *method, json_t *params)
{
	json_t *r = pgt_metrics_call(method, params);

	if (r == NULL)
		return -ENOENT;
	rte_tel_data_start_dict(d);
	flatten(d, "", r);
	json_decref(r);
	return 0;
}

static int
tel_info(const char *params, struct rte_tel_data *d)
{
	RTE_SET_USED(params);
	return call_dict(d, "system_info", NULL);
}

static int
tel_port_list(const char *params, struct rte_tel_data *d)
{
	json_t *ports = pgt_metrics_call("port_list", NULL), *p;
	size_t i;

	RTE_SET_USED(params);
	if (ports == NULL)
		return -ENOENT;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	json_array_foreach(ports, i, p)
		rte_tel_data_add_array_string(d, json_string_value(
			json_object_get(p, "name")));
	json_decref(ports);
	return 0;
}

static int
tel_port_stats(const char *params, struct rte_tel_data *d)
{
	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	return call_dict(d, "port_stats_get", json_pack("{s:s}", "port",
		params));
}

static int
tel_worker_stats(const char *params, struct rte_tel_data *d)
{
	json_t *si = pgt_metrics_call("system_info", NULL), *w;
	char *end;
	long id;

	if (si == NULL)
		return -ENOENT;
	id = params != NULL ? strtol(params, &end, 10) : -1;
	w = params != NULL && *end == '\0' && id >= 0 ? json_array_get(
		json_object_get(si, "workers"), (size_t)id) : NULL;
	if (w == NULL) {
		json_decref(si);
		return -EINVAL;
	}
	rte_tel_data_start_dict(d);
	flatten(d, "", w);
	json_decref(si);
	return 0;
}

/* Drops of every reason, summed over ports. */
static int
tel_drops(const char *params, struct rte_tel_data *d)
{
	json_t *ports = pgt_metrics_call("port_stats_get", NULL), *sum = json_object();
	json_t *p, *v;
	const char *reason;
	size_t i;

	RTE_SET_USED(params);
	if (ports == NULL) {
		json_decref(sum);
		return -ENOENT;
	}
	json_array_foreach(ports, i, p)
		json_object_foreach(json_object_get(p, "drops"), reason, v)
			json_object_set_new(sum, reason, json_integer(
				json_integer_value(json_object_get(sum,
					reason)) + json_integer_value(v)));
	rte_tel_data_start_dict(d);
	flatten(d, "", sum);
	json_decref(sum);
	json_decref(ports);
	return 0;
}

static int
tel_conntrack(const char *params, struct rte_tel_data *d)
{
	json_t *st = pgt_metrics_call("conntrack_stats_get", NULL);

	RTE_SET_USED(params);
	if (st == NULL)
		return -ENOENT;
	json_object_del(st, "workers");
	rte_tel_data_start_dict(d);
	flatten(d, "", st);
	json_decref(st);
	return 0;
}

/* A service's name in these commands: tcp:ADDR:PORT, udp:..., fwmark:N. */
static void
service_name(const json_t *svc, char *buf, size_t len)
{
	json_int_t fwmark = json_integer_value(json_object_get(svc, "fwmark"));

	if (fwmark != 0)
		snprintf(buf, len, "fwmark:%" JSON_INTEGER_FORMAT, fwmark);
	else
		snprintf(buf, len, "%s:%s:%" JSON_INTEGER_FORMAT,
			json_string_value(json_object_get(svc, "protocol")),
			json_string_value(json_object_get(svc, "address")),
			json_integer_value(json_object_get(svc, "port")));
}

static json_t *
find_service(json_t *ipvs, const char *name)
{
	char buf[96];
	json_t *svc;
	size_t i;

	json_array_foreach(json_object_get(ipvs, "services"), i, svc) {
		service_name(svc, buf, sizeof(buf));
		if (strcmp(buf, name) == 0)
			return svc;
	}
	return NULL;
}

static int
tel_ipvs_list(const char *params, struct rte_tel_data *d)
{
	json_t *ipvs = pgt_metrics_call("ipvs_get", NULL), *svc;
	char buf[96];
	size_t i;

	RTE_SET_USED(params);
	if (ipvs == NULL)
		return -ENOENT;
	rte_tel_data_start_array(d, RTE_TEL_STRING_VAL);
	json_array_foreach(json_object_get(ipvs, "services"), i, svc) {
		service_name(svc, buf, sizeof(buf));
		rte_tel_data_add_array_string(d, buf);
	}
	json_decref(ipvs);
	return 0;
}

/* /pktgate/ipvs/service,SERVICE: its settings, stats and server list. */
static int
tel_ipvs_service(const char *params, struct rte_tel_data *d)
{
	json_t *ipvs = pgt_metrics_call("ipvs_get", NULL), *svc, *rs;
	struct rte_tel_data *servers;
	char buf[64];
	size_t i;

	if (ipvs == NULL)
		return -ENOENT;
	svc = params != NULL ? find_service(ipvs, params) : NULL;
	if (svc == NULL) {
		json_decref(ipvs);
		return -EINVAL;
	}
	rte_tel_data_start_dict(d);
	flatten(d, "", svc);
	servers = rte_tel_data_alloc();
	if (servers != NULL) {
		rte_tel_data_start_array(servers, RTE_TEL_STRING_VAL);
		json_array_foreach(json_object_get(svc, "real_servers"), i,
				rs) {
			snprintf(buf, sizeof(buf), "%s:%" JSON_INTEGER_FORMAT,
				json_string_value(json_object_get(rs,
					"address")),
				json_integer_value(json_object_get(rs,
					"port")));
			rte_tel_data_add_array_string(servers, buf);
		}
		rte_tel_data_add_dict_container(d, "real_servers", servers, 0);
	}
	json_decref(ipvs);
	return 0;
}

/* /pktgate/ipvs/server,SERVICE,ADDR:PORT: one real server. */
static int
tel_ipvs_server(const char *params, struct rte_tel_data *d)
{
	char svc_name[96], buf[64];
	const char *comma;
	json_t *ipvs, *svc, *rs;
	size_t i;
	int rc = -EINVAL;

	comma = params != NULL ? strrchr(params, ',') : NULL;
	if (comma == NULL || (size_t)(comma - params) >= sizeof(svc_name))
		return -EINVAL;
	memcpy(svc_name, params, comma - params);
	svc_name[comma - params] = '\0';
	ipvs = pgt_metrics_call("ipvs_get", NULL);
	svc = ipvs != NULL ? find_service(ipvs, svc_name) : NULL;
	json_array_foreach(json_object_get(svc, "real_servers"), i, rs) {
		snprintf(buf, sizeof(buf), "%s:%" JSON_INTEGER_FORMAT,
			json_string_value(json_object_get(rs, "address")),
			json_integer_value(json_object_get(rs, "port")));
		if (strcmp(buf, comma + 1) == 0) {
			rte_tel_data_start_dict(d);
			flatten(d, "", rs);
			rc = 0;
			break;
		}
	}
	json_decref(ipvs);
	return rc;
}

/* Post a request to the management thread and wait for its answer. */
static int
handoff(tel_handler_t fn, const char *params, struct rte_tel_data *d)
{
	struct timespec deadline;
	int rc = -EBUSY;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += REQUEST_TIMEOUT_MS / 1000;
	deadline.tv_nsec += (REQUEST_TIMEOUT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&req_lock);
	while (req.pending && serving)
		if (pthread_cond_timedwait(&req_cond, &req_lock, &deadline))
			goto out;
	if (!serving)
		goto out;
	req.pending = true;
	req.answered = false;
	req.handler = fn;
	req.params = params;
	req.d = d;
	while (!req.answered)
		if (pthread_cond_timedwait(&req_cond, &req_lock, &deadline))
			break;
	/*
	 * The management thread answers under the lock, so once we hold it
	 * again the request is either answered or not yet taken; withdraw it
	 * in the second case, so nothing writes to d after we return.
	 */
	rc = req.answered ? req.rc : -ETIMEDOUT;
	req.pending = false;
	pthread_cond_broadcast(&req_cond);
out:
	pthread_mutex_unlock(&req_lock);
	return rc;
}

void
pgt_metrics_telemetry_poll(void)
{
	if (pthread_mutex_trylock(&req_lock) != 0)
		return;
	if (req.pending && !req.answered) {
		req.rc = req.handler(req.params, req.d);
		req.answered = true;
		pthread_cond_broadcast(&req_cond);
	}
	pthread_mutex_unlock(&req_lock);
}

void
pgt_metrics_telemetry_fini(void)
{
	pthread_mutex_lock(&req_lock);
	serving = false;
	pthread_cond_broadcast(&req_cond);
	pthread_mutex_unlock(&req_lock);
}

/* One callback per command: DPDK passes the command's name, not ours. */
#define TEL_COMMAND(fn) \
	static int \
	fn##_cb(const char *cmd, const char *params, struct rte_tel_data *d) \
	{ \
		RTE_SET_USED(cmd); \
		return handoff(fn, params, d); \
	}

TEL_COMMAND(tel_info)
TEL_COMMAND(tel_port_list)
TEL_COMMAND(tel_port_stats)
TEL_COMMAND(tel_worker_stats)
TEL_COMMAND(tel_drops)
TEL_COMMAND(tel_conntrack)
TEL_COMMAND(tel_ipvs_list)
TEL_COMMAND(tel_ipvs_service)
TEL_COMMAND(tel_ipvs_server)

static const struct {
	const char *cmd;
	telemetry_cb fn;
	const char *help;
} commands[] = {
	{ "/pktgate/info", tel_info_cb,
	  "pktgate version, uptime, workers and packet buffers. No parameters." },
	{ "/pktgate/port/list", tel_port_list_cb,
	  "Names of pktgate's ports. No parameters." },
	{ "/pktgate/port/stats", tel_port_stats_cb,
	  "Counters and drops of a port. Parameter: port name or number." },
	{ "/pktgate/worker/stats", tel_worker_stats_cb,
	  "Loop counters of a worker. Parameter: worker number." },
	{ "/pktgate/drops", tel_drops_cb,
	  "Drops by reason, all ports. No parameters." },
	{ "/pktgate/conntrack/stats", tel_conntrack_cb,
	  "Connections, limit and conntrack -S totals. No parameters." },
	{ "/pktgate/ipvs/list", tel_ipvs_list_cb,
	  "Virtual services as tcp:ADDR:PORT, udp:ADDR:PORT or fwmark:N." },
	{ "/pktgate/ipvs/service", tel_ipvs_service_cb,
	  "A virtual service's settings and stats. Parameter: service name." },
	{ "/pktgate/ipvs/server", tel_ipvs_server_cb,
	  "A real server's state and stats. Parameters: SERVICE,ADDR:PORT." },
};

int
pgt_metrics_telemetry_init(void)
{
	unsigned int i;
	int rc;

	for (i = 0; i < RTE_DIM(commands); i++) {
		rc = rte_telemetry_register_cmd(commands[i].cmd,
			commands[i].fn, commands[i].help);
		if (rc != 0)
			return rc;
	}
	pthread_mutex_lock(&req_lock);
	serving = true;
	pthread_mutex_unlock(&req_lock);
	return 0;
}
