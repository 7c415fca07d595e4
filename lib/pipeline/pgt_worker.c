/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker loop: polling, transmit staging, parked packets, RCU; and the
 * management thread's watchdog over it. */
#include <errno.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "pgt_conntrack.h"
#include "pgt_log.h"
#include "pgt_neigh.h"
#include "pgt_pipeline_priv.h"
#include "pgt_rcu.h"

PGT_LOG_REGISTER(pipeline);

/* Consecutive empty polls before an idle worker sleeps. */
#define IDLE_POLLS_BEFORE_SLEEP 256
/* How often parked packets are retried without a neighbour change. */
#define PARKED_CHECK_MS 100
/*
 * How often an idle host interface is polled. Its RX is a read() system
 * call: polled every iteration it would tax forwarding for traffic that is
 * rare. While the host sends, it is polled every iteration.
 */
#define HOST_POLL_US 20
/*
 * Reassembly: datagrams waiting per worker (each holds at most
 * RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments, so at most 2048 buffers), and
 * how long the rest may take (Linux's ipfrag_time).
 */
#define FRAG_DATAGRAMS		256
#define FRAG_BUCKETS		64
#define FRAG_BUCKET_ENTRIES	4
#define FRAG_TIMEOUT_S		30
/* Handed-over packets taken per loop iteration. */
#define HANDOFF_BURST		PGT_BURST

struct pgt_pipeline_conf pgt_pipeline_cfg;
static struct pgt_worker *workers;
static volatile bool stop_requested;

/*
 * The watchdog's state, apart from the workers' own cache lines: only the
 * management thread reads and writes it.
 */
struct worker_watch {
	uint64_t loops_seen;	/* the worker's loop counter when last read */
	uint64_t seen_at;	/* TSC when it last moved */
	uint64_t stalled_cycles;	/* ended stalls */
	uint64_t stalls;
	bool stalled;
};
static struct worker_watch *watch;

int
pgt_pipeline_init(const struct pgt_pipeline_conf *conf)
{
	unsigned int i;

	if (conf->nb_workers == 0 || conf->nb_workers > RTE_MAX_LCORE ||
			conf->pool == NULL || conf->indirect_pool == NULL)
		return -EINVAL;
	pgt_pipeline_cfg = *conf;
	workers = rte_zmalloc("pgt_workers",
		sizeof(*workers) * conf->nb_workers, RTE_CACHE_LINE_SIZE);
	watch = rte_zmalloc("pgt_watch", sizeof(*watch) * conf->nb_workers,
		0);
	if (workers == NULL || watch == NULL) {
		rte_free(workers);
		rte_free(watch);
		workers = NULL;
		watch = NULL;
		return -ENOMEM;
	}
	for (i = 0; i < conf->nb_workers; i++) {
		workers[i].id = i;
		workers[i].pool = conf->pool;
		workers[i].indirect_pool = conf->indirect_pool;
		workers[i].frag_tbl = rte_ip_frag_table_create(FRAG_BUCKETS,
			FRAG_BUCKET_ENTRIES, FRAG_DATAGRAMS,
			rte_get_tsc_hz() * FRAG_TIMEOUT_S, SOCKET_ID_ANY);
		if (workers[i].frag_tbl == NULL) {
			pgt_pipeline_fini();
			return -ENOMEM;
		}
	}
	pgt_icmp_init(conf->nb_workers);
	return 0;
}

void
pgt_pipeline_fini(void)
{
	struct rte_mbuf *pkts[HANDOFF_BURST];
	unsigned int i, n, j;

	if (workers == NULL)
		return;
	for (i = 0; i < pgt_pipeline_cfg.nb_workers; i++) {
		/* What other workers handed over, until they all stopped. */
		while ((n = pgt_ct_handoff_dequeue(i, pkts,
				HANDOFF_BURST)) > 0)
			for (j = 0; j < n; j++)
				pgt_drop(&workers[i], pkts[j],
					PGT_DROP_SHUTDOWN);
		if (workers[i].frag_tbl != NULL)
			rte_ip_frag_table_destroy(workers[i].frag_tbl);
	}
	rte_free(workers);
	workers = NULL;
	rte_free(watch);
	watch = NULL;
}

