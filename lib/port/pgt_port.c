/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include "pgt_inet.h"
#include "pgt_log.h"
#include "pgt_port.h"
#include "pgt_rpc.h"
#include "pgt_stats.h"

PGT_LOG_REGISTER(port);

#define MAX_STATE_CBS 8
#define MAX_ADDR_CBS 8
/* A carrier change is logged within this; a read costs an ioctl on a tap. */
#define LINK_POLL_MS 100

struct pgt_port_view *pgt_port_view_cur;
struct rte_ring *pgt_port_tx_ring[RTE_MAX_ETHPORTS];
unsigned int pgt_port_nb_workers;

static pgt_port_state_cb_t state_cbs[MAX_STATE_CBS];
static unsigned int nb_state_cbs;
static pgt_port_addr_cb_t addr_cbs[MAX_ADDR_CBS];
static unsigned int nb_addr_cbs;
static pgt_port_rename_cb_t rename_cbs[MAX_ADDR_CBS];
static unsigned int nb_rename_cbs;
static bool port_started[RTE_MAX_ETHPORTS];
bool pgt_port_link_down[RTE_MAX_ETHPORTS];

/* Each port's link as pgt_port_poll() last saw it. */
static struct port_link {
	bool known;
	bool up;
	uint64_t changes;	/* carrier changes seen since the start */
} links[RTE_MAX_ETHPORTS];
/* What pgt_port_init() was given, for ports attached later. */
static struct rte_mempool *port_pool;
static uint16_t port_nb_rxd, port_nb_txd;

/*
 * A symmetric Toeplitz key: with the 16-bit pattern 0x6d5a repeated, the hash
 * of (src, dst, sport, dport) equals that of (dst, src, dport, sport), so the
 * reply of a flow lands on the queue (worker) of its request.
 */
static void
symmetric_rss_key(uint8_t *key, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < len; i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
}

void
pgt_port_on_state_change(pgt_port_state_cb_t cb)
{
	RTE_VERIFY(nb_state_cbs < MAX_STATE_CBS);
	state_cbs[nb_state_cbs++] = cb;
}

void
pgt_port_on_addr_change(pgt_port_addr_cb_t cb)
{
	RTE_VERIFY(nb_addr_cbs < MAX_ADDR_CBS);
	addr_cbs[nb_addr_cbs++] = cb;
}

void
pgt_port_on_rename(pgt_port_rename_cb_t cb)
{
	RTE_VERIFY(nb_rename_cbs < MAX_ADDR_CBS);
	rename_cbs[nb_rename_cbs++] = cb;
}

void
pgt_port_renamed(void)
{
	unsigned int i;

	for (i = 0; i < nb_rename_cbs; i++)
		rename_cbs[i]();
}

void
pgt_port_addr_changed(uint16_t port, uint32_t addr, uint8_t len, bool added)
{
	unsigned int i;

	for (i = 0; i < nb_addr_cbs; i++)
		addr_cbs[i](port, addr, len, added);
}

/* Refuse a port whose receive rings leave too few buffers in flight. */
static int
no_buffers(uint16_t pid, const char *driver, uint16_t nb_rxq, uint16_t nb_rxd,
	const struct rte_mempool *mp)
{
	PGT_LOG(ERR, port,
		"port %u (%s): its %u x %u RX descriptors leave %u of %u packet buffers free, fewer than the %u in-flight reserve: give more --mbufs",
		pid, driver, nb_rxq, nb_rxd, rte_mempool_avail_count(mp),
		mp->size, PGT_PORT_MBUF_RESERVE);
	return -ENOBUFS;
}

