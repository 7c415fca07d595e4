/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgate --offline: the whole pipeline over pcap files, for testing a
 * ruleset like code.
 *
 *   pktgate --offline [--config FILE] [--ruleset FILE] [--ports N]
 *           --in [PORT=]FILE... [--out DIR] [--trace FILE|-]
 *           [--expect FILE]
 *
 * The same engine as the daemon, with one worker, on ports made of rings
 * (net_ring) instead of NICs: no hugepages, no PCI, no shared files, no
 * root. The ports get
 * the MACs net_pcap gives (02:70:63:61:70:0N), so captures made for the
 * pcap tests work as they are. Packets from every input file are merged by
 * time stamp and fed one at a time: the next one enters only when the
 * worker and the management thread are done with the last (its outputs
 * sent, its events posted). That makes a run deterministic, lets a
 * conversation span several input files (a client's on port0, a server's
 * on port1) in the order it happened, and ties every output and every
 * trace event to the packet that caused it. Time stamps order packets but
 * are not waited for: timeouts do not pass between packets.
 *
 * Every received packet is traced (as if a TRACE rule matched first). The
 * trace file has one JSON object per input packet: its verdict (out, drop
 * with the reason, local, queued, held), what it became on which port, and
 * every event. The exit status is 1 when an expectation is not met, 2 on a
 * usage, input or configuration error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "offline.h"
#include "pgt_config.h"
#include "pgt_conntrack.h"
#include "pgt_ipvs.h"
#include "pgt_log.h"
#include "pgt_neigh.h"
#include "pgt_pipeline.h"
#include "pgt_pkt.h"
#include "pgt_port.h"
#include "pgt_ruleset.h"
#include "pgt_stats.h"
#include "pktgate.h"

#define EXIT_UNMET	1
#define EXIT_ERROR	2
#define MAX_PORTS	32
#define MAX_INPUTS	32
#define RING_SIZE	1024
/* A worker that makes no progress for this long is stuck: give up. */
#define STUCK_NS	5000000000ull
#define SETTLE_ROUNDS	1000

struct offline_input {
	const char *port;	/* name or number; NULL: port0 */
	const char *path;
};

struct offline {
	const char *config, *ruleset, *out_dir, *trace_path, *expect_path;
	unsigned int nb_ports;
	unsigned int nb_inputs;
	struct offline_input inputs[MAX_INPUTS];
	bool verbose;

	struct rte_ring *rx[MAX_PORTS], *tx[MAX_PORTS];
	FILE *pcap_out[MAX_PORTS];
	struct pktgate_pcap files[MAX_INPUTS];
	/* Packets in the order they are fed (pointers into files). */
	struct pktgate_pcap_packet **order;
	unsigned int nb_packets, fed;
	/* Per fed packet: its events, in order (index 0: packet 1). */
	json_t **events;
	uint32_t trace_cursor;
	uint64_t ts_now;	/* the stamp of the packet being fed */
	bool failed;		/* lost events or a stuck worker */
};

static void
usage(void)
{
	fprintf(stderr,
		"Usage: pktgate --offline [--config FILE] [--ruleset FILE] [--ports N]\n"
		"               --in [PORT=]FILE [--in ...] [--out DIR] [--trace FILE|-]\n"
		"               [--expect FILE] [-v]\n"
		"  --config FILE   a configuration (a replay of RPC calls: ports' names,\n"
		"                  addresses, routes, neighbours, sets, services, rules)\n"
		"  --ruleset FILE  an iptables-save file, applied after the configuration\n"
		"  --ports N       ports port0..portN-1 (default 2)\n"
		"  --in [PORT=]FILE  packets (pcap or pcapng) entering by PORT (name or\n"
		"                  number; default port0); files are merged by time\n"
		"  --out DIR       write what leaves each port to DIR/PORTNAME.pcap\n"
		"  --trace FILE    one JSON line per packet: verdict, outputs, events\n"
		"  --expect FILE   lines \"PACKETS CHECK...\" (see docs/guides/ci.md);\n"
		"                  exit status 1 if one is not met\n"
		"  -v              the engine's log on stderr\n");
}

