/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_METRICS_H
#define PGT_METRICS_H

/**
 * @file
 * Read-only views of pktgate's counters for monitoring systems: a
 * Prometheus text endpoint and DPDK telemetry commands under /pktgate/.
 *
 * Both are built from the results of the RPC methods pktgatectl reads
 * (port_stats_get, ipvs_get, conntrack_stats_get, ...), called in-process,
 * so every figure a dashboard shows is the figure the shell shows, and a
 * counter added to a module's RPC reaches the exporters without touching
 * them. Everything runs on the management thread: the HTTP server is polled
 * by the management loop, and telemetry requests, which DPDK receives on
 * its own thread, are handed to the management loop and answered there.
 *
 * IPVS and conntrack figures reuse node_exporter's metric names and labels
 * (node_ipvs_*, node_nf_conntrack_*) so existing dashboards and alerts work
 * unchanged; everything else is pktgate_*. See docs/observability.md.
 */

#include <stddef.h>

/**
 * Render every metric in the Prometheus text exposition format 0.0.4.
 *
 * @param text
 *   Set to a malloc'ed, NUL-terminated buffer the caller frees.
 * @param len
 *   Set to its length.
 * @return 0, or -ENOMEM.
 */
int pgt_metrics_render(char **text, size_t *len);

/**
 * Serve GET /metrics over HTTP/1.0-1.1 on @p spec, "[ADDR:]PORT" (ADDR an
 * IPv4 address, 127.0.0.1 when omitted). Off unless called.
 *
 * @return 0; -EINVAL if @p spec does not parse (nothing is opened);
 *   -EALREADY if already serving; or the negative errno of socket(),
 *   bind() (-EADDRINUSE: something else has the port) or listen().
 */
int pgt_metrics_http_start(const char *spec);

/**
 * Accept, read and answer scrapes without blocking; bounded work per call.
 * Call from the management loop. Does nothing if the server is not started.
 */
void pgt_metrics_http_poll(void);

/** Close every connection and the listening socket. */
void pgt_metrics_http_stop(void);

/**
 * Register the /pktgate/... telemetry commands (see docs/observability.md).
 * Call once, after rte_eal_init(), before the management loop runs.
 *
 * @return 0, or the negative errno of rte_telemetry_register_cmd().
 */
int pgt_metrics_telemetry_init(void);

/**
 * Answer the telemetry request waiting for the management thread, if any.
 * Call from the management loop.
 */
void pgt_metrics_telemetry_poll(void);

/**
 * Stop answering: later requests get an error (DPDK keeps the commands
 * registered until exit). Call before the modules the answers read are torn
 * down.
 */
void pgt_metrics_telemetry_fini(void);

#endif /* PGT_METRICS_H */