static int
port_configure(uint16_t pid, unsigned int nb_workers, struct rte_mempool *mp,
	uint16_t nb_rxd, uint16_t nb_txd, struct pgt_port *p)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	unsigned int free_before;
	uint8_t key[64];
	uint16_t q;
	int rc, socket;

	rc = rte_eth_dev_info_get(pid, &info);
	if (rc != 0)
		return rc;
	p->nb_rxq = RTE_MIN(nb_workers, info.max_rx_queues);
	p->nb_txq = RTE_MIN(nb_workers, info.max_tx_queues);
	if (p->nb_rxq == 0 || p->nb_txq == 0)
		return -ENOTSUP;

	memset(&conf, 0, sizeof(conf));
	/* Fragments and reassembled datagrams are mbuf chains. */
	conf.txmode.offloads = info.tx_offload_capa &
		RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (p->nb_rxq > 1 && info.flow_type_rss_offloads != 0 &&
			info.hash_key_size <= sizeof(key)) {
		symmetric_rss_key(key, info.hash_key_size);
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
	}
	rc = rte_eth_dev_configure(pid, p->nb_rxq, p->nb_txq, &conf);
	if (rc != 0 && conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS) {
		PGT_LOG(NOTICE, port,
			"port %u (%s): RSS refused (%s), relying on device steering",
			pid, info.driver_name, strerror(-rc));
		memset(&conf.rxmode, 0, sizeof(conf.rxmode));
		memset(&conf.rx_adv_conf, 0, sizeof(conf.rx_adv_conf));
		rc = rte_eth_dev_configure(pid, p->nb_rxq, p->nb_txq, &conf);
	}
	if (rc != 0)
		return rc;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nb_rxd, &nb_txd);
	if (rc != 0)
		return rc;
	socket = rte_eth_dev_socket_id(pid);
	if (socket < 0)
		socket = SOCKET_ID_ANY;
	free_before = rte_mempool_avail_count(mp);
	for (q = 0; q < p->nb_rxq; q++) {
		rc = rte_eth_rx_queue_setup(pid, q, nb_rxd, socket, NULL, mp);
		/* A driver that fills its ring at set-up found the pool
		 * short. */
		if (rc == -ENOMEM && rte_mempool_avail_count(mp) <
				(uint32_t)nb_rxd + PGT_PORT_MBUF_RESERVE)
			return no_buffers(pid, info.driver_name, p->nb_rxq,
				nb_rxd, mp);
		if (rc != 0)
			return rc;
	}
	for (q = 0; q < p->nb_txq; q++) {
		rc = rte_eth_tx_queue_setup(pid, q, nb_txd, socket, NULL);
		if (rc != 0)
			return rc;
	}
	rc = rte_eth_macaddr_get(pid, &p->mac);
	if (rc != 0)
		return rc;
	p->mtu = PGT_PORT_DEFAULT_MTU;
	rc = rte_eth_dev_set_mtu(pid, p->mtu);
	if (rc != 0 && rc != -ENOTSUP)
		PGT_LOG(NOTICE, port, "port %u: cannot set MTU %u: %s", pid,
			p->mtu, strerror(-rc));
	rc = rte_eth_dev_start(pid);
	if (rc != 0)
		return rc;
	port_started[pid] = true;
	/* A small pool is not refused for ports that take nothing from it
	 * (net_null, net_ring, net_pcap fill on receive). */
	if (rte_mempool_avail_count(mp) < RTE_MIN(free_before,
			(unsigned int)PGT_PORT_MBUF_RESERVE))
		return no_buffers(pid, info.driver_name, p->nb_rxq, nb_rxd, mp);
	p->up = true;
	p->host_port = PGT_PORT_NONE;
	p->host_of = PGT_PORT_NONE;
	snprintf(p->name, sizeof(p->name), "port%u", pid);
	PGT_LOG(INFO, port, "%s: %s, %u rx / %u tx queues%s", p->name,
		info.driver_name, p->nb_rxq, p->nb_txq,
		conf.rxmode.mq_mode == RTE_ETH_MQ_RX_RSS ?
			", symmetric RSS" : "");
	return 0;
}

static int
tx_ring_create(uint16_t pid)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "pgt_txh_%u", pid);
	pgt_port_tx_ring[pid] = rte_ring_create(name, PGT_PORT_TX_RING_SIZE,
		rte_eth_dev_socket_id(pid), RING_F_SC_DEQ);
	return pgt_port_tx_ring[pid] == NULL ? -ENOMEM : 0;
}