static int
parse_args(int argc, char **argv, struct offline *off)
{
	static const struct option longopts[] = {
		{ "offline", no_argument, NULL, 'O' },
		{ "config", required_argument, NULL, 'c' },
		{ "ruleset", required_argument, NULL, 'r' },
		{ "ports", required_argument, NULL, 'p' },
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "trace", required_argument, NULL, 't' },
		{ "expect", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct offline_input *in;
	char *eq, *end;
	unsigned long n;
	int opt;

	off->nb_ports = 2;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'O':
			break;
		case 'c':
			off->config = optarg;
			break;
		case 'r':
			off->ruleset = optarg;
			break;
		case 'p':
			n = strtoul(optarg, &end, 10);
			if (*end != '\0' || n < 1 || n > MAX_PORTS) {
				fprintf(stderr, "pktgate: --ports: '%s' is not 1..%u\n",
					optarg, MAX_PORTS);
				return -EINVAL;
			}
			off->nb_ports = (unsigned int)n;
			break;
		case 'i':
			if (off->nb_inputs == MAX_INPUTS) {
				fprintf(stderr, "pktgate: more than %u --in files\n",
					MAX_INPUTS);
				return -EINVAL;
			}
			in = &off->inputs[off->nb_inputs++];
			eq = strchr(optarg, '=');
			in->port = NULL;
			in->path = optarg;
			if (eq != NULL) {
				*eq = '\0';
				in->port = optarg;
				in->path = eq + 1;
			}
			break;
		case 'o':
			off->out_dir = optarg;
			break;
		case 't':
			off->trace_path = optarg;
			break;
		case 'e':
			off->expect_path = optarg;
			break;
		case 'v':
			off->verbose = true;
			break;
		case 'h':
			usage();
			exit(0);
		default:
			usage();
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pktgate: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if (off->nb_inputs == 0) {
		fprintf(stderr, "pktgate: --offline needs at least one --in FILE\n");
		return -EINVAL;
	}
	return 0;
}

/*
 * EAL for one worker, wherever the scheduler puts it: no hugepages, no
 * PCI, no files under /var/run (so no root).
 */
static int
eal_init(const char *prog, bool verbose)
{
	char lcores[64], cpus[32] = "", prefix[32];
	char *eal_argv[16];
	cpu_set_t set;
	int i, first = -1, last = -1, eal_argc = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set)) {
				if (first < 0)
					first = i;
				last = i;
			}
	if (first >= 0 && last > first)
		snprintf(cpus, sizeof(cpus), "@(%d-%d)", first, last);
	else if (first >= 0)
		snprintf(cpus, sizeof(cpus), "@%d", first);
	snprintf(lcores, sizeof(lcores), "0%s,1%s", cpus, cpus);
	/* Runs side by side (a CI job's) must not share EAL's files. */
	snprintf(prefix, sizeof(prefix), "pgt_offline_%ld", (long)getpid());
	eal_argv[eal_argc++] = (char *)(uintptr_t)prog;
	eal_argv[eal_argc++] = (char *)(uintptr_t)"--no-huge";
	eal_argv[eal_argc++] = (char *)(uintptr_t)"--no-pci";
	eal_argv[eal_argc++] = (char *)(uintptr_t)"--no-shconf";
	eal_argv[eal_argc++] = (char *)(uintptr_t)"--file-prefix";
	eal_argv[eal_argc++] = prefix;
	eal_argv[eal_argc++] = (char *)(uintptr_t)"-m";
	eal_argv[eal_argc++] = (char *)(uintptr_t)"256";
	eal_argv[eal_argc++] = (char *)(uintptr_t)"--lcores";
	eal_argv[eal_argc++] = lcores;
	eal_argv[eal_argc++] = (char *)(uintptr_t)"--no-telemetry";
	eal_argv[eal_argc++] = (char *)(uintptr_t)"--log-level";
	eal_argv[eal_argc++] = (char *)(uintptr_t)(verbose ? "*:info" :
		"*:warning");
	eal_argv[eal_argc] = NULL;
	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "pktgate: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

