/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgate: the daemon.
 *
 * The main lcore is the management thread: it loads the configuration,
 * serves JSON-RPC and runs the neighbour state machine. Every other lcore is
 * a worker running the pipeline (lib/pipeline). See docs/architecture.md.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "pgt_config.h"
#include "pgt_conntrack.h"
#include "pgt_ipvs.h"
#include "pgt_log.h"
#include "pgt_metrics.h"
#include "pgt_neigh.h"
#include "pgt_pipeline.h"
#include "pgt_pkt.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_route.h"
#include "pgt_ruleset.h"
#include "pgt_rpc.h"
#include "pgt_stats.h"
#include "pktgate.h"

PGT_LOG_REGISTER(main);

#define DEFAULT_RPC_SOCKET	"/run/pktgate/pktgate.sock"
#define DEFAULT_MBUFS		16383
#define DEFAULT_MAX_ROUTES	65536
#define DEFAULT_MAX_NEIGH	16384
#define DEFAULT_MAX_RULES	65536
#define DEFAULT_CONNTRACK_MAX	65536
#define MGMT_POLL_MS		5


static volatile sig_atomic_t quit;
struct rte_mempool *pktgate_pool;
static struct rte_mempool *indirect_pool;
unsigned int pktgate_nb_workers;
static time_t start_time;

static void
on_signal(int sig)
{
	quit = sig;
}

static void
usage(const char *prog)
{
	printf("Usage: %s [EAL options] -- [options]\n"
		"  --rpc-socket PATH    JSON-RPC socket (default %s), mode 0660\n"
		"  --rpc-group NAME     the socket's group (default: group pktgate\n"
		"                       if it exists, else root's)\n"
		"  --rpc-tcp [ADDR:]PORT  also serve JSON-RPC over TCP (off by\n"
		"                       default; ADDR default 127.0.0.1); every\n"
		"                       request must carry the token\n"
		"  --rpc-token-file FILE  the token: FILE's first line, 16 or more\n"
		"                       characters; FILE readable by its owner only\n"
		"  --config FILE        apply this configuration at start\n"
		"  --prometheus [ADDR:]PORT  serve Prometheus metrics on\n"
		"                       http://ADDR:PORT/metrics (ADDR default\n"
		"                       127.0.0.1; off by default)\n"
		"  --idle-sleep-us N    idle workers sleep N us (default 0: poll)\n"
		"  --mbufs N            packet buffers (default %u)\n"
		"  --max-routes N       routing table size (default %u)\n"
		"  --max-neigh N        ARP table size (default %u)\n"
		"  --max-rules N        firewall rules, all tables (default %u)\n"
		"  --conntrack-max N    connections tracked (default %u)\n"
		"Every lcore but the main one runs a worker; give at least 2.\n"
		"\n"
		"       %s --offline --in [PORT=]FILE ... [options]\n"
		"  --offline            the pipeline over captures, then exit\n"
		"                       (no EAL options; --offline --help)\n",
		prog, DEFAULT_RPC_SOCKET, DEFAULT_MBUFS, DEFAULT_MAX_ROUTES,
		DEFAULT_MAX_NEIGH, DEFAULT_MAX_RULES, DEFAULT_CONNTRACK_MAX, prog);
}