void
pgt_pipeline_stop(void)
{
	stop_requested = true;
}

void
pgt_pipeline_watch(void)
{
	uint64_t now = rte_get_tsc_cycles(), limit, loops;
	struct worker_watch *ww;
	unsigned int i;

	limit = rte_get_tsc_hz() / 1000 * PGT_PIPELINE_STALL_MS;
	for (i = 0; i < pgt_pipeline_cfg.nb_workers; i++) {
		ww = &watch[i];
		loops = __atomic_load_n(&pgt_stats_worker[i].loops,
			__ATOMIC_RELAXED);
		if (ww->seen_at == 0 || loops != ww->loops_seen) {
			if (ww->stalled) {
				ww->stalled_cycles += now - ww->seen_at;
				ww->stalled = false;
				PGT_LOG(NOTICE, pipeline,
					"worker %u loops again after %.1f s",
					i, (double)(now - ww->seen_at) /
					(double)rte_get_tsc_hz());
			}
			ww->loops_seen = loops;
			ww->seen_at = now;
		} else if (!ww->stalled && now - ww->seen_at > limit) {
			ww->stalled = true;
			ww->stalls++;
			PGT_LOG(WARNING, pipeline,
				"worker %u stalled: no loop for %u ms; its queues overflow and changes wait for it",
				i, PGT_PIPELINE_STALL_MS);
		}
	}
}

void
pgt_pipeline_health(unsigned int w, struct pgt_pipeline_health *h)
{
	const struct worker_watch *ww = &watch[w];
	uint64_t cycles = ww->stalled_cycles;

	if (ww->stalled)
		cycles += rte_get_tsc_cycles() - ww->seen_at;
	h->stalled = ww->stalled;
	h->stalls = ww->stalls;
	h->stalled_ms = cycles / (rte_get_tsc_hz() / 1000);
}

/*
 * A NIC refuses a burst when its ring is full or (some drivers) its link is
 * down; a tap when the host's interface is down or its queue is full. Read
 * only on failure, so the link flag costs the sending path nothing.
 */
static inline enum pgt_drop
tx_fail_reason(const struct pgt_port *p, uint16_t port)
{
	if (pgt_port_is_host(p))
		return PGT_DROP_HOST_TX_FAILED;
	return __atomic_load_n(&pgt_port_link_down[port], __ATOMIC_RELAXED) ?
		PGT_DROP_LINK_DOWN : PGT_DROP_TX_FULL;
}

void
pgt_worker_tx_flush(struct pgt_worker *w, uint16_t port)
{
	struct pgt_tx_stage *t = &w->tx[port];
	struct pgt_port_counters *c = &pgt_stats_worker[w->id].port[port];
	uint64_t bytes = t->bytes;
	uint16_t sent, i;

	if (t->n == 0)
		return;
	t->bytes = 0;
	if (w->id < w->view->port[port].nb_txq) {
		sent = rte_eth_tx_burst(port, (uint16_t)w->id, t->pkts, t->n);
		c->cnt[PGT_CNT_TX_PACKETS] += sent;
		for (i = sent; i < t->n; i++) {
			/* Read before the free: the mbuf is not ours after. */
			bytes -= rte_pktmbuf_pkt_len(t->pkts[i]);
			c->drop[tx_fail_reason(&w->view->port[port], port)]++;
			rte_pktmbuf_free(t->pkts[i]);
		}
		c->cnt[PGT_CNT_TX_BYTES] += bytes;
	} else {
		/* No TX queue of ours here: hand over to worker 0. */
		sent = (uint16_t)rte_ring_mp_enqueue_burst(
			pgt_port_tx_ring[port], (void **)t->pkts, t->n, NULL);
		c->cnt[PGT_CNT_TX_HANDOFF] += sent;
		for (i = sent; i < t->n; i++) {
			c->drop[PGT_DROP_HANDOFF_FULL]++;
			rte_pktmbuf_free(t->pkts[i]);
		}
	}
	t->n = 0;
}

static void
tx_flush_all(struct pgt_worker *w)
{
	uint16_t port;

	for (port = 0; port < w->view->nb_ports; port++)
		pgt_worker_tx_flush(w, port);
}

