/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "pgt_icmp.h"
#include "pgt_inet.h"
#include "pgt_log.h"
#include "pgt_pkt.h"
#include "pgt_rpc.h"

PGT_LOG_REGISTER(icmp);

/* Global configuration, read by workers when its generation changes. */
static uint32_t limit_rate = PGT_ICMP_DEFAULT_RATE;
static uint32_t limit_burst = PGT_ICMP_DEFAULT_BURST;
static uint32_t per_worker_rate, per_worker_burst;
static uint32_t limit_generation;

void
pgt_icmp_set_limit(uint32_t rate, uint32_t burst, unsigned int nb_workers)
{
	limit_rate = rate;
	limit_burst = burst;
	per_worker_rate = rate / nb_workers;
	per_worker_burst = RTE_MAX(burst / nb_workers, 1u);
	if (rate > 0 && per_worker_rate == 0)
		per_worker_rate = 1;
	__atomic_fetch_add(&limit_generation, 1, __ATOMIC_RELEASE);
}

bool
pgt_icmp_allow(struct pgt_icmp_limiter *l, uint64_t now)
{
	uint32_t gen = __atomic_load_n(&limit_generation, __ATOMIC_ACQUIRE);
	uint64_t hz = rte_get_tsc_hz();
	uint64_t cap;

	if (gen != l->generation) {
		l->generation = gen;
		l->tokens = (uint64_t)per_worker_burst * hz;
		l->last = now;
	}
	if (per_worker_rate == 0)
		return true;	/* unlimited */
	cap = (uint64_t)per_worker_burst * hz;
	/* Tokens are kept in units of 1/hz so refill needs no division. */
	l->tokens += (now - l->last) * per_worker_rate;
	if (l->tokens > cap)
		l->tokens = cap;
	l->last = now;
	if (l->tokens < hz)
		return false;
	l->tokens -= hz;
	return true;
}

static bool
is_icmp_error_type(uint8_t type)
{
	/* Everything but the query messages counts as an error. */
	return !(type == PGT_ICMP_ECHO_REQUEST ||
		type == PGT_ICMP_ECHO_REPLY || type == 13 || type == 14 ||
		type == 15 || type == 16 || type == 17 || type == 18);
}

struct rte_mbuf *
pgt_icmp_error(struct rte_mempool *mp, struct rte_mbuf *orig, uint8_t type,
	uint8_t code, uint32_t info, bool *no_mbuf)
{
	struct pgt_pkt_meta *om = pgt_pkt_meta(orig);
	const struct rte_ipv4_hdr *oip = pgt_pkt_ipv4(orig);
	const struct rte_icmp_hdr *oicmp;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
	struct pgt_pkt_meta *meta;
	struct rte_mbuf *m;
	uint32_t quote, olen;
	uint8_t *payload;
	const void *src;

	*no_mbuf = false;
	if (om->l2_bcast || pgt_inet_is_multicast(om->dst) ||
			om->dst == UINT32_MAX ||
			pgt_inet_is_martian_src(om->src))
		return NULL;
	if (oip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK))
		return NULL;
	olen = rte_pktmbuf_pkt_len(orig) - om->l3_off;
	if (om->proto == IPPROTO_ICMP) {
		if (olen < om->l3_hlen + 1u)
			return NULL;
		oicmp = (const struct rte_icmp_hdr *)
			((const uint8_t *)oip + om->l3_hlen);
		if (is_icmp_error_type(oicmp->icmp_type))
			return NULL;
	}
	m = rte_pktmbuf_alloc(mp);
	if (m == NULL) {
		*no_mbuf = true;
		return NULL;
	}
	quote = RTE_MIN(olen, PGT_ICMP_ERROR_MAX_LEN -
		(uint32_t)(sizeof(*ip) + sizeof(*icmp)));
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m,
		(uint16_t)(sizeof(*ip) + sizeof(*icmp) + quote));
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	payload = (uint8_t *)(icmp + 1);
	src = rte_pktmbuf_read(orig, om->l3_off, quote, payload);
	if (src != payload)
		memcpy(payload, src, quote);

	icmp->icmp_type = type;
	icmp->icmp_code = code;
	icmp->icmp_cksum = 0;
	icmp->icmp_ident = rte_cpu_to_be_16((uint16_t)(info >> 16));
	icmp->icmp_seq_nb = rte_cpu_to_be_16((uint16_t)info);
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp,
		sizeof(*icmp) + quote);

	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	/* Internetwork control precedence, as Linux sends its errors. */
	ip->type_of_service = (uint8_t)((oip->type_of_service & 0x1e) | 0xc0);
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) +
		sizeof(*icmp) + quote));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->dst_addr = oip->src_addr;

	meta = pgt_pkt_meta(m);
	memset(meta, 0, sizeof(*meta));
	meta->in_port = UINT16_MAX;
	meta->out_port = UINT16_MAX;
	meta->dst = om->src;
	meta->proto = IPPROTO_ICMP;
	meta->l3_hlen = sizeof(*ip);
	return m;
}

