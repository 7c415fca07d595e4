/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Protocol trackers: tuples from packets, and what TCP, UDP, ICMP and other
 * protocols do to a connection. The semantics are Linux's
 * (nf_conntrack_proto_{tcp,udp,icmp,generic}.c): the same state table, the
 * same window checks, the same timeouts, so that a ruleset moved from a
 * Linux box classifies packets the same way here.
 */
#include <errno.h>
#include <string.h>

#include <rte_icmp.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "pgt_conntrack_priv.h"

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_PSH 0x08
#define TCPF_ACK 0x10
#define TCPF_URG 0x20
#define TCPF_ECE 0x40
#define TCPF_CWR 0x80

bool
pgt_ct_icmp_is_error(uint8_t type)
{
	return type == 3 /* unreachable */ || type == 4 /* quench */ ||
		type == 5 /* redirect */ || type == 11 /* time exceeded */ ||
		type == 12 /* parameter problem */;
}

/* The answer type of an ICMP query type (and back), or -1. */
static int
icmp_reply_type(uint8_t type)
{
	switch (type) {
	case RTE_IP_ICMP_ECHO_REQUEST:
		return RTE_IP_ICMP_ECHO_REPLY;
	case 13:
		return 14;
	case 15:
		return 16;
	case 17:
		return 18;
	case RTE_IP_ICMP_ECHO_REPLY:
		return RTE_IP_ICMP_ECHO_REQUEST;
	case 14:
		return 13;
	case 16:
		return 15;
	case 18:
		return 17;
	default:
		return -1;
	}
}

bool
pgt_ct_tuple_invert(const struct pgt_ct_tuple *in, struct pgt_ct_tuple *out)
{
	int type;

	*out = *in;
	out->src = in->dst;
	out->dst = in->src;
	if (in->proto == IPPROTO_ICMP) {
		/* The identifier stays; the type becomes the reply's. */
		type = icmp_reply_type((uint8_t)(in->dport >> 8));
		if (type < 0)
			return false;
		out->dport = (uint16_t)(type << 8 | (in->dport & 0xff));
		return true;
	}
	out->sport = in->dport;
	out->dport = in->sport;
	return true;
}

/* TCP */

enum tcp_index { T_SYN, T_SYNACK, T_FIN, T_ACK, T_RST, T_NONE };

#define sNO PGT_TCP_NONE
#define sSS PGT_TCP_SYN_SENT
#define sSR PGT_TCP_SYN_RECV
#define sES PGT_TCP_ESTABLISHED
#define sFW PGT_TCP_FIN_WAIT
#define sCW PGT_TCP_CLOSE_WAIT
#define sLA PGT_TCP_LAST_ACK
#define sTW PGT_TCP_TIME_WAIT
#define sCL PGT_TCP_CLOSE
#define sS2 PGT_TCP_SYN_SENT2
#define sIV PGT_TCP_STATE_MAX		/* invalid */
#define sIG (PGT_TCP_STATE_MAX + 1)	/* ignored: may resync */

/*
 * Linux's transition table: [direction][flags][old state] -> new state.
 * pktgate sits in the middle and guesses each end's state from what passes;
 * "ignored" packets may belong to a connection we lost sync with and are let
 * through without changing state (the receiver answers with a RST we see).
 */
static const uint8_t tcp_next[2][6][PGT_TCP_STATE_MAX] = {
	{	/* ORIGINAL: sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		[T_SYN] =    { sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2 },
		[T_SYNACK] = { sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR },
		[T_FIN] =    { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		[T_ACK] =    { sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV },
		[T_RST] =    { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		[T_NONE] =   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	}, {	/* REPLY:    sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2 */
		[T_SYN] =    { sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2 },
		[T_SYNACK] = { sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR },
		[T_FIN] =    { sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV },
		[T_ACK] =    { sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG },
		[T_RST] =    { sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL },
		[T_NONE] =   { sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV },
	},
};