/* Worker 0 sends what other workers and the manager handed over. */
static unsigned int
drain_handoff(struct pgt_worker *w)
{
	struct rte_mbuf *pkts[PGT_BURST];
	struct pgt_port_counters *c;
	unsigned int n, total = 0;
	uint64_t bytes;
	uint16_t port, sent, i;

	for (port = 0; port < w->view->nb_ports; port++) {
		if (pgt_port_tx_ring[port] == NULL)
			continue;
		n = rte_ring_sc_dequeue_burst(pgt_port_tx_ring[port],
			(void **)pkts, PGT_BURST, NULL);
		if (n == 0)
			continue;
		total += n;
		c = &pgt_stats_worker[w->id].port[port];
		sent = rte_eth_tx_burst(port, 0, pkts, (uint16_t)n);
		bytes = 0;
		for (i = 0; i < sent; i++)
			bytes += rte_pktmbuf_pkt_len(pkts[i]);
		c->cnt[PGT_CNT_TX_PACKETS] += sent;
		c->cnt[PGT_CNT_TX_BYTES] += bytes;
		for (i = sent; i < n; i++) {
			c->drop[tx_fail_reason(&w->view->port[port], port)]++;
			rte_pktmbuf_free(pkts[i]);
		}
	}
	return total;
}

bool
pgt_worker_park(struct pgt_worker *w, struct rte_mbuf *m)
{
	struct pgt_parked *p;

	if (w->parked_count == PGT_PIPELINE_NEIGH_QUEUE)
		return false;
	/* Confirmed already; its connection may be gone by the time the
	 * neighbour answers. */
	pgt_ct_detach(pgt_pkt_meta(m));
	p = &w->parked[(w->parked_head + w->parked_count) %
		PGT_PIPELINE_NEIGH_QUEUE];
	p->m = m;
	p->deadline = w->now + rte_get_tsc_hz() / 1000 *
		PGT_PIPELINE_NEIGH_WAIT_MS;
	w->parked_count++;
	return true;
}

/*
 * Retry parked packets when a neighbour changed state or every
 * PARKED_CHECK_MS (for the timeouts). Each packet is looked at once per
 * pass; those still waiting go back to the tail with their deadline.
 */
static void
check_parked(struct pgt_worker *w)
{
	uint32_t gen = __atomic_load_n(&pgt_neigh_generation, __ATOMIC_ACQUIRE);
	uint32_t n = w->parked_count;
	struct pgt_parked p, *slot;
	struct pgt_pkt_meta *meta;
	struct pgt_neigh_msg msg;
	struct rte_ether_addr mac;
	int rc;

	if (n == 0 || (gen == w->neigh_gen_seen && w->now < w->next_parked_check))
		return;
	w->neigh_gen_seen = gen;
	w->next_parked_check = w->now + rte_get_tsc_hz() / 1000 *
		PARKED_CHECK_MS;
	while (n-- > 0) {
		p = w->parked[w->parked_head];
		w->parked_head = (w->parked_head + 1) % PGT_PIPELINE_NEIGH_QUEUE;
		w->parked_count--;
		meta = pgt_pkt_meta(p.m);
		rc = pgt_neigh_lookup(meta->nexthop, meta->out_port, &mac);
		if (rc == 0) {
			pgt_pipeline_l2_send(w, p.m, &mac);
		} else if (rc == -EHOSTUNREACH) {
			pgt_pipeline_neigh_fail(w, p.m, PGT_DROP_NEIGH_FAILED);
		} else if (w->now >= p.deadline) {
			pgt_pipeline_neigh_fail(w, p.m, PGT_DROP_NEIGH_TIMEOUT);
		} else {
			if (rc == -ENOENT) {
				msg = (struct pgt_neigh_msg){
					.addr = meta->nexthop,
					.port = meta->out_port,
					.type = PGT_NEIGH_MSG_RESOLVE };
				pgt_neigh_post(w->id, &msg);
			}
			slot = &w->parked[(w->parked_head + w->parked_count) %
				PGT_PIPELINE_NEIGH_QUEUE];
			*slot = p;
			w->parked_count++;
		}
	}
}