/* Ports of rings. */
static int
ports_create(struct offline *off)
{
	char name[RTE_RING_NAMESIZE];
	unsigned int i;
	int pid;

	for (i = 0; i < off->nb_ports; i++) {
		snprintf(name, sizeof(name), "off_rx%u", i);
		off->rx[i] = rte_ring_create(name, RING_SIZE, SOCKET_ID_ANY,
			RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "off_tx%u", i);
		off->tx[i] = rte_ring_create(name, RING_SIZE, SOCKET_ID_ANY,
			RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (off->rx[i] == NULL || off->tx[i] == NULL)
			return -ENOMEM;
		snprintf(name, sizeof(name), "port%u", i);
		pid = rte_eth_from_rings(name, &off->rx[i], 1, &off->tx[i], 1,
			SOCKET_ID_ANY);
		if (pid < 0 || (unsigned int)pid != i)
			return -ENODEV;
	}
	return 0;
}

/*
 * net_pcap's MACs (02:70:63:61:70:0N), so captures made for the daemon on
 * net_pcap work as they are. net_ring cannot set its own; it needs none
 * (it filters nothing): the pipeline's view of the port is what answers
 * ARP and stamps frames.
 */
static int
ports_address(const struct offline *off)
{
	struct pgt_port_view *v = pgt_port_view_copy();
	unsigned int i;

	if (v == NULL)
		return -ENOMEM;
	for (i = 0; i < off->nb_ports; i++)
		v->port[i].mac = (struct rte_ether_addr){{ 0x02, 0x70, 0x63,
			0x61, 0x70, (uint8_t)i }};
	pgt_port_view_commit(v);
	return 0;
}

static int
apply_config(const struct offline *off)
{
	struct pgt_rs_err err = { .msg = "" };
	uint8_t *text = NULL;
	char msg[512];
	size_t len;
	int rc;

	if (off->config != NULL) {
		rc = pgt_config_load(off->config, msg, sizeof(msg));
		if (rc != 0) {
			fprintf(stderr, "pktgate: %s\n", msg);
			return rc;
		}
	}
	if (off->ruleset == NULL)
		return 0;
	rc = pktgate_file_read(off->ruleset, &text, &len);
	if (rc != 0) {
		fprintf(stderr, "pktgate: %s: %s\n", off->ruleset,
			strerror(-rc));
		return rc;
	}
	rc = pgt_ruleset_restore((const char *)text, false, false, &err);
	free(text);
	if (rc != 0)
		fprintf(stderr, "pktgate: %s: %s\n", off->ruleset, err.msg);
	return rc;
}

/* Port by name ("lan") or number ("1"), after the configuration named it. */
static int
port_find(const struct offline *off, const char *s)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	unsigned int i;
	char *end;
	unsigned long n;

	if (s == NULL)
		return 0;
	for (i = 0; i < off->nb_ports; i++)
		if (strcmp(v->port[i].name, s) == 0)
			return (int)i;
	n = strtoul(s, &end, 10);
	if (*end == '\0' && end != s && n < off->nb_ports)
		return (int)n;
	return -ENOENT;
}

static int
inputs_read(struct offline *off)
{
	unsigned int i, j, k, next[MAX_INPUTS] = { 0 };
	struct pktgate_pcap_packet *p;
	char err[256];
	int port, rc;

	for (i = 0; i < off->nb_inputs; i++) {
		port = port_find(off, off->inputs[i].port);
		if (port < 0) {
			fprintf(stderr, "pktgate: --in %s=%s: no such port\n",
				off->inputs[i].port, off->inputs[i].path);
			return -ENOENT;
		}
		off->files[i].port = (uint16_t)port;
		rc = pktgate_pcap_read(off->inputs[i].path, &off->files[i],
			err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "pktgate: %s: %s\n",
				off->inputs[i].path, err);
			return rc;
		}
		off->nb_packets += off->files[i].nb;
	}
	off->order = calloc(off->nb_packets + 1, sizeof(*off->order));
	off->events = calloc(off->nb_packets + 1, sizeof(*off->events));
	if (off->order == NULL || off->events == NULL)
		return -ENOMEM;
	/* Merge by time stamp; ties keep file order, then --in order. */
	for (k = 0; k < off->nb_packets; k++) {
		p = NULL;
		j = 0;
		for (i = 0; i < off->nb_inputs; i++) {
			struct pktgate_pcap *f = &off->files[i];

			if (next[i] < f->nb && (p == NULL ||
					f->pkts[next[i]].ts_ns < p->ts_ns)) {
				p = &f->pkts[next[i]];
				j = i;
			}
		}
		off->order[k] = p;
		next[j]++;
	}
	return 0;
}

/* An mbuf of packet @p p: raw IPv4 gets an Ethernet header to port. */
static struct rte_mbuf *
packet_mbuf(const struct pktgate_pcap_packet *p)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	struct rte_mbuf *m = rte_pktmbuf_alloc(pktgate_pool);
	struct rte_ether_hdr *eth;
	uint8_t *data;

	if (m == NULL)
		return NULL;
	if (p->raw_ip) {
		eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
			sizeof(*eth));
		if (eth == NULL)
			goto fail;
		eth->dst_addr = v->port[p->port].mac;
		memset(&eth->src_addr, 0, sizeof(eth->src_addr));
		eth->src_addr.addr_bytes[0] = 0x02;
		eth->src_addr.addr_bytes[5] = 0x01;
		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	}
	data = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)p->caplen);
	if (data == NULL)
		goto fail;
	memcpy(data, p->data, p->caplen);
	return m;