static const enum pgt_ct_timeout tcp_timeout_of[PGT_TCP_STATE_MAX] = {
	[PGT_TCP_NONE] = PGT_CT_TO_TCP_SYN_SENT,
	[PGT_TCP_SYN_SENT] = PGT_CT_TO_TCP_SYN_SENT,
	[PGT_TCP_SYN_RECV] = PGT_CT_TO_TCP_SYN_RECV,
	[PGT_TCP_ESTABLISHED] = PGT_CT_TO_TCP_ESTABLISHED,
	[PGT_TCP_FIN_WAIT] = PGT_CT_TO_TCP_FIN_WAIT,
	[PGT_TCP_CLOSE_WAIT] = PGT_CT_TO_TCP_CLOSE_WAIT,
	[PGT_TCP_LAST_ACK] = PGT_CT_TO_TCP_LAST_ACK,
	[PGT_TCP_TIME_WAIT] = PGT_CT_TO_TCP_TIME_WAIT,
	[PGT_TCP_CLOSE] = PGT_CT_TO_TCP_CLOSE,
	[PGT_TCP_SYN_SENT2] = PGT_CT_TO_TCP_SYN_SENT,
};

/* Flag combinations a TCP may send (PSH, ECE, CWR always allowed). */
static bool
tcp_flags_valid(uint8_t f)
{
	f &= (uint8_t)~(TCPF_PSH | TCPF_ECE | TCPF_CWR);
	switch (f) {
	case TCPF_SYN:
	case TCPF_SYN | TCPF_URG:
	case TCPF_SYN | TCPF_ACK:
	case TCPF_RST:
	case TCPF_RST | TCPF_ACK:
	case TCPF_FIN | TCPF_ACK:
	case TCPF_FIN | TCPF_ACK | TCPF_URG:
	case TCPF_ACK:
	case TCPF_ACK | TCPF_URG:
		return true;
	default:
		return false;
	}
}

static enum tcp_index
tcp_index_of(uint8_t f)
{
	if (f & TCPF_RST)
		return T_RST;
	if (f & TCPF_SYN)
		return (f & TCPF_ACK) ? T_SYNACK : T_SYN;
	if (f & TCPF_FIN)
		return T_FIN;
	if (f & TCPF_ACK)
		return T_ACK;
	return T_NONE;
}

/* Sequence arithmetic (RFC 1982). */
static inline bool
seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool
seq_after(uint32_t a, uint32_t b)
{
	return seq_before(b, a);
}

/* What a segment of @p p covers: seq + data length + SYN + FIN. */
static uint32_t
tcp_end(const struct ct_pkt *p, const struct rte_tcp_hdr *th)
{
	uint32_t doff = (th->data_off >> 4) * 4u;

	return rte_be_to_cpu_32(th->sent_seq) + (p->l4_total - doff) +
		((th->tcp_flags & TCPF_SYN) ? 1 : 0) +
		((th->tcp_flags & TCPF_FIN) ? 1 : 0);
}

/* Window scale and SACK-permitted from a SYN's options. */
static void
tcp_options(const struct rte_tcp_hdr *th, struct pgt_ct_tcp_side *s)
{
	const uint8_t *o = (const uint8_t *)(th + 1);
	int len = (th->data_off >> 4) * 4 - (int)sizeof(*th);
	int size;

	s->scale = 0;
	s->flags &= PGT_CT_TCPF_BE_LIBERAL;
	while (len > 0) {
		if (o[0] == 0)		/* end of options */
			return;
		if (o[0] == 1) {	/* no-op */
			o++;
			len--;
			continue;
		}
		if (len < 2 || o[1] < 2 || o[1] > len)
			return;
		size = o[1];
		if (o[0] == 4 && size == 2)
			s->flags |= PGT_CT_TCPF_SACK_PERM;
		else if (o[0] == 3 && size == 3) {
			s->scale = RTE_MIN(o[2], 14);
			s->flags |= PGT_CT_TCPF_WINDOW_SCALE;
		}
		o += size;
		len -= size;
	}
}