static int
parse_u32(const char *name, const char *s, uint32_t min, uint32_t max,
	uint32_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max) {
		fprintf(stderr, "pktgate: --%s: '%s' is not a number in %u..%u\n",
			name, s, min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_options(int argc, char **argv, struct pktgate_options *o)
{
	static const struct option longopts[] = {
		{ "rpc-socket", required_argument, NULL, 's' },
		{ "rpc-group", required_argument, NULL, 'g' },
		{ "rpc-tcp", required_argument, NULL, 't' },
		{ "rpc-token-file", required_argument, NULL, 'T' },
		{ "config", required_argument, NULL, 'c' },
		{ "prometheus", required_argument, NULL, 'P' },
		{ "idle-sleep-us", required_argument, NULL, 'i' },
		{ "mbufs", required_argument, NULL, 'm' },
		{ "max-routes", required_argument, NULL, 'r' },
		{ "max-neigh", required_argument, NULL, 'n' },
		{ "max-rules", required_argument, NULL, 'R' },
		{ "conntrack-max", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o->rpc_socket = optarg;
			break;
		case 'g':
			o->rpc_group = optarg;
			break;
		case 't':
			o->rpc_tcp = optarg;
			break;
		case 'T':
			o->rpc_token_file = optarg;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'P':
			o->prometheus = optarg;
			break;
		case 'i':
			if (parse_u32("idle-sleep-us", optarg, 0, 1000000,
					&o->idle_sleep_us) < 0)
				return -EINVAL;
			break;
		case 'm':
			if (parse_u32("mbufs", optarg, 1024, 1u << 24,
					&o->mbufs) < 0)
				return -EINVAL;
			break;
		case 'r':
			if (parse_u32("max-routes", optarg, 16, 1u << 24,
					&o->max_routes) < 0)
				return -EINVAL;
			break;
		case 'n':
			if (parse_u32("max-neigh", optarg, 16, 1u << 22,
					&o->max_neigh) < 0)
				return -EINVAL;
			break;
		case 'R':
			if (parse_u32("max-rules", optarg, 16, 1u << 24,
					&o->max_rules) < 0)
				return -EINVAL;
			break;
		case 'C':
			if (parse_u32("conntrack-max", optarg, 16,
					PGT_CT_MAX_CAPACITY,
					&o->conntrack_max) < 0)
				return -EINVAL;
			break;
		case 'h':
			usage(argv[0]);
			exit(0);
		default:
			usage(argv[0]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pktgate: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	if ((o->rpc_tcp == NULL) != (o->rpc_token_file == NULL)) {
		fprintf(stderr,
			"pktgate: --rpc-tcp and --rpc-token-file go together: TCP clients must give a token\n");
		return -EINVAL;
	}
	return 0;
}

/* system_info: version, workers, buffers; the daemon's own RPC. */
static int
rpc_system_info(void *args, json_t **result, struct pgt_rpc_err *err)
{
	struct pgt_pipeline_health h;
	json_t *workers = json_array();
	unsigned int w;

	for (w = 0; w < pktgate_nb_workers; w++) {
		pgt_pipeline_health(w, &h);
		json_array_append_new(workers, json_pack(
			"{s:i, s:I, s:I, s:I, s:b, s:I, s:I}", "id", w,
			"loops", (json_int_t)pgt_stats_worker[w].loops,
			"busy_loops", (json_int_t)pgt_stats_worker[w].busy_loops,
			"idle_sleeps",
			(json_int_t)pgt_stats_worker[w].idle_sleeps,
			"stalled", h.stalled, "stalls", (json_int_t)h.stalls,
			"stalled_ms", (json_int_t)h.stalled_ms));
	}
	struct rte_malloc_socket_stats heap;

	rte_malloc_get_socket_stats((int)rte_socket_id(), &heap);
	*result = json_pack("{s:s, s:I, s:i, s:I, s:o, s:{s:i, s:i}, s:I}",
		"version", PGT_VERSION,
		"uptime_s", (json_int_t)(time(NULL) - start_time),
		"nb_workers", pktgate_nb_workers,
		"tsc_hz", (json_int_t)rte_get_tsc_hz(),
		"workers", workers,
		"mbufs", "size", pktgate_pool->size,
		"available", rte_mempool_avail_count(pktgate_pool),
		"heap_allocated_bytes", (json_int_t)heap.heap_allocsz_bytes);
	return 0;
}

PGT_RPC_METHOD_NOARGS(system_info_method, "system_info",
	"Version, uptime, workers' loop counters and stalls, TSC frequency, packet buffers and the bytes allocated from DPDK's heap",
	rpc_system_info);

int
pktgate_setup(const struct pktgate_options *o)
{
	struct pgt_pipeline_conf pc;
	int rc;

	pktgate_pool = rte_pktmbuf_pool_create("pgt_pkts", o->mbufs, 256,
		PGT_PKT_PRIV_SIZE, RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
	indirect_pool = rte_pktmbuf_pool_create("pgt_indirect", o->mbufs / 2,
		256, PGT_PKT_PRIV_SIZE, 0, (int)rte_socket_id());
	if (pktgate_pool == NULL || indirect_pool == NULL) {
		PGT_LOG(ERR, main, "cannot create %u packet buffers: %s",
			o->mbufs, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = pgt_rcu_init(pktgate_nb_workers);
	if (rc == 0)
		rc = pgt_port_init(pktgate_nb_workers, pktgate_pool, 1024,
			1024);
	if (rc == -ENODEV)
		PGT_LOG(ERR, main,
			"no ports: give EAL some, e.g. --no-pci --vdev net_tap0,iface=pg0");
	if (rc == 0)
		rc = pgt_neigh_init(o->max_neigh, pktgate_nb_workers,
			pktgate_pool);
	if (rc == 0)
		rc = pgt_route_init(o->max_routes);
	if (rc == 0)
		rc = pgt_ct_init(pktgate_nb_workers, o->conntrack_max);
	if (rc == 0)
		rc = pgt_ipvs_init(pktgate_nb_workers);
	if (rc == 0)
		rc = pgt_ruleset_init(pktgate_nb_workers, o->max_rules);
	if (rc == 0) {
		pc = (struct pgt_pipeline_conf){ .nb_workers = pktgate_nb_workers,
			.pool = pktgate_pool, .indirect_pool = indirect_pool,
			.idle_sleep_us = o->idle_sleep_us,
			.trace_all = o->trace_all };
		rc = pgt_pipeline_init(&pc);
	}
	return rc;
}

void
pktgate_teardown(void)
{
	unsigned int avail;

	pgt_metrics_telemetry_fini();
	pgt_metrics_http_stop();
	pgt_rpc_server_stop();
	pgt_pipeline_fini();
	pgt_port_fini();
	pgt_route_fini();
	pgt_neigh_fini();
	pgt_ipvs_fini();
	pgt_ct_fini();
	pgt_rcu_fini();
	if (pktgate_pool != NULL) {
		avail = rte_mempool_avail_count(pktgate_pool);
		if (avail != pktgate_pool->size)
			PGT_LOG(ERR, main, "%u packet buffers not returned",
				pktgate_pool->size - avail);
		else
			PGT_LOG(INFO, main, "all %u packet buffers returned",
				pktgate_pool->size);
	}
}

int
main(int argc, char **argv)
{
	struct pktgate_options o = {
		.rpc_socket = DEFAULT_RPC_SOCKET,
		.mbufs = DEFAULT_MBUFS,
		.max_routes = DEFAULT_MAX_ROUTES,
		.max_neigh = DEFAULT_MAX_NEIGH,
		.max_rules = DEFAULT_MAX_RULES,
		.conntrack_max = DEFAULT_CONNTRACK_MAX,
	};
	char msg[512];
	unsigned int lcore;
	uintptr_t w = 0;
	int rc, eal_args;

	if (argc > 1 && strcmp(argv[1], "--offline") == 0)
		return pktgate_offline(argc, argv);
	eal_args = rte_eal_init(argc, argv);
	if (eal_args < 0) {
		fprintf(stderr, "pktgate: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	argv[eal_args] = argv[0];
	if (parse_options(argc - eal_args, argv + eal_args, &o) < 0) {
		rte_eal_cleanup();
		return 2;
	}
	start_time = time(NULL);
	pktgate_nb_workers = rte_lcore_count() - 1;
	if (pktgate_nb_workers == 0) {
		PGT_LOG(ERR, main,
			"no worker lcore: give EAL at least two (e.g. -l 0-1)");
		rte_eal_cleanup();
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	rc = pktgate_setup(&o);
	if (rc == 0 && o.config != NULL) {
		rc = pgt_config_load(o.config, msg, sizeof(msg));
		if (rc != 0)
			PGT_LOG(ERR, main, "configuration not applied: %s", msg);
	}
	if (rc == 0) {
		/* Operators who may control the gateway join group pktgate. */
		if (o.rpc_group == NULL && getgrnam("pktgate") != NULL)
			o.rpc_group = "pktgate";
		rc = pgt_rpc_server_start(o.rpc_socket, o.rpc_group);
		if (rc == -ENOENT)
			PGT_LOG(ERR, main, "--rpc-group %s: no such group",
				o.rpc_group);
		if (rc != 0)
			PGT_LOG(ERR, main, "RPC socket %s: %s", o.rpc_socket,
				strerror(-rc));
	}
	if (rc == 0 && o.rpc_tcp != NULL) {
		rc = pgt_rpc_server_listen_tcp(o.rpc_tcp, o.rpc_token_file);
		if (rc == -EINVAL)
			PGT_LOG(ERR, main,
				"--rpc-tcp %s: not [ADDR:]PORT (an IPv4 address, a port 1..65535)",
				o.rpc_tcp);
		else if (rc == -EPERM)
			PGT_LOG(ERR, main,
				"--rpc-token-file %s: not a regular file readable by its owner only (chmod 600)",
				o.rpc_token_file);
		else if (rc == -EBADMSG)
			PGT_LOG(ERR, main,
				"--rpc-token-file %s: the token (first line) has fewer than 16 characters",
				o.rpc_token_file);
		else if (rc != 0)
			PGT_LOG(ERR, main, "--rpc-tcp %s: %s", o.rpc_tcp,
				strerror(-rc));
	}
	if (rc == 0 && o.prometheus != NULL) {
		rc = pgt_metrics_http_start(o.prometheus);
		if (rc == -EINVAL)
			PGT_LOG(ERR, main,
				"--prometheus %s: not [ADDR:]PORT (an IPv4 address, a port 1..65535)",
				o.prometheus);
		else if (rc != 0)
			PGT_LOG(ERR, main, "--prometheus %s: %s", o.prometheus,
				strerror(-rc));
	}
	if (rc == 0) {
		rc = pgt_metrics_telemetry_init();
		if (rc != 0)
			PGT_LOG(ERR, main, "telemetry commands: %s",
				strerror(-rc));
	}
	if (rc != 0) {
		pktgate_teardown();
		rte_eal_cleanup();
		return 1;
	}

	RTE_LCORE_FOREACH_WORKER(lcore)
		rte_eal_remote_launch(pgt_pipeline_worker_main, (void *)w++,
			lcore);
	PGT_LOG(NOTICE, main, "ready: %u ports, %u workers, RPC on %s",
		rte_eth_dev_count_avail(), pktgate_nb_workers, o.rpc_socket);

	while (!quit) {
		pgt_rpc_server_poll(MGMT_POLL_MS);
		pgt_pipeline_watch();
		pgt_port_poll();
		pgt_neigh_poll();
		pgt_ruleset_poll();
		pgt_ct_poll();
		pgt_ipvs_poll();
		pgt_metrics_http_poll();
		pgt_metrics_telemetry_poll();
	}

	PGT_LOG(NOTICE, main, "signal %d: shutting down", (int)quit);
	pgt_pipeline_stop();
	rte_eal_mp_wait_lcore();
	pktgate_teardown();
	rte_eal_cleanup();
	return 0;
}