int
pgt_port_init(unsigned int nb_workers, struct rte_mempool *mp,
	uint16_t nb_rxd, uint16_t nb_txd)
{
	struct pgt_port_view *v;
	uint16_t pid;
	int rc;

	if (rte_eth_dev_count_avail() == 0)
		return -ENODEV;
	v = rte_zmalloc("pgt_port_view", sizeof(*v), RTE_CACHE_LINE_SIZE);
	if (v == NULL)
		return -ENOMEM;
	pgt_port_nb_workers = nb_workers;
	port_pool = mp;
	port_nb_rxd = nb_rxd;
	port_nb_txd = nb_txd;
	RTE_ETH_FOREACH_DEV(pid) {
		rc = port_configure(pid, nb_workers, mp, nb_rxd, nb_txd,
			&v->port[pid]);
		if (rc == 0)
			rc = tx_ring_create(pid);
		if (rc != 0) {
			PGT_LOG(ERR, port, "port %u: set-up failed: %s", pid,
				strerror(-rc));
			rte_free(v);
			return rc;
		}
		v->nb_ports = RTE_MAX(v->nb_ports, (uint16_t)(pid + 1));
	}
	pgt_rcu_publish(pgt_port_view_cur, v);
	return 0;
}

int
pgt_port_attach(const char *devname, const char *args, uint16_t *pid,
	struct pgt_port *p)
{
	char devargs[512];
	uint16_t id;
	int rc;

	if ((size_t)snprintf(devargs, sizeof(devargs), "%s,%s", devname,
			args) >= sizeof(devargs))
		return -ENAMETOOLONG;
	if (rte_eth_dev_get_port_by_name(devname, &id) == 0)
		return -EEXIST;
	rc = rte_dev_probe(devargs);
	if (rc != 0)
		return rc;
	rc = rte_eth_dev_get_port_by_name(devname, &id);
	if (rc != 0)
		return rc;
	memset(p, 0, sizeof(*p));
	rc = port_configure(id, pgt_port_nb_workers, port_pool, port_nb_rxd,
		port_nb_txd, p);
	if (rc == 0)
		rc = tx_ring_create(id);
	if (rc != 0) {
		pgt_port_detach(id);
		return rc;
	}
	*pid = id;
	return 0;
}

/* Free the packets left in a port's handoff ring, and the ring. */
static void
tx_ring_free(uint16_t pid)
{
	struct rte_mbuf *m;

	if (pgt_port_tx_ring[pid] == NULL)
		return;
	while (rte_ring_dequeue(pgt_port_tx_ring[pid], (void **)&m) == 0)
		rte_pktmbuf_free(m);
	rte_ring_free(pgt_port_tx_ring[pid]);
	pgt_port_tx_ring[pid] = NULL;
}

void
pgt_port_detach(uint16_t pid)
{
	struct rte_eth_dev_info info;
	struct rte_device *dev = NULL;

	if (rte_eth_dev_info_get(pid, &info) == 0)
		dev = info.device;
	tx_ring_free(pid);
	if (port_started[pid]) {
		rte_eth_dev_stop(pid);
		port_started[pid] = false;
	}
	rte_eth_dev_close(pid);
	if (dev != NULL)
		rte_dev_remove(dev);
}

void
pgt_port_fini(void)
{
	uint16_t pid;

	for (pid = 0; pid < RTE_MAX_ETHPORTS; pid++) {
		tx_ring_free(pid);
		if (port_started[pid]) {
			rte_eth_dev_stop(pid);
			rte_eth_dev_close(pid);
			port_started[pid] = false;
		}
	}
	rte_free(pgt_port_view_cur);
	pgt_port_view_cur = NULL;
}

void
pgt_port_poll(void)
{
	static uint64_t next_poll;
	const struct pgt_port_view *v = pgt_port_view_cur;
	struct rte_eth_link link;
	struct port_link *l;
	uint64_t now = rte_get_timer_cycles();
	uint16_t pid;
	bool up;

	if (v == NULL || now < next_poll)
		return;
	next_poll = now + rte_get_timer_hz() / 1000 * LINK_POLL_MS;
	for (pid = 0; pid < v->nb_ports; pid++) {
		if (!port_started[pid])
			continue;
		memset(&link, 0, sizeof(link));
		if (rte_eth_link_get_nowait(pid, &link) != 0)
			continue;
		up = link.link_status == RTE_ETH_LINK_UP;
		l = &links[pid];
		if (l->known && l->up == up)
			continue;
		if (l->known)
			l->changes++;
		if (up && l->known)
			PGT_LOG(NOTICE, port, "port %s: link up, %u Mbps",
				v->port[pid].name, link.link_speed);
		else if (up)
			PGT_LOG(INFO, port, "port %s: link up, %u Mbps",
				v->port[pid].name, link.link_speed);
		else
			PGT_LOG(WARNING, port, "port %s: link down",
				v->port[pid].name);
		l->known = true;
		l->up = up;
		__atomic_store_n(&pgt_port_link_down[pid], !up,
			__ATOMIC_RELAXED);
	}
}

