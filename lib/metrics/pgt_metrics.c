/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text exposition of pktgate's counters.
 *
 * Each section calls the RPC method the shell uses and turns its result into
 * metric families. The format requires a family's samples to be contiguous,
 * so each family walks the result once; results are small next to a scrape's
 * HTTP round trip, except the ruleset's, which is one sample pair per rule
 * (docs/observability.md says what a 100,000-rule scrape costs).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <rte_common.h>

#include "pgt_log.h"
#include "pgt_metrics.h"
#include "pgt_metrics_priv.h"
#include "pgt_rpc.h"

PGT_LOG_REGISTER(metrics);

#define MAX_LABELS 6

/* A sample's labels: names and values, in order. */
struct labels {
	unsigned int n;
	const char *name[MAX_LABELS];
	char value[MAX_LABELS][64];
};

static void
label(struct labels *l, const char *name, const char *fmt, ...)
	__rte_format_printf(3, 4);

static void
label(struct labels *l, const char *name, const char *fmt, ...)
{
	va_list ap;

	RTE_VERIFY(l->n < MAX_LABELS);
	l->name[l->n] = name;
	va_start(ap, fmt);
	vsnprintf(l->value[l->n], sizeof(l->value[0]), fmt, ap);
	va_end(ap);
	l->n++;
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped, as the format requires. */
static void
print_escaped(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
}

/* One sample; a JSON value that is not a number or boolean is skipped. */
static void
sample(FILE *f, const char *name, const struct labels *l, const json_t *v)
{
	unsigned int i;

	if (!json_is_number(v) && !json_is_boolean(v))
		return;
	fputs(name, f);
	if (l != NULL && l->n > 0) {
		fputc('{', f);
		for (i = 0; i < l->n; i++) {
			fprintf(f, "%s%s=\"", i > 0 ? "," : "", l->name[i]);
			print_escaped(f, l->value[i]);
			fputc('"', f);
		}
		fputc('}', f);
	}
	if (json_is_integer(v))
		fprintf(f, " %" JSON_INTEGER_FORMAT "\n", json_integer_value(v));
	else if (json_is_real(v))
		fprintf(f, " %.17g\n", json_real_value(v));
	else
		fprintf(f, " %d\n", json_is_true(v) ? 1 : 0);
}

static void
sample_u64(FILE *f, const char *name, const struct labels *l, uint64_t v)
{
	json_t *j = json_integer((json_int_t)v);

	sample(f, name, l, j);
	json_decref(j);
}

json_t *
pgt_metrics_call(const char *method, json_t *params)
{
	struct pgt_rpc_err err = { 0 };
	json_t *result = NULL;

	if (pgt_rpc_call(method, params, &result, &err) != 0) {
		PGT_LOG(WARNING, metrics, "%s: %s", method, err.msg);
		json_decref(params);
		return NULL;
	}
	json_decref(params);
	return result;
}

static void
system_section(FILE *f)
{
	json_t *si = pgt_metrics_call("system_info", NULL), *w;
	struct labels l = { 0 };
	size_t i;
	static const char *const worker_counters[][2] = {
		{ "loops", "Iterations of the worker's loop" },
		{ "busy_loops", "Iterations that received packets" },
		{ "idle_sleeps", "Times the idle worker slept (--idle-sleep-us)" },
		{ "stalls", "Times the worker stopped looping for a second or more" },
	};
	char name[96];
	unsigned int c;

	if (si == NULL)
		return;
	family(f, "pktgate_build_info", "gauge",
		"Always 1; the version is a label");
	label(&l, "version", "%s", json_string_value(json_object_get(si,
		"version")));
	sample_u64(f, "pktgate_build_info", &l, 1);
	family(f, "pktgate_uptime_seconds", "gauge",
		"Seconds since the daemon started");
	sample(f, "pktgate_uptime_seconds", NULL, json_object_get(si,
		"uptime_s"));
	family(f, "pktgate_workers", "gauge", "Worker lcores");
	sample(f, "pktgate_workers", NULL, json_object_get(si, "nb_workers"));
	for (c = 0; c < RTE_DIM(worker_counters); c++) {
		snprintf(name, sizeof(name), "pktgate_worker_%s_total",
			worker_counters[c][0]);
		family(f, name, "counter", worker_counters[c][1]);
		json_array_foreach(json_object_get(si, "workers"), i, w) {
			l.n = 0;
			label(&l, "worker", "%zu", i);
			sample(f, name, &l, json_object_get(w,
				worker_counters[c][0]));
		}
	}
	family(f, "pktgate_worker_stalled", "gauge",
		"1 while the worker has not looped for a second or more");
	json_array_foreach(json_object_get(si, "workers"), i, w) {
		l.n = 0;
		label(&l, "worker", "%zu", i);
		sample(f, "pktgate_worker_stalled", &l, json_object_get(w,
			"stalled"));
	}
	family(f, "pktgate_packet_buffers", "gauge",
		"Packet buffers in the pool (--mbufs)");
	sample(f, "pktgate_packet_buffers", NULL, json_object_get(
		json_object_get(si, "mbufs"), "size"));
	family(f, "pktgate_packet_buffers_available", "gauge",
		"Packet buffers free in the pool now");
	sample(f, "pktgate_packet_buffers_available", NULL, json_object_get(
		json_object_get(si, "mbufs"), "available"));
	family(f, "pktgate_heap_allocated_bytes", "gauge",
		"Bytes allocated from DPDK's heap");
	sample(f, "pktgate_heap_allocated_bytes", NULL, json_object_get(si,
		"heap_allocated_bytes"));
	json_decref(si);
}

static void
port_label(struct labels *l, const json_t *port)
{
	l->n = 0;
	label(l, "port", "%s", json_string_value(json_object_get(port,
		"name")));
}

/* A per-port gauge or counter read from key @p key of each port object. */
static void
port_family(FILE *f, const json_t *ports, const char *name, const char *type,
	const char *help, const char *object, const char *key)
{
	struct labels l;
	json_t *p, *o;
	size_t i;

	family(f, name, type, help);
	json_array_foreach(ports, i, p) {
		o = object != NULL ? json_object_get(p, object) : p;
		port_label(&l, p);
		sample(f, name, &l, json_object_get(o, key));
	}
}

static void
port_info_section(FILE *f)
{
	json_t *ports = pgt_metrics_call("port_list", NULL), *p;
	struct labels l;
	size_t i;

	if (ports == NULL)
		return;
	family(f, "pktgate_port_info", "gauge",
		"Always 1; the port's driver and MAC address are labels");
	json_array_foreach(ports, i, p) {
		port_label(&l, p);
		label(&l, "driver", "%s", json_string_value(json_object_get(p,
			"driver")));
		label(&l, "mac", "%s", json_string_value(json_object_get(p,
			"mac")));
		sample_u64(f, "pktgate_port_info", &l, 1);
	}
	port_family(f, ports, "pktgate_port_up", "gauge",
		"1 if the port is administratively up", NULL, "up");
	port_family(f, ports, "pktgate_port_link_up", "gauge",
		"1 if the port's link is up", NULL, "link_up");
	port_family(f, ports, "pktgate_port_carrier_changes_total", "counter",
		"Times the port's link went down or up since the start", NULL,
		"carrier_changes");
	port_family(f, ports, "pktgate_port_mtu_bytes", "gauge",
		"The port's MTU", NULL, "mtu");
	json_decref(ports);
}

/* pktgate's own per-port counters: every number in port_stats_get. */
static void
port_counter_section(FILE *f, const json_t *ports)
{
	const json_t *first = json_array_get(ports, 0), *v;
	char name[96], help[160];
	const char *key;

	json_object_foreach((json_t *)(uintptr_t)first, key, v) {
		if (!json_is_integer(v) || strcmp(key, "drops_total") == 0)
			continue;
		snprintf(name, sizeof(name), "pktgate_port_%s_total", key);
		snprintf(help, sizeof(help),
			"The port's %s counter, summed over workers (docs/observability.md)",
			key);
		port_family(f, ports, name, "counter", help, NULL, key);
	}
}

static void
port_drop_section(FILE *f, const json_t *ports)
{
	struct labels l;
	const char *reason;
	json_t *p, *v;
	size_t i;

	family(f, "pktgate_port_drops_total", "counter",
		"Packets dropped, by the port they arrived on (or were leaving by) and the reason");
	json_array_foreach(ports, i, p) {
		json_object_foreach(json_object_get(p, "drops"), reason, v) {
			port_label(&l, p);
			label(&l, "reason", "%s", reason);
			sample(f, "pktgate_port_drops_total", &l, v);
		}
	}
}

static void
port_worker_section(FILE *f, const json_t *ports)
{
	static const char *const keys[][3] = {
		{ "rx_packets", "pktgate_port_worker_rx_packets_total",
		  "Packets received, by port and worker" },
		{ "tx_packets", "pktgate_port_worker_tx_packets_total",
		  "Packets sent, by port and worker" },
		{ "drops_total", "pktgate_port_worker_drops_total",
		  "Packets dropped, by port and worker" },
	};
	struct labels l;
	json_t *p, *w;
	unsigned int k;
	size_t i, j;

	for (k = 0; k < RTE_DIM(keys); k++) {
		family(f, keys[k][1], "counter", keys[k][2]);
		json_array_foreach(ports, i, p) {
			json_array_foreach(json_object_get(p, "workers"), j, w) {
				port_label(&l, p);
				label(&l, "worker", "%zu", j);
				sample(f, keys[k][1], &l, json_object_get(w,
					keys[k][0]));
			}
		}
	}
}

static void
port_device_section(FILE *f, const json_t *ports)
{
	static const char *const keys[][3] = {
		{ "ipackets", "pktgate_port_device_rx_packets_total",
		  "Packets the device received" },
		{ "ibytes", "pktgate_port_device_rx_bytes_total",
		  "Bytes the device received" },
		{ "opackets", "pktgate_port_device_tx_packets_total",
		  "Packets the device sent" },
		{ "obytes", "pktgate_port_device_tx_bytes_total",
		  "Bytes the device sent" },
		{ "imissed", "pktgate_port_device_rx_missed_total",
		  "Packets the device dropped because the RX rings were full" },
		{ "ierrors", "pktgate_port_device_rx_errors_total",
		  "Erroneous packets the device received" },
		{ "rx_nombuf", "pktgate_port_device_rx_nombuf_total",
		  "RX buffer allocation failures" },
	};
	static const char *const qkeys[][3] = {
		{ "ipackets", "pktgate_port_queue_rx_packets_total",
		  "Packets received by the device queue (RX queue N is worker N's)" },
		{ "ibytes", "pktgate_port_queue_rx_bytes_total",
		  "Bytes received by the device queue" },
		{ "opackets", "pktgate_port_queue_tx_packets_total",
		  "Packets sent by the device queue" },
		{ "obytes", "pktgate_port_queue_tx_bytes_total",
		  "Bytes sent by the device queue" },
	};
	struct labels l;
	json_t *p, *q;
	unsigned int k;
	size_t i, j;

	for (k = 0; k < RTE_DIM(keys); k++)
		port_family(f, ports, keys[k][1], "counter", keys[k][2],
			"device", keys[k][0]);
	for (k = 0; k < RTE_DIM(qkeys); k++) {
		family(f, qkeys[k][1], "counter", qkeys[k][2]);
		json_array_foreach(ports, i, p) {
			json_array_foreach(json_object_get(json_object_get(p,
					"device"), "queues"), j, q) {
				port_label(&l, p);
				label(&l, "queue", "%zu", j);
				sample(f, qkeys[k][1], &l, json_object_get(q,
					qkeys[k][0]));
			}
		}
	}
}

static void
port_section(FILE *f)
{
	json_t *ports;

	port_info_section(f);
	ports = pgt_metrics_call("port_stats_get", json_pack("{s:b}", "per_worker", 1));
	if (ports == NULL)
		return;
	if (json_array_size(ports) > 0) {
		port_counter_section(f, ports);
		port_drop_section(f, ports);
		port_worker_section(f, ports);
		port_device_section(f, ports);
	}
	json_decref(ports);
}

static const char *const tables[] = { "raw", "mangle", "nat", "filter" };

/* Rule or policy counters of every chain of every table, for @p key. */
static void
rule_family(FILE *f, json_t *const chains[], const char *key, bool policy)
{
	char name[64], help[128];
	struct labels l;
	json_t *c, *r;
	unsigned int t;
	size_t i, j;

	snprintf(name, sizeof(name), "pktgate_%s_%s_total",
		policy ? "chain_policy" : "rule", key);
	snprintf(help, sizeof(help), policy ?
		"%s that reached the end of a built-in chain (its policy)" :
		"%s that matched the rule (rule is its 1-based position)",
		strcmp(key, "bytes") == 0 ? "Bytes" : "Packets");
	family(f, name, "counter", help);
	for (t = 0; t < RTE_DIM(tables); t++) {
		json_array_foreach(chains[t], i, c) {
			l.n = 0;
			label(&l, "table", "%s", tables[t]);
			label(&l, "chain", "%s", json_string_value(
				json_object_get(c, "name")));
			if (policy) {
				sample(f, name, &l, json_object_get(c, key));
				continue;
			}
			json_array_foreach(json_object_get(c, "rules"), j, r) {
				l.n = 2;
				label(&l, "rule", "%zu", j + 1);
				sample(f, name, &l, json_object_get(r, key));
			}
		}
	}
}

static void
set_family(FILE *f, const json_t *sets, const char *name, const char *help,
	const char *key)
{
	struct labels l;
	json_t *set;
	size_t i;

	family(f, name, "gauge", help);
	json_array_foreach(sets, i, set) {
		l.n = 0;
		label(&l, "set", "%s", json_string_value(json_object_get(set,
			"name")));
		sample(f, name, &l, json_object_get(set, key));
	}
}

static void
ruleset_section(FILE *f)
{
	static const char *const targets[] = { "log", "nflog" };
	json_t *chains[RTE_DIM(tables)], *st, *v;
	char name[96], help[128];
	const char *key;
	unsigned int t;

	for (t = 0; t < RTE_DIM(tables); t++)
		chains[t] = pgt_metrics_call("iptables_rules_get", json_pack("{s:s}",
			"table", tables[t]));
	rule_family(f, chains, "packets", false);
	rule_family(f, chains, "bytes", false);
	rule_family(f, chains, "packets", true);
	rule_family(f, chains, "bytes", true);
	for (t = 0; t < RTE_DIM(tables); t++)
		json_decref(chains[t]);

	st = pgt_metrics_call("ruleset_stats", NULL);
	for (t = 0; t < RTE_DIM(targets); t++) {
		json_object_foreach(json_object_get(st, targets[t]), key, v) {
			snprintf(name, sizeof(name),
				"pktgate_ruleset_%s_%s_total", targets[t], key);
			snprintf(help, sizeof(help),
				"%s target records %s (posted by workers, lost to a full ring, handled)",
				targets[t], key);
			family(f, name, "counter", help);
			sample(f, name, NULL, v);
		}
	}
	set_family(f, json_object_get(st, "sets"), "pktgate_set_entries",
		"Members of the set", "entries");
	set_family(f, json_object_get(st, "sets"), "pktgate_set_maxelem",
		"Members the set can hold (maxelem)", "maxelem");
	set_family(f, json_object_get(st, "sets"), "pktgate_set_references",
		"Rules that use the set", "references");
	json_decref(st);
}

static void
conntrack_section(FILE *f)
{
	/* node_exporter's conntrack collector: its names, its types. */
	static const char *const node_stats[] = { "found", "invalid",
		"insert", "insert_failed", "drop", "early_drop" };
	json_t *st = pgt_metrics_call("conntrack_stats_get", NULL), *w, *v;
	struct labels l;
	const char *key;
	char name[96];
	unsigned int s;
	size_t i;

	if (st == NULL)
		return;
	family(f, "node_nf_conntrack_entries", "gauge",
		"Number of currently allocated flow entries for connection tracking");
	sample(f, "node_nf_conntrack_entries", NULL, json_object_get(st,
		"count"));
	family(f, "node_nf_conntrack_entries_limit", "gauge",
		"Maximum size of connection tracking table");
	sample(f, "node_nf_conntrack_entries_limit", NULL, json_object_get(st,
		"max"));
	for (s = 0; s < RTE_DIM(node_stats); s++) {
		snprintf(name, sizeof(name), "node_nf_conntrack_stat_%s",
			node_stats[s]);
		family(f, name, "gauge",
			"conntrack -S statistic, summed over workers");
		sample(f, name, NULL, json_object_get(json_object_get(st,
			"total"), node_stats[s]));
	}
	family(f, "pktgate_conntrack_worker_stat_total", "counter",
		"conntrack -S statistics per worker (each worker owns a table shard)");
	json_array_foreach(json_object_get(st, "workers"), i, w) {
		json_object_foreach(w, key, v) {
			l.n = 0;
			label(&l, "worker", "%zu", i);
			label(&l, "stat", "%s", key);
			sample(f, "pktgate_conntrack_worker_stat_total", &l, v);
		}
	}
	json_decref(st);
}

/* node_exporter's labels of a service: its proto and local_* values. */
static void
service_labels(struct labels *l, const json_t *svc)
{
	uint32_t fwmark = (uint32_t)json_integer_value(json_object_get(svc,
		"fwmark"));
	const char *proto = json_string_value(json_object_get(svc,
		"protocol"));

	l->n = 0;
	if (fwmark != 0) {
		label(l, "local_address", "%s", "");
		label(l, "local_port", "0");
		label(l, "proto", "FWM");
		label(l, "local_mark", "%u", fwmark);
		return;
	}
	label(l, "local_address", "%s", json_string_value(json_object_get(svc,
		"address")));
	label(l, "local_port", "%" JSON_INTEGER_FORMAT, json_integer_value(
		json_object_get(svc, "port")));
	label(l, "proto", "%s", strcasecmp(proto, "udp") == 0 ? "UDP" :
		strcasecmp(proto, "sctp") == 0 ? "SCTP" : "TCP");
	label(l, "local_mark", "%s", "");
}

/* Order of the labels node_exporter gives a backend. */
static void
backend_labels(struct labels *l, const json_t *svc, const json_t *rs)
{
	struct labels s;

	service_labels(&s, svc);
	l->n = 0;
	label(l, "local_address", "%s", s.value[0]);
	label(l, "local_port", "%s", s.value[1]);
	label(l, "remote_address", "%s", json_string_value(json_object_get(rs,
		"address")));
	label(l, "remote_port", "%" JSON_INTEGER_FORMAT, json_integer_value(
		json_object_get(rs, "port")));
	label(l, "proto", "%s", s.value[2]);
	label(l, "local_mark", "%s", s.value[3]);
}

/* The IPVS statistics object's keys and the metric names they feed. */
static const char *const ipvs_stat_keys[][3] = {
	{ "conns", "connections_total", "counter" },
	{ "in_packets", "incoming_packets_total", "counter" },
	{ "out_packets", "outgoing_packets_total", "counter" },
	{ "in_bytes", "incoming_bytes_total", "counter" },
	{ "out_bytes", "outgoing_bytes_total", "counter" },
};

static void
ipvs_backend_family(FILE *f, const json_t *services, const char *name,
	const char *type, const char *help, const char *stat_key,
	const char *key)
{
	json_t *svc, *rs, *v;
	struct labels l;
	size_t i, j;

	family(f, name, type, help);
	json_array_foreach(services, i, svc) {
		json_array_foreach(json_object_get(svc, "real_servers"), j,
				rs) {
			backend_labels(&l, svc, rs);
			if (key == NULL) {
				/* Health: a server is up unless its check failed. */
				v = json_boolean(strcmp(json_string_value(
					json_object_get(rs, "health")),
					"down") != 0);
				sample(f, name, &l, v);
				json_decref(v);
				continue;
			}
			v = stat_key != NULL ? json_object_get(json_object_get(
				rs, stat_key), key) : json_object_get(rs, key);
			sample(f, name, &l, v);
		}
	}
}

static void
ipvs_section(FILE *f)
{
	json_t *ipvs = pgt_metrics_call("ipvs_get", NULL), *services, *svc, *v;
	char name[96], help[160];
	uint64_t sum;
	struct labels l;
	const char *key;
	unsigned int k;
	size_t i;

	if (ipvs == NULL)
		return;
	services = json_object_get(ipvs, "services");
	for (k = 0; k < RTE_DIM(ipvs_stat_keys); k++) {
		snprintf(name, sizeof(name), "node_ipvs_%s",
			ipvs_stat_keys[k][1]);
		snprintf(help, sizeof(help),
			"IPVS %s, all virtual services", ipvs_stat_keys[k][0]);
		family(f, name, "counter", help);
		sum = 0;
		json_array_foreach(services, i, svc)
			sum += (uint64_t)json_integer_value(json_object_get(
				json_object_get(svc, "stats"),
				ipvs_stat_keys[k][0]));
		sample_u64(f, name, NULL, sum);
	}
	ipvs_backend_family(f, services, "node_ipvs_backend_connections_active",
		"gauge", "The current active connections by local and remote address",
		"stats", "active_conns");
	ipvs_backend_family(f, services,
		"node_ipvs_backend_connections_inactive", "gauge",
		"The current inactive connections by local and remote address",
		"stats", "inactive_conns");
	ipvs_backend_family(f, services, "node_ipvs_backend_weight", "gauge",
		"The current backend weight by local and remote address (0 while a quiesced server's check fails)",
		NULL, "weight");
	ipvs_backend_family(f, services, "pktgate_ipvs_backend_up", "gauge",
		"0 while the server's health check fails, else 1", NULL, NULL);
	for (k = 0; k < RTE_DIM(ipvs_stat_keys); k++) {
		snprintf(name, sizeof(name), "pktgate_ipvs_backend_%s",
			ipvs_stat_keys[k][1]);
		snprintf(help, sizeof(help), "IPVS %s of the real server",
			ipvs_stat_keys[k][0]);
		ipvs_backend_family(f, services, name, "counter", help,
			"stats", ipvs_stat_keys[k][0]);
	}
	for (k = 0; k < RTE_DIM(ipvs_stat_keys); k++) {
		snprintf(name, sizeof(name), "pktgate_ipvs_service_%s",
			ipvs_stat_keys[k][1]);
		snprintf(help, sizeof(help), "IPVS %s of the virtual service",
			ipvs_stat_keys[k][0]);
		family(f, name, "counter", help);
		json_array_foreach(services, i, svc) {
			service_labels(&l, svc);
			sample(f, name, &l, json_object_get(json_object_get(svc,
				"stats"), ipvs_stat_keys[k][0]));
		}
	}
	json_object_foreach(json_object_get(ipvs, "counters"), key, v) {
		snprintf(name, sizeof(name), "pktgate_ipvs_%s_total", key);
		family(f, name, "counter",
			"New IPVS connections refused for this reason (docs/ipvs.md)");
		sample(f, name, NULL, v);
	}
	json_decref(ipvs);
}

int
pgt_metrics_render(char **text, size_t *len)
{
	FILE *f;

	*text = NULL;
	f = open_memstream(text, len);
	if (f == NULL)
		return -ENOMEM;
	system_section(f);
	port_section(f);
	ruleset_section(f);
	conntrack_section(f);
	ipvs_section(f);
	if (ferror(f)) {
		fclose(f);
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	fclose(f);
	return 0;
}