fail:
	rte_pktmbuf_free(m);
	return NULL;
}

/* Wait until the worker has gone round its loop twice more. */
static int
worker_rounds(struct offline *off)
{
	uint64_t start = __atomic_load_n(&pgt_stats_worker[0].loops,
		__ATOMIC_ACQUIRE);
	uint64_t deadline = rte_get_tsc_cycles() + rte_get_tsc_hz() *
		(STUCK_NS / 1000000000ull);

	while (__atomic_load_n(&pgt_stats_worker[0].loops, __ATOMIC_ACQUIRE) <
			start + 2) {
		if (rte_get_tsc_cycles() > deadline) {
			fprintf(stderr, "pktgate: the worker is stuck\n");
			off->failed = true;
			return -ETIMEDOUT;
		}
		rte_pause();
	}
	return 0;
}

/* Write what left the ports; @return how many packets. */
static unsigned int
drain_tx(struct offline *off)
{
	struct rte_mbuf *pkts[64];
	static uint8_t frame[65536];
	unsigned int i, n, k, total = 0;
	uint32_t len;
	const void *data;

	for (i = 0; i < off->nb_ports; i++) {
		while ((n = rte_ring_dequeue_burst(off->tx[i], (void **)pkts,
				RTE_DIM(pkts), NULL)) > 0) {
			for (k = 0; k < n; k++) {
				len = rte_pktmbuf_pkt_len(pkts[k]);
				data = rte_pktmbuf_read(pkts[k], 0, len, frame);
				if (off->pcap_out[i] != NULL && data != NULL &&
						pktgate_pcap_write(off->pcap_out[i],
							off->ts_now, data,
							len) != 0)
					off->failed = true;
				rte_pktmbuf_free(pkts[k]);
			}
			total += n;
		}
	}
	return total;
}

/* File the new trace events under their packets; @return how many. */
static unsigned int
drain_events(struct offline *off)
{
	json_t *list = json_array(), *e;
	uint32_t lost = 0;
	unsigned int total = 0;
	json_int_t id;
	size_t i;

	do {
		json_array_clear(list);
		pgt_ruleset_trace_read(true, off->trace_cursor, 4096, list,
			&off->trace_cursor, &lost);
		if (lost != 0) {
			fprintf(stderr, "pktgate: %u trace events lost\n",
				lost);
			off->failed = true;
		}
		json_array_foreach(list, i, e) {
			id = json_integer_value(json_object_get(e, "id"));
			/* One worker numbers the packets it receives from 1:
			 * ids are packet numbers. */
			if (id < 1 || id > (json_int_t)off->fed) {
				fprintf(stderr, "pktgate: a trace event of no packet fed (id %lld)\n",
					(long long)id);
				off->failed = true;
				continue;
			}
			/* The packet's own time stamp stands for them all:
			 * a run's trace is the same every time. */
			json_object_del(e, "seq");
			json_object_del(e, "worker");
			json_object_del(e, "id");
			json_object_del(e, "time_s");
			json_object_del(e, "time_ns");
			json_array_append(off->events[id - 1], e);
		}
		total += (unsigned int)json_array_size(list);
	} while (json_array_size(list) > 0);
	json_decref(list);
	return total;
}

/*
 * Let everything the last packet set off happen: the worker's pass, the
 * management thread's answers (an ARP request for a parked packet), their
 * transmission; done when a round brings nothing new.
 */
static void
settle(struct offline *off)
{
	unsigned int quiet = 0, rounds = 0, work;

	while (quiet < 2 && rounds++ < SETTLE_ROUNDS && !off->failed) {
		if (worker_rounds(off) != 0)
			return;
		pgt_neigh_poll();
		pgt_ct_poll();
		pgt_ipvs_poll();
		work = pgt_ruleset_poll();
		if (worker_rounds(off) != 0)
			return;
		work += pgt_ruleset_poll();
		work += drain_tx(off) + drain_events(off);
		quiet = work == 0 ? quiet + 1 : 0;
	}
}

