/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcap and pcapng files for the offline mode: reading what tcpdump, scapy,
 * Wireshark and `pktgatectl capture` write (Ethernet or raw IPv4 frames),
 * and writing classic pcap with nanosecond stamps.
 *
 * Read whole into memory: offline runs are test inputs, and a packet's
 * outputs are stamped with its own time, so the files a run writes are the
 * same every time it runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offline.h"

#define PCAP_MAGIC_US		0xa1b2c3d4u
#define PCAP_MAGIC_NS		0xa1b23c4du
#define PCAPNG_SHB		0x0a0d0d0au
#define PCAPNG_BYTE_ORDER	0x1a2b3c4du
#define PCAPNG_IDB		1u
#define PCAPNG_SPB		3u
#define PCAPNG_EPB		6u
#define LINKTYPE_ETHERNET	1u
#define LINKTYPE_RAW		101u
#define LINKTYPE_IPV4		228u
#define MAX_FRAME		65535u
#define MAX_INTERFACES		64

static uint32_t
swap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

static uint32_t
get32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? swap32(v) : v;
}

static uint16_t
get16(const uint8_t *p, bool swap)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return swap ? __builtin_bswap16(v) : v;
}

int
pktgate_file_read(const char *path, uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 16, n = 0, r;
	FILE *f = fopen(path, "rb");
	uint8_t *b;

	if (f == NULL)
		return -errno;
	b = malloc(cap);
	/* One byte beyond the data stays free for the terminating NUL. */
	while (b != NULL && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (n == cap - 1) {
			uint8_t *nb = realloc(b, cap * 2);

			if (nb == NULL) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (b == NULL)
		return -ENOMEM;
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

static int
add_packet(struct pktgate_pcap *pc, uint64_t ts_ns, const uint8_t *data,
	uint32_t caplen, uint32_t len, uint32_t linktype)
{
	struct pktgate_pcap_packet *p;

	if (pc->nb == pc->cap) {
		unsigned int cap = pc->cap == 0 ? 256 : pc->cap * 2;

		p = realloc(pc->pkts, sizeof(*p) * cap);
		if (p == NULL)
			return -ENOMEM;
		pc->pkts = p;
		pc->cap = cap;
	}
	p = &pc->pkts[pc->nb];
	p->data = malloc(caplen > 0 ? caplen : 1);
	if (p->data == NULL)
		return -ENOMEM;
	memcpy(p->data, data, caplen);
	p->ts_ns = ts_ns;
	p->caplen = caplen;
	p->len = len;
	p->raw_ip = linktype != LINKTYPE_ETHERNET;
	p->port = pc->port;
	p->index = pc->nb;
	pc->nb++;
	return 0;
}

static bool
linktype_ok(uint32_t lt)
{
	return lt == LINKTYPE_ETHERNET || lt == LINKTYPE_RAW ||
		lt == LINKTYPE_IPV4;
}

static int
read_classic(struct pktgate_pcap *pc, const uint8_t *b, size_t n, char *err,
	size_t errlen)
{
	uint32_t magic = get32(b, false), lt, caplen, len;
	bool swap = magic == swap32(PCAP_MAGIC_US) ||
		magic == swap32(PCAP_MAGIC_NS);
	bool ns = magic == PCAP_MAGIC_NS || magic == swap32(PCAP_MAGIC_NS);
	uint64_t ts;
	size_t off = 24;
	int rc;

	if (n < 24) {
		snprintf(err, errlen, "truncated pcap header");
		return -EINVAL;
	}
	lt = get32(b + 20, swap) & 0xffff;
	if (!linktype_ok(lt)) {
		snprintf(err, errlen,
			"link type %u: only Ethernet (1) and raw IPv4 (101, 228) are read",
			lt);
		return -EINVAL;
	}
	while (off < n) {
		if (n - off < 16) {
			snprintf(err, errlen, "truncated record header at byte %zu",
				off);
			return -EINVAL;
		}
		caplen = get32(b + off + 8, swap);
		len = get32(b + off + 12, swap);
		if (caplen > MAX_FRAME || caplen > n - off - 16) {
			snprintf(err, errlen,
				"record at byte %zu: capture length %u past the end or over %u",
				off, caplen, MAX_FRAME);
			return -EINVAL;
		}
		ts = (uint64_t)get32(b + off, swap) * 1000000000ull +
			(uint64_t)get32(b + off + 4, swap) * (ns ? 1 : 1000);
		rc = add_packet(pc, ts, b + off + 16, caplen, len, lt);
		if (rc != 0)
			return rc;
		off += 16 + caplen;
	}
	return 0;
}

static int
read_pcapng(struct pktgate_pcap *pc, const uint8_t *b, size_t n, char *err,
	size_t errlen)
{
	uint32_t linktype[MAX_INTERFACES], nb_if = 0, type, blen, ifc;
	uint64_t tsres[MAX_INTERFACES], ts;
	bool swap = false;
	size_t off = 0, o;
	int rc;

	while (off < n) {
		if (n - off < 12) {
			snprintf(err, errlen, "truncated block at byte %zu", off);
			return -EINVAL;
		}
		type = get32(b + off, false);
		if (type == PCAPNG_SHB) {
			swap = get32(b + off + 8, false) != PCAPNG_BYTE_ORDER;
			if (get32(b + off + 8, swap) != PCAPNG_BYTE_ORDER) {
				snprintf(err, errlen, "bad section header");
				return -EINVAL;
			}
			nb_if = 0;	/* interfaces are per section */
		} else {
			type = get32(b + off, swap);
		}
		blen = get32(b + off + 4, swap);
		if (blen < 12 || blen % 4 != 0 || blen > n - off) {
			snprintf(err, errlen, "block at byte %zu: bad length %u",
				off, blen);
			return -EINVAL;
		}
		if (type == PCAPNG_IDB) {
			if (nb_if == MAX_INTERFACES || blen < 20) {
				snprintf(err, errlen,
					"interface block at byte %zu: too many or too short",
					off);
				return -EINVAL;
			}
			linktype[nb_if] = get16(b + off + 8, swap);
			tsres[nb_if] = 1000;	/* default: microseconds */
			/* if_tsresol (9): 10^-v, or 2^-v with the top bit. */
			for (o = off + 16; o + 4 <= off + blen - 4;) {
				uint16_t code = get16(b + o, swap);
				uint16_t olen = get16(b + o + 2, swap);

				if (code == 0)
					break;
				if (code == 9 && olen >= 1 &&
						!(b[o + 4] & 0x80) && b[o + 4] <= 9) {
					uint64_t div = 1;
					unsigned int k;

					for (k = 0; k < b[o + 4]; k++)
						div *= 10;
					tsres[nb_if] = 1000000000ull / div;
				}
				o += 4 + ((olen + 3u) & ~3u);
			}
			nb_if++;
		} else if (type == PCAPNG_EPB) {
			uint32_t caplen, len;

			if (blen < 32) {
				snprintf(err, errlen, "packet block at byte %zu: too short",
					off);
				return -EINVAL;
			}
			ifc = get32(b + off + 8, swap);
			caplen = get32(b + off + 20, swap);
			len = get32(b + off + 24, swap);
			if (ifc >= nb_if || caplen > blen - 32 ||
					caplen > MAX_FRAME) {
				snprintf(err, errlen,
					"packet block at byte %zu: unknown interface or bad length",
					off);
				return -EINVAL;
			}
			if (!linktype_ok(linktype[ifc])) {
				snprintf(err, errlen,
					"link type %u: only Ethernet (1) and raw IPv4 (101, 228) are read",
					linktype[ifc]);
				return -EINVAL;
			}
			ts = ((uint64_t)get32(b + off + 12, swap) << 32) |
				get32(b + off + 16, swap);
			rc = add_packet(pc, ts * tsres[ifc], b + off + 28,
				caplen, len, linktype[ifc]);
			if (rc != 0)
				return rc;
		} else if (type == PCAPNG_SPB) {
			snprintf(err, errlen,
				"simple packet blocks (no time stamp) are not read");
			return -EINVAL;
		}
		off += blen;
	}
	return 0;
}

int
pktgate_pcap_read(const char *path, struct pktgate_pcap *pc, char *err,
	size_t errlen)
{
	uint8_t *b = NULL;
	size_t n = 0;
	uint32_t magic;
	int rc;

	rc = pktgate_file_read(path, &b, &n);
	if (rc != 0) {
		snprintf(err, errlen, "%s", strerror(-rc));
		return rc;
	}
	magic = n >= 4 ? get32(b, false) : 0;
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS ||
			magic == swap32(PCAP_MAGIC_US) ||
			magic == swap32(PCAP_MAGIC_NS))
		rc = read_classic(pc, b, n, err, errlen);
	else if (magic == PCAPNG_SHB)
		rc = read_pcapng(pc, b, n, err, errlen);
	else {
		snprintf(err, errlen, "not a pcap or pcapng file");
		rc = -EINVAL;
	}
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(b);
	return rc;
}

void
pktgate_pcap_free(struct pktgate_pcap *pc)
{
	unsigned int i;

	for (i = 0; i < pc->nb; i++)
		free(pc->pkts[i].data);
	free(pc->pkts);
	pc->pkts = NULL;
	pc->nb = pc->cap = 0;
}

FILE *
pktgate_pcap_create(const char *path)
{
	uint32_t hdr[6] = { PCAP_MAGIC_NS, 2 | (4u << 16), 0, 0, MAX_FRAME,
		LINKTYPE_ETHERNET };
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		return NULL;
	if (fwrite(hdr, sizeof(hdr), 1, f) != 1) {
		fclose(f);
		return NULL;
	}
	return f;
}

int
pktgate_pcap_write(FILE *f, uint64_t ts_ns, const void *data, uint32_t len)
{
	uint32_t rec[4] = { (uint32_t)(ts_ns / 1000000000ull),
		(uint32_t)(ts_ns % 1000000000ull), len, len };

	if (fwrite(rec, sizeof(rec), 1, f) != 1 ||
			fwrite(data, len, 1, f) != 1)
		return -EIO;
	return 0;
}