int
pgt_port_find(const char *name)
{
	const struct pgt_port_view *v = pgt_port_view_cur;
	uint16_t pid;

	if (v == NULL)
		return -ENOENT;
	for (pid = 0; pid < v->nb_ports; pid++)
		if (port_started[pid] && strcmp(v->port[pid].name, name) == 0)
			return pid;
	return -ENOENT;
}

struct pgt_port_view *
pgt_port_view_copy(void)
{
	struct pgt_port_view *nv;

	nv = rte_malloc("pgt_port_view", sizeof(*nv), RTE_CACHE_LINE_SIZE);
	if (nv != NULL)
		memcpy(nv, pgt_port_view_cur, sizeof(*nv));
	return nv;
}

void
pgt_port_view_commit(struct pgt_port_view *nv)
{
	struct pgt_port_view *old = pgt_port_view_cur;

	pgt_rcu_publish(pgt_port_view_cur, nv);
	pgt_rcu_synchronize();
	rte_free(old);
}

void
pgt_port_view_discard(struct pgt_port_view *nv)
{
	rte_free(nv);
}

/* RPC methods */

static int
port_lookup(const char *name, struct pgt_rpc_err *err)
{
	int pid = pgt_port_find(name);

	if (pid < 0)
		return pgt_rpc_errorf(err, -ENODEV, "no port named '%s'", name);
	return pid;
}

static json_t *
port_json(uint16_t pid, const struct pgt_port *p)
{
	const struct pgt_port_view *v = pgt_port_view_cur;
	char mac[RTE_ETHER_ADDR_FMT_SIZE], a[PGT_INET_ADDRSTRLEN];
	struct rte_eth_dev_info info;
	struct rte_eth_link link;
	json_t *addrs = json_array(), *o;
	unsigned int i;

	for (i = 0; i < p->nb_addrs; i++)
		json_array_append_new(addrs, json_string(pgt_inet_format_prefix(
			p->addrs[i].addr, p->addrs[i].len, a, sizeof(a))));
	memset(&link, 0, sizeof(link));
	rte_eth_link_get_nowait(pid, &link);
	memset(&info, 0, sizeof(info));
	rte_eth_dev_info_get(pid, &info);
	o = json_pack("{s:s, s:i, s:s, s:s, s:b, s:b, s:I, s:i, s:I, s:i, s:i, s:o}",
		"name", p->name, "id", pid,
		"driver", info.driver_name != NULL ? info.driver_name : "",
		"mac", pgt_inet_format_mac(&p->mac, mac, sizeof(mac)),
		"up", p->up, "link_up", link.link_status == RTE_ETH_LINK_UP,
		"carrier_changes", (json_int_t)links[pid].changes,
		"mtu", p->mtu, "speed_mbps", (json_int_t)link.link_speed,
		"rx_queues", p->nb_rxq, "tx_queues", p->nb_txq,
		"addresses", addrs);
	if (p->host_port != PGT_PORT_NONE)
		json_object_set_new(o, "host_iface",
			json_string(v->port[p->host_port].name));
	if (pgt_port_is_host(p))
		json_object_set_new(o, "host_of",
			json_string(v->port[p->host_of].name));
	return o;
}

static int
rpc_port_list(void *args, json_t **result, struct pgt_rpc_err *err)
{
	const struct pgt_port_view *v = pgt_port_view_cur;
	uint16_t pid;

	*result = json_array();
	for (pid = 0; pid < v->nb_ports; pid++)
		if (port_started[pid])
			json_array_append_new(*result,
				port_json(pid, &v->port[pid]));
	return 0;
}

PGT_RPC_METHOD_NOARGS(port_list_method, "port_list",
	"List the ports with their state, MAC, MTU, queues and addresses",
	rpc_port_list);