/* The highest right edge of the SACK blocks, if any beyond @p sack. */
static uint32_t
tcp_sack(const struct rte_tcp_hdr *th, uint32_t sack)
{
	const uint8_t *o = (const uint8_t *)(th + 1);
	int len = (th->data_off >> 4) * 4 - (int)sizeof(*th);
	uint32_t edge;
	int size, i;

	while (len > 0) {
		if (o[0] == 0)
			break;
		if (o[0] == 1) {
			o++;
			len--;
			continue;
		}
		if (len < 2 || o[1] < 2 || o[1] > len)
			break;
		size = o[1];
		if (o[0] == 5 && size >= 10 && (size - 2) % 8 == 0) {
			for (i = 2; i < size; i += 8) {
				edge = (uint32_t)o[i + 4] << 24 |
					(uint32_t)o[i + 5] << 16 |
					(uint32_t)o[i + 6] << 8 | o[i + 7];
				if (seq_after(edge, sack))
					sack = edge;
			}
			break;
		}
		o += size;
		len -= size;
	}
	return sack;
}

static void
tcp_init_sender(struct pgt_ct_tcp_side *snd, struct pgt_ct_tcp_side *rcv,
	const struct rte_tcp_hdr *th, uint32_t end, uint32_t win,
	enum pgt_ct_dir dir)
{
	snd->end = end;
	snd->maxend = end;
	snd->maxwin = win == 0 ? 1 : win;
	tcp_options(th, snd);
	/* RFC 7323: scaling only if both ends offered it. */
	if (dir == PGT_CT_DIR_REPLY &&
			!((snd->flags & PGT_CT_TCPF_WINDOW_SCALE) &&
			(rcv->flags & PGT_CT_TCPF_WINDOW_SCALE))) {
		snd->scale = 0;
		rcv->scale = 0;
	}
}

enum win_verdict { WIN_OK, WIN_IGNORE, WIN_INVALID };

/* A window check failed: liberal mode lets the packet count as valid. */
static enum win_verdict
win_fail(const struct pgt_ct_tcp_side *snd, enum win_verdict v)
{
	if ((snd->flags & PGT_CT_TCPF_BE_LIBERAL) || pgt_ct_cfg.tcp_be_liberal)
		return WIN_OK;
	return v;
}

/* The larger of the sender's largest window and 66000 bytes. */
static inline uint32_t
max_ack_window(const struct pgt_ct_tcp_side *snd)
{
	return snd->maxwin > 66000 ? snd->maxwin : 66000;
}

/*
 * Is the segment within the windows we have seen (Rooij's "Real Stateful
 * TCP Packet Filtering in IP Filter", as Linux's tcp_in_window())?
 */