/* Packets other workers found to belong to our connections. */
static unsigned int
drain_ct_handoff(struct pgt_worker *w)
{
	struct rte_mbuf *pkts[HANDOFF_BURST];
	unsigned int n, i;

	n = pgt_ct_handoff_dequeue(w->id, pkts, HANDOFF_BURST);
	for (i = 0; i < n; i++)
		pgt_pipeline_resume(w, pkts[i]);
	return n;
}

static void
release_all(struct pgt_worker *w)
{
	struct pgt_parked *p;

	/* Packets handed to this worker are dropped by pgt_pipeline_fini(),
	 * once no worker can hand over any more. */
	tx_flush_all(w);
	while (w->parked_count > 0) {
		p = &w->parked[w->parked_head];
		w->parked_head = (w->parked_head + 1) % PGT_PIPELINE_NEIGH_QUEUE;
		w->parked_count--;
		pgt_drop(w, p->m, PGT_DROP_SHUTDOWN);
	}
}

int
pgt_pipeline_worker_main(void *arg)
{
	struct pgt_worker *w = &workers[(uintptr_t)arg];
	struct pgt_worker_counters *wc = &pgt_stats_worker[w->id];
	struct rte_mbuf *pkts[PGT_BURST];
	unsigned int idle = 0, busy, host_busy;
	const struct pgt_port *p;
	bool poll_host;
	uint16_t port, n;

	PGT_LOG(INFO, pipeline, "worker %u running on lcore %u", w->id,
		rte_lcore_id());
	w->host_poll_cycles = rte_get_tsc_hz() / 1000000 * HOST_POLL_US;
	pgt_rcu_worker_start(w->id);
	while (!stop_requested) {
		w->now = rte_get_tsc_cycles();
		w->view = pgt_port_view_get();
		w->rs = pgt_ruleset_get();
		w->ipvs = pgt_ipvs_get();
		if (!pgt_ipvs_active(w->ipvs))
			w->ipvs = NULL;
		w->tracking = pgt_ruleset_flags(w->rs)->tracking ||
			w->ipvs != NULL;
		pgt_pipeline_hooks_update(w);
		/* Routes may have changed since the last iteration. */
		w->route_dst = 0;
		pgt_neigh_cache_sync(&w->neigh);
		busy = 0;
		host_busy = 0;
		poll_host = w->now >= w->next_host_poll;
		for (port = 0; port < w->view->nb_ports; port++) {
			p = &w->view->port[port];
			if (w->id >= p->nb_rxq)
				continue;
			if (pgt_port_is_host(p)) {
				if (!poll_host)
					continue;
				n = rte_eth_rx_burst(port, (uint16_t)w->id,
					pkts, PGT_BURST);
				if (n == 0)
					continue;
				host_busy += n;
				pgt_pipeline_host_rx_burst(w, port, pkts, n);
				continue;
			}
			n = rte_eth_rx_burst(port, (uint16_t)w->id, pkts,
				PGT_BURST);
			if (n == 0)
				continue;
			busy += n;
			pgt_pipeline_rx_burst(w, port, pkts, n);
		}
		if (poll_host)
			w->next_host_poll = host_busy > 0 ? w->now :
				w->now + w->host_poll_cycles;
		busy += host_busy;
		if (w->id == 0)
			busy += drain_handoff(w);
		busy += drain_ct_handoff(w);
		pgt_ct_worker_poll(w->id, w->now);
		pgt_pipeline_frag_expire(w);
		check_parked(w);
		tx_flush_all(w);
		wc->loops++;
		/* No reference to published state is held past this point. */
		pgt_rcu_quiescent(w->id);
		if (busy > 0) {
			wc->busy_loops++;
			idle = 0;
			continue;
		}
		if (pgt_pipeline_cfg.idle_sleep_us == 0 ||
				++idle < IDLE_POLLS_BEFORE_SLEEP)
			continue;
		/* Offline while asleep: a synchronize must not wait for us. */
		pgt_rcu_offline(w->id);
		usleep(pgt_pipeline_cfg.idle_sleep_us);
		pgt_rcu_online(w->id);
		wc->idle_sleeps++;
	}
	w->now = rte_get_tsc_cycles();
	w->view = pgt_port_view_get();
	release_all(w);
	pgt_rcu_worker_stop(w->id);
	PGT_LOG(INFO, pipeline, "worker %u stopped", w->id);
	return 0;
}