static int
feed(struct offline *off)
{
	struct pktgate_pcap_packet *p;
	struct rte_mbuf *m;
	unsigned int k;

	for (k = 0; k < off->nb_packets && !off->failed; k++) {
		p = off->order[k];
		m = packet_mbuf(p);
		if (m == NULL) {
			fprintf(stderr, "pktgate: packet %u: no buffer\n", k + 1);
			return -ENOMEM;
		}
		off->ts_now = p->ts_ns;
		off->events[k] = json_array();
		off->fed = k + 1;
		if (rte_ring_sp_enqueue(off->rx[p->port], m) != 0) {
			rte_pktmbuf_free(m);
			return -ENOBUFS;
		}
		settle(off);
	}
	return off->failed ? -EIO : 0;
}

/* What became of a packet, from its own (not its answers') events. */
static json_t *
packet_result(const struct offline *off, unsigned int k)
{
	const struct pktgate_pcap_packet *p = off->order[k];
	const struct pgt_port_view *v = pgt_port_view_get();
	const char *verdict = NULL, *reason = NULL, *type;
	json_t *events = off->events[k], *outs = json_array(), *e, *o, *r;
	bool derived, local = false, out = false, queued = false;
	bool held = false;
	char ts[32];
	size_t i;

	json_array_foreach(events, i, e) {
		type = json_string_value(json_object_get(e, "type"));
		derived = json_is_true(json_object_get(e, "derived"));
		if (strcmp(type, "out") == 0) {
			o = json_pack("{s:O, s:b}", "port",
				json_object_get(e, "out"), "answer", derived);
			json_object_update_missing(o, e);
			json_object_del(o, "type");
			json_object_del(o, "out");
			json_object_del(o, "in");
			json_object_del(o, "derived");
			json_array_append_new(outs, o);
		}
		if (derived)
			continue;
		/* Still waiting (for ARP) when the run ended: the end of
		 * the run is not the pipeline's verdict. */
		if (strcmp(type, "drop") == 0 && queued &&
				strcmp(json_string_value(json_object_get(e,
					"reason")), "shutdown") == 0) {
			continue;
		} else if (strcmp(type, "drop") == 0) {
			reason = json_string_value(json_object_get(e,
				"reason"));
			verdict = "drop";
		} else if (strcmp(type, "local") == 0 ||
				strcmp(type, "answered") == 0 ||
				strcmp(type, "consumed") == 0) {
			local = true;
		} else if (strcmp(type, "out") == 0) {
			out = true;
		} else if (strcmp(type, "queued") == 0) {
			queued = true;
		} else if (strcmp(type, "reassembly") == 0) {
			held = true;
		}
	}
	/* Offline there is no host interface to take what INPUT accepted:
	 * that it reached the box is the answer. */
	if (local && reason != NULL &&
			strcmp(reason, "local_no_handler") == 0) {
		verdict = NULL;
		reason = NULL;
	}
	if (verdict == NULL)
		verdict = local ? "local" : out ? "out" : queued ? "queued" :
			held ? "held" : "none";
	snprintf(ts, sizeof(ts), "%llu.%09llu",
		(unsigned long long)(p->ts_ns / 1000000000ull),
		(unsigned long long)(p->ts_ns % 1000000000ull));
	r = json_pack("{s:i, s:s, s:s, s:s, s:o, s:O}",
		"packet", k + 1, "time", ts, "in", v->port[p->port].name,
		"verdict", verdict, "out", outs, "events", events);
	if (reason != NULL)
		json_object_set_new(r, "reason", json_string(reason));
	/* The packet as it came, from its first event. */
	e = json_array_get(events, 0);
	if (e != NULL && json_object_get(e, "packet") != NULL)
		json_object_set(r, "summary", json_object_get(e, "packet"));
	return r;
}

static int
outputs_open(struct offline *off)
{
	const struct pgt_port_view *v = pgt_port_view_get();
	char path[PATH_MAX];
	unsigned int i;

	if (off->out_dir == NULL)
		return 0;
	if (mkdir(off->out_dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "pktgate: --out %s: %s\n", off->out_dir,
			strerror(errno));
		return -errno;
	}
	for (i = 0; i < off->nb_ports; i++) {
		snprintf(path, sizeof(path), "%s/%s.pcap", off->out_dir,
			v->port[i].name);
		off->pcap_out[i] = pktgate_pcap_create(path);
		if (off->pcap_out[i] == NULL) {
			fprintf(stderr, "pktgate: %s: %s\n", path,
				strerror(errno));
			return -errno;
		}
	}
	return 0;
}