static enum win_verdict
tcp_in_window(struct pgt_ct_tcp *s, enum pgt_ct_dir dir, enum tcp_index idx,
	const struct ct_pkt *p, const struct rte_tcp_hdr *th)
{
	struct pgt_ct_tcp_side *snd = &s->side[dir], *rcv = &s->side[!dir];
	uint32_t seq, ack, sack, end, win, swin;
	uint16_t win_raw;
	bool in_recv_win;

	seq = rte_be_to_cpu_32(th->sent_seq);
	ack = sack = rte_be_to_cpu_32(th->recv_ack);
	win_raw = rte_be_to_cpu_16(th->rx_win);
	win = win_raw;
	end = tcp_end(p, th);
	if (rcv->flags & PGT_CT_TCPF_SACK_PERM)
		sack = tcp_sack(th, sack);

	if (snd->maxwin == 0) {
		if (th->tcp_flags & TCPF_SYN) {
			tcp_init_sender(snd, rcv, th, end, win, dir);
			if (!(th->tcp_flags & TCPF_ACK))
				return WIN_OK;	/* simultaneous open */
		} else {
			/* Picked up mid-stream: take what the packet says. */
			snd->end = end;
			swin = win << snd->scale;
			snd->maxwin = swin == 0 ? 1 : swin;
			snd->maxend = end + snd->maxwin;
			if (rcv->maxwin == 0)
				rcv->end = rcv->maxend = sack;
			else if (sack == rcv->end + 1)
				rcv->end++;	/* keepalive answer */
		}
	} else if ((th->tcp_flags & TCPF_SYN) && seq_after(end, snd->end) &&
			(s->state == PGT_TCP_SYN_SENT ||
			s->state == PGT_TCP_SYN_RECV)) {
		/* A restarted handshake: its numbers win. */
		tcp_init_sender(snd, rcv, th, end, win, dir);
		if (dir == PGT_CT_DIR_REPLY && !(th->tcp_flags & TCPF_ACK))
			return WIN_OK;
	}

	if (!(th->tcp_flags & TCPF_ACK))
		ack = sack = rcv->end;
	else if ((th->tcp_flags & (TCPF_ACK | TCPF_RST)) ==
			(TCPF_ACK | TCPF_RST) && ack == 0)
		ack = sack = rcv->end;	/* stacks that send RST+ACK 0 */

	if ((th->tcp_flags & TCPF_RST) && seq == 0 &&
			s->state == PGT_TCP_SYN_SENT)
		seq = end = snd->end;	/* RST answering a SYN */

	if (!seq_before(seq, snd->maxend + 1)) {
		uint32_t overshot = end - snd->maxend + 1;

		in_recv_win = rcv->maxwin != 0 &&
			seq_after(end, snd->end - rcv->maxwin - 1);
		if (in_recv_win &&
				seq_after(sack, rcv->end - max_ack_window(snd) - 1) &&
				overshot <= rcv->maxwin &&
				seq_before(sack, rcv->end + 1)) {
			/* A sender beyond the window the receiver offered:
			 * remember the data, or its ACK would look bogus. */
			snd->end = end;
			snd->flags |= PGT_CT_TCPF_DATA_UNACKED;
			return win_fail(snd, WIN_IGNORE);
		}
		return win_fail(snd, WIN_INVALID);	/* SEQ over window */
	}
	if (!seq_before(sack, rcv->end + 1))
		return win_fail(snd, WIN_INVALID);	/* ACKs unseen data */
	in_recv_win = rcv->maxwin == 0 ||
		seq_after(end, snd->end - rcv->maxwin - 1);
	if (!in_recv_win)
		return win_fail(snd, WIN_IGNORE);	/* old retransmission */
	if (!seq_after(sack, rcv->end - max_ack_window(snd) - 1))
		return win_fail(snd, WIN_IGNORE);	/* very old ACK */

	if (!(th->tcp_flags & TCPF_SYN))
		win <<= snd->scale;
	swin = win + (sack - ack);
	if (snd->maxwin < swin)
		snd->maxwin = swin;
	if (seq_after(end, snd->end)) {
		snd->end = end;
		snd->flags |= PGT_CT_TCPF_DATA_UNACKED;
	}
	if (th->tcp_flags & TCPF_ACK) {
		if (!(snd->flags & PGT_CT_TCPF_MAXACK_SET)) {
			snd->maxack = ack;
			snd->flags |= PGT_CT_TCPF_MAXACK_SET;
		} else if (seq_after(ack, snd->maxack)) {
			snd->maxack = ack;
		}
	}
	if (rcv->maxwin != 0 && seq_after(end, snd->maxend))
		rcv->maxwin += end - snd->maxend;
	if (seq_after(sack + win, rcv->maxend - 1)) {
		rcv->maxend = sack + win;
		if (win == 0)
			rcv->maxend++;
	}
	if (ack == rcv->end)
		rcv->flags &= (uint8_t)~PGT_CT_TCPF_DATA_UNACKED;

	if (idx == T_ACK) {
		if (s->last_dir == dir && s->last_seq == seq &&
				s->last_ack == ack && s->last_end == end &&
				s->last_win == win_raw) {
			if (s->retrans < UINT8_MAX)
				s->retrans++;
		} else {
			s->last_dir = (uint8_t)dir;
			s->last_seq = seq;
			s->last_ack = ack;
			s->last_end = end;
			s->last_win = win_raw;
			s->retrans = 0;
		}
	}
	return WIN_OK;
}

/* The TCP header of @p p if whole and sane, else NULL. */
static const struct rte_tcp_hdr *
tcp_header(const struct ct_pkt *p)
{
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)p->l4;
	uint32_t doff;

	if (th == NULL || p->l4_len < sizeof(*th))
		return NULL;
	doff = (th->data_off >> 4) * 4u;
	if (doff < sizeof(*th) || doff > p->l4_len || doff > p->l4_total)
		return NULL;
	if (!tcp_flags_valid(th->tcp_flags))
		return NULL;
	return th;
}