int
pgt_icmp_echo_reply(struct rte_mbuf *m)
{
	struct pgt_pkt_meta *meta = pgt_pkt_meta(m);
	struct rte_ipv4_hdr *ip = pgt_pkt_ipv4(m);
	struct rte_icmp_hdr *icmp;
	uint32_t len;
	rte_be32_t a;

	len = rte_be_to_cpu_16(ip->total_length) - meta->l3_hlen;
	if (len < sizeof(*icmp) ||
			rte_pktmbuf_data_len(m) < meta->l3_off +
				meta->l3_hlen + len)
		return -EINVAL;
	icmp = (struct rte_icmp_hdr *)((uint8_t *)ip + meta->l3_hlen);
	if (rte_raw_cksum(icmp, len) != 0xffff)
		return -EINVAL;
	icmp->icmp_type = PGT_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = pgt_inet_cksum_update16(icmp->icmp_cksum,
		rte_cpu_to_be_16(PGT_ICMP_ECHO_REQUEST << 8),
		rte_cpu_to_be_16(PGT_ICMP_ECHO_REPLY << 8));
	a = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	ip->time_to_live = 64;
	meta->dst = rte_be_to_cpu_32(ip->dst_addr);
	meta->src = rte_be_to_cpu_32(ip->src_addr);
	rte_pktmbuf_adj(m, meta->l3_off);
	meta->l3_off = 0;
	return 0;
}

/* RPC */

struct limit_args {
	uint32_t rate;
	bool has_rate;
	uint32_t burst;
	bool has_burst;
};

static unsigned int nb_workers_cfg = 1;

static int
rpc_icmp_set(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	struct limit_args *args = argp;

	pgt_icmp_set_limit(args->has_rate ? args->rate : limit_rate,
		args->has_burst ? args->burst : limit_burst, nb_workers_cfg);
	return 0;
}

static const struct pgt_rpc_param limit_params[] = {
	PGT_RPC_PARAM_U32(struct limit_args, rate, 0, 10000000,
		"ICMP errors per second over all workers; 0: unlimited"),
	PGT_RPC_PARAM_U32(struct limit_args, burst, 1, 1000000,
		"errors that may be sent at once after a quiet period"),
};

PGT_RPC_METHOD(icmp_set_method, "icmp_ratelimit_set",
	"Set the rate limit of ICMP errors (echo replies are not limited)",
	limit_params, struct limit_args, rpc_icmp_set);

static int
rpc_icmp_get(void *argp, json_t **result, struct pgt_rpc_err *err)
{
	*result = json_pack("{s:i, s:i}", "rate", limit_rate,
		"burst", limit_burst);
	return 0;
}

PGT_RPC_METHOD_NOARGS(icmp_get_method, "icmp_ratelimit_get",
	"Show the rate limit of ICMP errors",
	rpc_icmp_get);