/* The trace file, the expectations and the summary; the exit status. */
static int
report(struct offline *off, struct pktgate_expect *x)
{
	unsigned int k, unmet = 0, n_out = 0, n_drop = 0, n_local = 0;
	FILE *tf = NULL;
	const char *verdict;
	json_t *r;

	if (off->trace_path != NULL) {
		tf = strcmp(off->trace_path, "-") == 0 ? stdout :
			fopen(off->trace_path, "w");
		if (tf == NULL) {
			fprintf(stderr, "pktgate: %s: %s\n", off->trace_path,
				strerror(errno));
			return EXIT_ERROR;
		}
	}
	for (k = 0; k < off->fed; k++) {
		r = packet_result(off, k);
		verdict = json_string_value(json_object_get(r, "verdict"));
		n_out += strcmp(verdict, "out") == 0;
		n_drop += strcmp(verdict, "drop") == 0;
		n_local += strcmp(verdict, "local") == 0;
		if (tf != NULL) {
			json_dumpf(r, tf, JSON_COMPACT);
			fputc('\n', tf);
		}
		unmet += pktgate_expect_check(x, k + 1, r, stderr);
		json_decref(r);
	}
	unmet += pktgate_expect_unused(x, stderr);
	if (tf != NULL && tf != stdout && fclose(tf) != 0)
		off->failed = true;
	fprintf(stderr,
		"pktgate offline: %u packets: %u out, %u dropped, %u local, %u other",
		off->fed, n_out, n_drop, n_local,
		off->fed - n_out - n_drop - n_local);
	if (x != NULL)
		fprintf(stderr, "; expectations: %u checked, %u not met",
			pktgate_expect_count(x), unmet);
	fputc('\n', stderr);
	if (off->failed)
		return EXIT_ERROR;
	return unmet > 0 ? EXIT_UNMET : 0;
}

static void
cleanup(struct offline *off)
{
	unsigned int i;

	for (i = 0; i < off->nb_inputs; i++)
		pktgate_pcap_free(&off->files[i]);
	for (i = 0; i < off->nb_ports; i++)
		if (off->pcap_out[i] != NULL)
			fclose(off->pcap_out[i]);
	for (i = 0; off->events != NULL && i < off->nb_packets; i++)
		json_decref(off->events[i]);
	free(off->events);
	free(off->order);
}

int
pktgate_offline(int argc, char **argv)
{
	struct pktgate_options o = {
		.mbufs = 8191, .max_routes = 4096, .max_neigh = 1024,
		.max_rules = 65536, .conntrack_max = 65536,
		.trace_all = true,
	};
	struct pktgate_expect *x = NULL;
	struct offline off = { 0 };
	char err[512];
	int rc, status = EXIT_ERROR;

	if (parse_args(argc, argv, &off) != 0)
		return EXIT_ERROR;
	if (off.expect_path != NULL) {
		x = pktgate_expect_load(off.expect_path, err, sizeof(err));
		if (x == NULL) {
			fprintf(stderr, "pktgate: %s\n", err);
			return EXIT_ERROR;
		}
	}
	if (eal_init(argv[0], off.verbose) != 0) {
		pktgate_expect_free(x);
		return EXIT_ERROR;
	}
	pktgate_nb_workers = 1;
	rc = ports_create(&off);
	if (rc != 0)
		fprintf(stderr, "pktgate: cannot make the ports: %s\n",
			strerror(-rc));
	if (rc == 0)
		rc = pktgate_setup(&o);
	if (rc == 0)
		rc = ports_address(&off);
	if (rc == 0)
		rc = apply_config(&off);
	if (rc == 0)
		rc = inputs_read(&off);
	if (rc == 0)
		rc = outputs_open(&off);
	if (rc == 0) {
		rte_eal_remote_launch(pgt_pipeline_worker_main, (void *)0,
			rte_get_next_lcore(-1, 1, 0));
		rc = feed(&off);
		pgt_pipeline_stop();
		rte_eal_mp_wait_lcore();
		/* What the worker dropped as it stopped (parked packets). */
		pgt_ruleset_poll();
		drain_tx(&off);
		drain_events(&off);
		if (rc == 0 || off.failed)
			status = report(&off, x);
	}
	cleanup(&off);
	pktgate_expect_free(x);
	pktgate_teardown();
	rte_eal_cleanup();
	return status;
}