static bool
tcp_new(struct pgt_ct_conn *c, const struct ct_pkt *p)
{
	const struct rte_tcp_hdr *th = tcp_header(p);
	struct pgt_ct_tcp_side *s0 = &c->tcp.side[0];
	uint8_t st;

	if (th == NULL)
		return false;
	st = tcp_next[0][tcp_index_of(th->tcp_flags)][PGT_TCP_NONE];
	if (st >= PGT_TCP_STATE_MAX)
		return false;
	memset(&c->tcp, 0, sizeof(c->tcp));
	s0->end = tcp_end(p, th);
	s0->maxwin = rte_be_to_cpu_16(th->rx_win);
	if (s0->maxwin == 0)
		s0->maxwin = 1;
	if (st == PGT_TCP_SYN_SENT) {
		s0->maxend = s0->end;
		tcp_options(th, s0);
	} else {
		/* Mid-stream pickup (tcp_loose): no history, so assume
		 * SACK and check windows liberally until both sides talk. */
		if (!pgt_ct_cfg.tcp_loose)
			return false;
		s0->maxend = s0->end + s0->maxwin;
		s0->flags = PGT_CT_TCPF_SACK_PERM | PGT_CT_TCPF_BE_LIBERAL;
		c->tcp.side[1].flags = s0->flags;
	}
	c->tcp.last_index = T_NONE;
	return true;
}

static bool
tcp_can_early_drop(const struct pgt_ct_conn *c)
{
	return c->tcp.state >= PGT_TCP_FIN_WAIT &&
		c->tcp.state <= PGT_TCP_CLOSE;
}

/*
 * A RST in the CLOSE transition: is it believable? Returns false for a RST
 * that must not close the connection (INVALID), and may keep the old state
 * in @p next for a RST that should draw a challenge ACK.
 */
static bool
tcp_rst_check(struct pgt_ct_conn *c, enum pgt_ct_dir dir,
	const struct rte_tcp_hdr *th, uint8_t old, uint8_t *next,
	bool *skip_window)
{
	struct pgt_ct_tcp *s = &c->tcp;
	uint32_t seq = rte_be_to_cpu_32(th->sent_seq);
	uint32_t ackn = rte_be_to_cpu_32(th->recv_ack);
	bool established = old == PGT_TCP_ESTABLISHED;

	if (tcp_can_early_drop(c)) {
		*skip_window = true;
		return true;
	}
	if ((s->side[!dir].flags & PGT_CT_TCPF_MAXACK_SET) &&
			s->last_index != T_SYN) {
		if (seq == 0 && !established)
			return true;
		if (seq_before(seq, s->side[!dir].maxack))
			return false;
		if (established && seq != s->side[!dir].maxack &&
				!(s->last_index == T_ACK &&
				s->last_dir == dir && seq == s->last_end))
			*next = old;	/* inexact: let a challenge ACK come */
	}
	if ((((c->status & PGT_CT_S_SEEN_REPLY) && s->last_index == T_SYN) ||
			(!(c->status & PGT_CT_S_ASSURED) &&
			s->last_index == T_ACK)) && ackn == s->last_end) {
		/* RST to a SYN or ACK we let through unsure: believe it. */
		*skip_window = true;
		return true;
	}
	if (old == PGT_TCP_SYN_SENT && s->last_index == T_ACK &&
			s->last_dir == PGT_CT_DIR_REPLY && seq == s->last_ack)
		*skip_window = true;
	return true;
}