void
pgt_icmp_init(unsigned int nb_workers)
{
	nb_workers_cfg = nb_workers;
	pgt_icmp_set_limit(limit_rate, limit_burst, nb_workers);
}

static void
icmp_save(json_t *calls)
{
	if (limit_rate != PGT_ICMP_DEFAULT_RATE ||
			limit_burst != PGT_ICMP_DEFAULT_BURST)
		pgt_rpc_save_call(calls, "icmp_ratelimit_set", json_pack(
			"{s:i, s:i}", "rate", limit_rate, "burst",
			limit_burst));
}

static int
icmp_plan(json_t *running, json_t *wanted, enum pgt_rpc_phase phase,
	json_t *plan, struct pgt_rpc_err *err)
{
	RTE_SET_USED(err);
	pgt_rpc_plan_setting("icmp_ratelimit_set", json_pack("{s:i, s:i}",
		"rate", PGT_ICMP_DEFAULT_RATE, "burst", PGT_ICMP_DEFAULT_BURST),
		running, wanted, phase, plan);
	return 0;
}

static const char *const icmp_methods[] = { "icmp_ratelimit_set", NULL };
static struct pgt_rpc_saver icmp_saver = { .order = 50, .save = icmp_save,
	.methods = icmp_methods, .plan = icmp_plan };
PGT_RPC_REGISTER_SAVER(icmp_saver);

struct rte_mbuf *
pgt_icmp_tcp_reset(struct rte_mempool *mp, struct rte_mbuf *orig,
	bool *no_mbuf)
{
	struct pgt_pkt_meta *om = pgt_pkt_meta(orig);
	const struct rte_ipv4_hdr *oip = pgt_pkt_ipv4(orig);
	const struct rte_tcp_hdr *oth;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;
	struct rte_mbuf *m;
	uint32_t olen, payload;

	*no_mbuf = false;
	olen = rte_pktmbuf_data_len(orig) - om->l3_off;
	if (om->proto != IPPROTO_TCP || om->l2_bcast ||
			pgt_inet_is_multicast(om->dst) || om->dst == UINT32_MAX ||
			(oip->fragment_offset &
			 rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) ||
			olen < om->l3_hlen + sizeof(*oth))
		return NULL;
	oth = (const struct rte_tcp_hdr *)((const uint8_t *)oip + om->l3_hlen);
	if (oth->tcp_flags & RTE_TCP_RST_FLAG)
		return NULL;
	m = rte_pktmbuf_alloc(mp);
	if (m == NULL) {
		*no_mbuf = true;
		return NULL;
	}
	ip = (struct rte_ipv4_hdr *)rte_pktmbuf_append(m,
		sizeof(*ip) + sizeof(*th));
	if (ip == NULL) {
		rte_pktmbuf_free(m);
		*no_mbuf = true;
		return NULL;
	}
	th = (struct rte_tcp_hdr *)(ip + 1);
	memset(th, 0, sizeof(*th));
	th->src_port = oth->dst_port;
	th->dst_port = oth->src_port;
	th->data_off = (sizeof(*th) / 4) << 4;
	if (oth->tcp_flags & RTE_TCP_ACK_FLAG) {
		th->sent_seq = oth->recv_ack;
		th->tcp_flags = RTE_TCP_RST_FLAG;
	} else {
		payload = rte_be_to_cpu_16(oip->total_length) - om->l3_hlen -
			(uint32_t)(oth->data_off >> 4) * 4u;
		th->recv_ack = rte_cpu_to_be_32(rte_be_to_cpu_32(
			oth->sent_seq) + payload +
			!!(oth->tcp_flags & RTE_TCP_SYN_FLAG) +
			!!(oth->tcp_flags & RTE_TCP_FIN_FLAG));
		th->tcp_flags = RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
	}
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + sizeof(*th));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = oip->dst_addr;
	ip->dst_addr = oip->src_addr;
	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	pgt_pkt_meta(m)->dst = om->src;
	pgt_pkt_meta(m)->src = om->dst;
	pgt_pkt_meta(m)->mark = 0;
	return m;
}