struct port_set_args {
	char port[PGT_RPC_STR_MAX];
	char name[PGT_RPC_STR_MAX];
	bool has_name;
	bool up;
	bool has_up;
	uint32_t mtu;
	bool has_mtu;
};

bool
pgt_port_valid_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= PGT_PORT_NAMESIZE || isdigit((unsigned char)s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
				s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static int
rpc_port_set(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct port_set_args *args = argp;
	struct pgt_port_view *nv;
	struct pgt_port *p;
	bool state_changed;
	unsigned int i;
	uint16_t hp;
	int pid, rc;

	pid = port_lookup(args->port, err);
	if (pid < 0)
		return pid;
	hp = pgt_port_view_cur->port[pid].host_port;
	if (pgt_port_is_host(&pgt_port_view_cur->port[pid]))
		return pgt_rpc_errorf(err, -EPERM,
			"%s is the host interface of %s: it follows its data port",
			args->port, pgt_port_view_cur->port[
				pgt_port_view_cur->port[pid].host_of].name);
	if (args->has_name) {
		if (!pgt_port_valid_name(args->name))
			return pgt_rpc_errorf(err, -EINVAL,
				"invalid port name '%s': 1-%u letters, digits, '_', '-' or '.', not starting with a digit",
				args->name, PGT_PORT_NAMESIZE - 1);
		rc = pgt_port_find(args->name);
		if (rc >= 0 && rc != pid)
			return pgt_rpc_errorf(err, -EEXIST,
				"port name '%s' is taken", args->name);
	}
	if (args->has_mtu) {
		rc = rte_eth_dev_set_mtu(pid, (uint16_t)args->mtu);
		if (rc != 0 && rc != -ENOTSUP)
			return pgt_rpc_errorf(err, rc,
				"device refuses MTU %u: %s", args->mtu,
				strerror(-rc));
		/* The host sends nothing bigger than the port can carry. */
		if (hp != PGT_PORT_NONE)
			rte_eth_dev_set_mtu(hp, (uint16_t)args->mtu);
	}
	nv = pgt_port_view_copy();
	if (nv == NULL)
		return -ENOMEM;
	p = &nv->port[pid];
	if (args->has_name)
		memcpy(p->name, args->name, strlen(args->name) + 1);
	if (args->has_mtu)
		p->mtu = (uint16_t)args->mtu;
	state_changed = args->has_up && p->up != args->up;
	if (args->has_up)
		p->up = args->up;
	if (hp != PGT_PORT_NONE) {
		nv->port[hp].up = p->up;
		nv->port[hp].mtu = p->mtu;
	}
	pgt_port_view_commit(nv);
	/* The host sees its interface's link follow the data port. */
	if (state_changed && hp != PGT_PORT_NONE) {
		if (args->up)
			rte_eth_dev_set_link_up(hp);
		else
			rte_eth_dev_set_link_down(hp);
	}
	if (state_changed)
		for (i = 0; i < nb_state_cbs; i++)
			state_cbs[i]((uint16_t)pid, args->up);
	if (args->has_name)
		pgt_port_renamed();
	return 0;
}

static const struct pgt_rpc_param port_set_params[] = {
	PGT_RPC_PARAM(struct port_set_args, port, PGT_RPC_STRING, true,
		"port name"),
	PGT_RPC_PARAM_OPT(struct port_set_args, name, PGT_RPC_STRING,
		"new name"),
	PGT_RPC_PARAM_OPT(struct port_set_args, up, PGT_RPC_BOOL,
		"administrative state: false drops its traffic and withdraws its routes"),
	PGT_RPC_PARAM_U32(struct port_set_args, mtu, 68, 9000, "IP MTU"),
};

PGT_RPC_METHOD(port_set_method, "port_set",
	"Rename a port, set it up or down, or change its MTU",
	port_set_params, struct port_set_args, rpc_port_set);

static json_t *
counters_json(const struct pgt_port_counters *c)
{
	json_t *o = json_object(), *drops = json_object();
	unsigned int i;

	for (i = 0; i < PGT_CNT_MAX; i++)
		json_object_set_new(o, pgt_stats_counter_name(i),
			json_integer((json_int_t)c->cnt[i]));
	for (i = 0; i < PGT_DROP_MAX; i++)
		json_object_set_new(drops, pgt_stats_drop_name(i),
			json_integer((json_int_t)c->drop[i]));
	json_object_set_new(o, "drops_total",
		json_integer((json_int_t)pgt_stats_drops_total(c)));
	json_object_set_new(o, "drops", drops);
	return o;
}

struct port_stats_args {
	char port[PGT_RPC_STR_MAX];
	bool has_port;
	bool per_worker;
	bool has_per_worker;
};

/*
 * The device's per-queue counters, as far as it keeps them: ethdev has room
 * for RTE_ETHDEV_QUEUE_STAT_CNTRS queues, and RX queue q is worker q's.
 */
static json_t *
queue_stats_json(const struct pgt_port *p, const struct rte_eth_stats *es)
{
	unsigned int q, nb = RTE_MAX(p->nb_rxq, p->nb_txq);
	json_t *queues = json_array();

	nb = RTE_MIN(nb, (unsigned int)RTE_ETHDEV_QUEUE_STAT_CNTRS);
	for (q = 0; q < nb; q++)
		json_array_append_new(queues, json_pack(
			"{s:i, s:I, s:I, s:I, s:I, s:I}", "queue", q,
			"ipackets", (json_int_t)es->q_ipackets[q],
			"ibytes", (json_int_t)es->q_ibytes[q],
			"opackets", (json_int_t)es->q_opackets[q],
			"obytes", (json_int_t)es->q_obytes[q],
			"errors", (json_int_t)es->q_errors[q]));
	return queues;
}

static json_t *
port_stats_json(uint16_t pid, const struct pgt_port *p, bool per_worker)
{
	struct pgt_port_counters sum;
	struct rte_eth_stats es;
	json_t *o, *workers;
	unsigned int w;

	pgt_stats_port_sum(pid, pgt_port_nb_workers, &sum);
	o = counters_json(&sum);
	json_object_set_new(o, "name", json_string(p->name));
	memset(&es, 0, sizeof(es));
	rte_eth_stats_get(pid, &es);
	json_object_set_new(o, "device", json_pack(
		"{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
		"ipackets", (json_int_t)es.ipackets,
		"opackets", (json_int_t)es.opackets,
		"ibytes", (json_int_t)es.ibytes,
		"obytes", (json_int_t)es.obytes,
		"imissed", (json_int_t)es.imissed,
		"ierrors", (json_int_t)es.ierrors,
		"rx_nombuf", (json_int_t)es.rx_nombuf));
	json_object_set_new(json_object_get(o, "device"), "queues",
		queue_stats_json(p, &es));
	if (per_worker) {
		workers = json_array();
		for (w = 0; w < pgt_port_nb_workers; w++)
			json_array_append_new(workers,
				counters_json(&pgt_stats_worker[w].port[pid]));
		json_object_set_new(o, "workers", workers);
	}
	return o;
}

static int
rpc_port_stats_get(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct port_stats_args *args = argp;
	const struct pgt_port_view *v = pgt_port_view_cur;
	uint16_t pid;
	int rc;

	if (args->has_port) {
		rc = port_lookup(args->port, err);
		if (rc < 0)
			return rc;
		*result = port_stats_json((uint16_t)rc, &v->port[rc],
			args->per_worker);
		return 0;
	}
	*result = json_array();
	for (pid = 0; pid < v->nb_ports; pid++)
		if (port_started[pid])
			json_array_append_new(*result, port_stats_json(pid,
				&v->port[pid], args->per_worker));
	return 0;
}

static const struct pgt_rpc_param port_stats_params[] = {
	PGT_RPC_PARAM_OPT(struct port_stats_args, port, PGT_RPC_STRING,
		"only this port (default: all, as an array)"),
	PGT_RPC_PARAM_OPT(struct port_stats_args, per_worker, PGT_RPC_BOOL,
		"add each worker's counters"),
};

PGT_RPC_METHOD(port_stats_method, "port_stats_get",
	"Packet counters and drop reasons of ports, summed over workers",
	port_stats_params, struct port_stats_args, rpc_port_stats_get);

static void
port_save(json_t *calls)
{
	const struct pgt_port_view *v = pgt_port_view_cur;
	char def[PGT_PORT_NAMESIZE];
	const struct pgt_port *p;
	json_t *params;
	uint16_t pid;

	for (pid = 0; pid < v->nb_ports; pid++) {
		p = &v->port[pid];
		/* Host interfaces are saved by their own module. */
		if (!port_started[pid] || pgt_port_is_host(p))
			continue;
		snprintf(def, sizeof(def), "port%u", pid);
		if (strcmp(def, p->name) != 0)
			pgt_rpc_save_call(calls, "port_set", json_pack(
				"{s:s, s:s}", "port", def, "name", p->name));
		if (p->mtu == PGT_PORT_DEFAULT_MTU && p->up)
			continue;
		params = json_pack("{s:s}", "port", p->name);
		if (p->mtu != PGT_PORT_DEFAULT_MTU)
			json_object_set_new(params, "mtu", json_integer(p->mtu));
		if (!p->up)
			json_object_set_new(params, "up", json_false());
		pgt_rpc_save_call(calls, "port_set", params);
	}
}

/*
 * port_set calls by what they do: @p renames gets each {port, name}, and
 * @p settings each port's MTU and state under the name it ends up with.
 */
static void
port_calls_split(json_t *calls, json_t *renames, json_t *settings)
{
	json_t *call, *p, *name, *set, *one;
	size_t i;

	json_array_foreach(calls, i, call) {
		p = json_object_get(call, "params");
		name = json_object_get(p, "name");
		if (name != NULL)
			json_array_append_new(renames, json_pack("{s:O, s:O}",
				"port", json_object_get(p, "port"),
				"name", name));
		one = json_deep_copy(p);
		json_object_del(one, "port");
		json_object_del(one, "name");
		if (json_object_size(one) > 0) {
			if (name == NULL)
				name = json_object_get(p, "port");
			set = json_object_get(settings,
				json_string_value(name));
			if (set != NULL)
				json_object_update(set, one);
			else
				json_object_set(settings,
					json_string_value(name), one);
		}
		json_decref(one);
	}
}

/* A port's name is in rules, routes and services: only a restart moves it. */
static int
port_renames_differ(json_t *from, json_t *to, const char *why,
	struct pgt_rpc_err *err)
{
	json_t *r, *o;
	size_t i, j;

	json_array_foreach(from, i, r) {
		json_array_foreach(to, j, o)
			if (json_equal(r, o))
				break;
		if (j == json_array_size(to))
			return pgt_rpc_errorf(err, -EPERM,
				"%s %s named '%s': a port is renamed only by a restart (rules, routes and services name it)",
				why, json_string_value(json_object_get(r, "port")),
				json_string_value(json_object_get(r, "name")));
	}
	return 0;
}

static int
port_plan(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	json_t *rn = json_array(), *wn = json_array(), *rs = json_object(),
		*ws = json_object(), *names, *v;
	const char *name;
	int rc;

	port_calls_split(running, rn, rs);
	port_calls_split(wanted, wn, ws);
	rc = port_renames_differ(wn, rn, "the file has", err);
	if (rc == 0)
		rc = port_renames_differ(rn, wn, "the file no longer has", err);
	if (rc == 0 && phase == PGT_RPC_PHASE_ADD) {
		names = json_deep_copy(rs);
		json_object_update(names, ws);
		json_object_foreach(names, name, v) {
			json_t *r = json_array(), *w = json_array();

			if (json_object_get(rs, name) != NULL)
				pgt_rpc_save_call(r, "port_set", json_incref(
					json_object_get(rs, name)));
			if (json_object_get(ws, name) != NULL)
				pgt_rpc_save_call(w, "port_set", json_incref(
					json_object_get(ws, name)));
			pgt_rpc_plan_setting("port_set", json_pack(
				"{s:s, s:i, s:b}", "port", name, "mtu",
				PGT_PORT_DEFAULT_MTU, "up", true), r, w,
				phase, plan);
			json_decref(r);
			json_decref(w);
		}
		json_decref(names);
	}
	json_decref(rn);
	json_decref(wn);
	json_decref(rs);
	json_decref(ws);
	return rc;
}

static const char *const port_methods[] = { "port_set", NULL };
static struct pgt_rpc_saver port_saver = { .order = 10, .save = port_save,
	.methods = port_methods, .plan = port_plan };
PGT_RPC_REGISTER_SAVER(port_saver);