static enum ct_l4_verdict
tcp_packet(struct pgt_ct_conn *c, const struct ct_pkt *p,
	enum pgt_ct_dir dir, enum pgt_ct_timeout *to, bool *kill,
	bool *refresh)
{
	const struct rte_tcp_hdr *th = tcp_header(p);
	struct pgt_ct_tcp *s = &c->tcp;
	bool skip_window = false;
	enum tcp_index idx;
	uint8_t old, next;
	struct pgt_ct_tcp_side seen;

	if (th == NULL)
		return CT_L4_INVALID;
	old = s->state;
	idx = tcp_index_of(th->tcp_flags);
	next = tcp_next[dir][idx][old];

	switch (next) {
	case PGT_TCP_SYN_SENT:
		if (old < PGT_TCP_TIME_WAIT)
			break;
		/* A SYN reopening a closed or aborted connection: start
		 * afresh (RFC 1122 4.2.2.13). */
		if (((s->side[dir].flags | s->side[!dir].flags) &
				PGT_CT_TCPF_CLOSE_INIT) ||
				(s->last_dir == dir && s->last_index == T_RST))
			return CT_L4_REOPEN;
		/* fall through */
	case sIG:
		if (idx == T_SYNACK && s->last_index == T_SYN &&
				s->last_dir != dir &&
				rte_be_to_cpu_32(th->recv_ack) == s->last_end) {
			/* This SYN/ACK answers a SYN we ignored: the ends
			 * are in sync and we are not. Resync from the SYN. */
			struct pgt_ct_tcp_side *l = &s->side[s->last_dir];

			old = PGT_TCP_SYN_SENT;
			next = PGT_TCP_SYN_RECV;
			l->end = l->maxend = s->last_end;
			l->maxwin = s->last_win == 0 ? 1 : s->last_win;
			l->scale = s->last_wscale;
			l->flags = s->last_flags;
			memset(&s->side[dir], 0, sizeof(s->side[dir]));
			break;
		}
		s->last_index = (uint8_t)idx;
		s->last_dir = (uint8_t)dir;
		s->last_seq = rte_be_to_cpu_32(th->sent_seq);
		s->last_end = tcp_end(p, th);
		s->last_win = rte_be_to_cpu_16(th->rx_win);
		if (idx == T_SYN && dir == PGT_CT_DIR_ORIGINAL) {
			memset(&seen, 0, sizeof(seen));
			tcp_options(th, &seen);
			s->last_flags = seen.flags &
				(PGT_CT_TCPF_WINDOW_SCALE | PGT_CT_TCPF_SACK_PERM);
			s->last_wscale = seen.scale;
		}
		if (old == PGT_TCP_SYN_SENT && idx == T_ACK &&
				dir == PGT_CT_DIR_REPLY)
			s->last_ack = rte_be_to_cpu_32(th->recv_ack);
		*refresh = false;
		return CT_L4_ACCEPT;	/* let it pass, state unchanged */
	case sIV:
		return CT_L4_INVALID;
	case PGT_TCP_CLOSE:
		if (idx == T_RST && !tcp_rst_check(c, dir, th, old, &next,
				&skip_window))
			return CT_L4_INVALID;
		break;
	default:
		break;
	}

	if (!skip_window) {
		switch (tcp_in_window(s, dir, idx, p, th)) {
		case WIN_IGNORE:
			*refresh = false;
			return CT_L4_ACCEPT;
		case WIN_INVALID:
			return CT_L4_INVALID;
		case WIN_OK:
			break;
		}
	}
	s->last_index = (uint8_t)idx;
	s->last_dir = (uint8_t)dir;
	s->state = next;
	if (old != next && next == PGT_TCP_FIN_WAIT)
		s->side[dir].flags |= PGT_CT_TCPF_CLOSE_INIT;

	*to = tcp_timeout_of[next];
	if (s->retrans >= pgt_ct_cfg.tcp_max_retrans &&
			pgt_ct_cfg.timeout[*to] >
			pgt_ct_cfg.timeout[PGT_CT_TO_TCP_MAX_RETRANS])
		*to = PGT_CT_TO_TCP_MAX_RETRANS;
	else if (idx == T_RST)
		*to = PGT_CT_TO_TCP_CLOSE;
	else if (((s->side[0].flags | s->side[1].flags) &
			PGT_CT_TCPF_DATA_UNACKED) &&
			pgt_ct_cfg.timeout[*to] >
			pgt_ct_cfg.timeout[PGT_CT_TO_TCP_UNACK])
		*to = PGT_CT_TO_TCP_UNACK;

	if (!(c->status & PGT_CT_S_SEEN_REPLY)) {
		/* A RST as the only answer: the connection never was. */
		if (th->tcp_flags & TCPF_RST) {
			*kill = true;
			return CT_L4_ACCEPT;
		}
		/* A retransmitted SYN does not extend the wait, or a client
		 * reusing its port would keep the entry (and its NAT) for
		 * ever. */
		if (idx == T_SYN && old == PGT_TCP_SYN_SENT) {
			*refresh = false;
			return CT_L4_ACCEPT;
		}
		if (next == PGT_TCP_ESTABLISHED &&
				pgt_ct_cfg.timeout[*to] >
				pgt_ct_cfg.timeout[PGT_CT_TO_TCP_UNACK])
			*to = PGT_CT_TO_TCP_UNACK;
	} else if (!(c->status & PGT_CT_S_ASSURED) &&
			(old == PGT_TCP_SYN_RECV ||
			old == PGT_TCP_ESTABLISHED) &&
			next == PGT_TCP_ESTABLISHED) {
		c->status |= PGT_CT_S_ASSURED;
	}
	return CT_L4_ACCEPT;
}

/* All protocols */

bool
pgt_ct_l4_new(struct pgt_ct_conn *c, const struct ct_pkt *p)
{
	switch (p->proto) {
	case IPPROTO_TCP:
		return tcp_new(c, p);
	case IPPROTO_ICMP:
		/* Only queries start a connection; answers and errors
		 * without one are INVALID. */
		return (c->tuple[0].dport >> 8) == RTE_IP_ICMP_ECHO_REQUEST ||
			(c->tuple[0].dport >> 8) == 13 ||
			(c->tuple[0].dport >> 8) == 15 ||
			(c->tuple[0].dport >> 8) == 17;
	default:
		return true;
	}
}

enum ct_l4_verdict
pgt_ct_l4_packet(struct ct_table *t, struct pgt_ct_conn *c,
	const struct ct_pkt *p, enum pgt_ct_dir dir, uint64_t now, bool *kill)
{
	enum pgt_ct_timeout to = PGT_CT_TO_GENERIC;
	enum ct_l4_verdict v = CT_L4_ACCEPT;
	bool refresh = true;

	*kill = false;
	if (c->status & PGT_CT_S_IPVS) {
		/* A new SYN on a finished connection is a new connection,
		 * to be scheduled again: its server may be quiescent or
		 * gone, its rules changed. Which states are finished is the
		 * virtual service's to say. */
		if (dir == PGT_CT_DIR_ORIGINAL && p->proto == IPPROTO_TCP &&
				p->l4 != NULL && p->l4_len >= 14 &&
				(p->l4[13] & (RTE_TCP_SYN_FLAG |
				RTE_TCP_ACK_FLAG | RTE_TCP_RST_FLAG)) ==
				RTE_TCP_SYN_FLAG &&
				pgt_ct_ipvs_ops->syn_reopens(c))
			return CT_L4_REOPEN;
		/* Its state is the virtual service's (it may see one half). */
		pgt_ct_expire_at(t, c, now + (uint64_t)pgt_ct_ipvs_ops->packet(
			(unsigned int)(t - pgt_ct_tables), c, dir,
			p->proto == IPPROTO_TCP && p->l4 != NULL &&
			p->l4_len >= 14 ? p->l4[13] : 0,
			rte_be_to_cpu_16(p->ip->total_length)) * pgt_ct_hz);
		return CT_L4_ACCEPT;
	}
	switch (p->proto) {
	case IPPROTO_TCP:
		v = tcp_packet(c, p, dir, &to, kill, &refresh);
		break;
	case IPPROTO_UDP:
		pgt_ct_udp_packet(t, c, now);
		return CT_L4_ACCEPT;
	case IPPROTO_ICMP:
		to = PGT_CT_TO_ICMP;
		break;
	default:
		break;
	}
	if (v == CT_L4_ACCEPT && refresh && !*kill)
		pgt_ct_refresh(t, c, to, now);
	return v;
}
