/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgatectl capture: the packets NFLOG rules copy, and those the drop
 * watch copies as they are dropped, as a pcapng stream.
 *
 * Polls nflog_read with a cursor and writes each packet as an Enhanced
 * Packet Block, with nanosecond time stamps and a comment naming the group,
 * prefix, hook and ports (or the drop's reason). NFLOG copies start at the
 * IP header, as Linux's NFLOG does: one raw-IP interface. Drops (--drops)
 * go to a capture of their own with one Ethernet interface, as libpcap
 * reads one link type per file: a drop before routing is the frame as it
 * came, one after routing (an IP packet) gets a header of zero MACs. The
 * output is flushed after every batch, so `pktgatectl capture | tcpdump -r
 * -` is live.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pktgatectl.h"

#define LINKTYPE_ETHERNET	1
#define ETH_HLEN		14
#define LINKTYPE_RAW		101	/* raw IPv4/IPv6, no link header */
#define SHB_TYPE		0x0A0D0D0Au
#define IDB_TYPE		1u
#define EPB_TYPE		6u
#define OPT_END			0
#define OPT_COMMENT		1
#define SHB_USERAPPL		4
#define IF_NAME			2
#define IF_TSRESOL		9
#define POLL_IDLE_US		100000
#define READ_BATCH		256

static size_t
pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static void
put32(FILE *f, uint32_t v)
{
	fwrite(&v, sizeof(v), 1, f);
}

static void
put16(FILE *f, uint16_t v)
{
	fwrite(&v, sizeof(v), 1, f);
}

static void
put_pad(FILE *f, size_t n)
{
	static const uint8_t zero[4];

	fwrite(zero, 1, pad4(n) - n, f);
}

/* Bytes an option with a @p len-byte value takes. */
static size_t
opt_size(size_t len)
{
	return 4 + pad4(len);
}

static void
put_opt(FILE *f, uint16_t code, const void *v, size_t len)
{
	put16(f, code);
	put16(f, (uint16_t)len);
	fwrite(v, 1, len, f);
	put_pad(f, len);
}

static void
write_idb(FILE *f, uint16_t linktype, const char *ifname)
{
	static const uint8_t tsresol = 9;	/* nanoseconds */
	uint32_t len;

	len = 20 + (uint32_t)(opt_size(strlen(ifname)) + opt_size(1)) + 4;
	put32(f, IDB_TYPE);
	put32(f, len);
	put16(f, linktype);
	put16(f, 0);
	put32(f, 0);			/* snap length: none */
	put_opt(f, IF_NAME, ifname, strlen(ifname));
	put_opt(f, IF_TSRESOL, &tsresol, 1);
	put32(f, OPT_END);
	put32(f, len);
}

static void
write_headers(FILE *f, bool drops)
{
	static const char appl[] = "pktgatectl capture";
	uint32_t len;

	len = 28 + (uint32_t)opt_size(strlen(appl)) + 4;
	put32(f, SHB_TYPE);
	put32(f, len);
	put32(f, 0x1A2B3C4Du);		/* byte-order magic */
	put16(f, 1);
	put16(f, 0);			/* version 1.0 */
	put32(f, 0xFFFFFFFFu);		/* section length: unknown */
	put32(f, 0xFFFFFFFFu);
	put_opt(f, SHB_USERAPPL, appl, strlen(appl));
	put32(f, OPT_END);
	put32(f, len);
	if (drops)
		write_idb(f, LINKTYPE_ETHERNET, "drops");
	else
		write_idb(f, LINKTYPE_RAW, "nflog");
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One packet of an nflog_read answer as an Enhanced Packet Block. */
static void
write_packet(FILE *f, json_t *p)
{
	static const uint8_t ip_frame[ETH_HLEN] = { [12] = 0x08, [13] = 0x00 };
	const char *hex = str(p, "data");
	/* A drop's IP packet goes in a frame (see the top of this file). */
	size_t head = json_object_get(p, "drop") != NULL &&
		!json_is_true(json_object_get(p, "ethernet")) ? ETH_HLEN : 0;
	size_t caplen = head + strlen(hex) / 2, i, clen;
	uint64_t ts = (uint64_t)num(p, "time_s") * 1000000000ull +
		(uint64_t)num(p, "time_ns");
	uint8_t *data = malloc(caplen + 1);
	char comment[256];
	uint32_t len;
	int hi, lo;

	if (data == NULL)
		ctl_die("out of memory");
	memcpy(data, ip_frame, head);
	for (i = head; i < caplen; i++) {
		hi = hexval(hex[2 * (i - head)]);
		lo = hexval(hex[2 * (i - head) + 1]);
		if (hi < 0 || lo < 0)
			ctl_die("capture: malformed packet data from the daemon");
		data[i] = (uint8_t)(hi << 4 | lo);
	}
	if (json_object_get(p, "drop") != NULL)
		snprintf(comment, sizeof(comment), "drop=%s in=%s out=%s",
			str(p, "drop"), str(p, "in"), str(p, "out"));
	else
		snprintf(comment, sizeof(comment),
			"group=%lld prefix=\"%s\" hook=%s in=%s out=%s",
			num(p, "group"), str(p, "prefix"), str(p, "hook"),
			str(p, "in"), str(p, "out"));
	clen = strlen(comment);
	len = 32 + (uint32_t)pad4(caplen) + (uint32_t)opt_size(clen) + 4;
	put32(f, EPB_TYPE);
	put32(f, len);
	put32(f, 0);			/* interface 0 */
	put32(f, (uint32_t)(ts >> 32));
	put32(f, (uint32_t)ts);
	put32(f, (uint32_t)caplen);
	put32(f, (uint32_t)(head + (size_t)num(p, "len")));
	fwrite(data, 1, caplen, f);
	put_pad(f, caplen);
	put_opt(f, OPT_COMMENT, comment, clen);
	put32(f, OPT_END);
	put32(f, len);
	free(data);
}

static void
usage_die(void)
{
	ctl_die("usage: capture [-g GROUP | --drops [REASON,...|all]] [-w FILE|-] [-c COUNT] [-t SECONDS] [--recent]");
}

void
ctl_capture(int argc, char **argv)
{
	const char *path = NULL, *drops = NULL;
	long group = -1, count = 0, seconds = 0, got = 0, lost = 0;
	json_t *watched = NULL;
	bool recent = false, write_failed = false;
	json_t *params, *res, *p;
	time_t deadline = 0;
	FILE *out;
	size_t i;
	int a;

	for (a = 0; a < argc; a++) {
		if (strcmp(argv[a], "--recent") == 0)
			recent = true;
		else if (strcmp(argv[a], "--drops") == 0)
			drops = a + 1 < argc && argv[a + 1][0] != '-' ?
				argv[++a] : "all";
		else if (a + 1 >= argc)
			usage_die();
		else if (strcmp(argv[a], "-g") == 0)
			group = ctl_parse_number("capture", "-g", argv[++a],
				0, 65535);
		else if (strcmp(argv[a], "-w") == 0)
			path = argv[++a];
		else if (strcmp(argv[a], "-c") == 0)
			count = ctl_parse_number("capture", "-c", argv[++a],
				1, LONG_MAX);
		else if (strcmp(argv[a], "-t") == 0)
			seconds = ctl_parse_number("capture", "-t", argv[++a],
				1, 86400 * 365);
		else
			usage_die();
	}
	if (path == NULL && isatty(STDOUT_FILENO))
		ctl_die("capture: not writing pcapng to a terminal: give -w FILE, or pipe it (| tcpdump -n -r -)");
	if (drops != NULL && group >= 0)
		usage_die();
	params = json_pack("{s:i}", "max", READ_BATCH);
	if (group >= 0)
		json_object_set_new(params, "group", json_integer(group));
	/* Start now, or (--recent) with the oldest packet the daemon kept. */
	if (!recent) {
		res = ctl_call("nflog_read", json_pack("{s:i}", "max", 0));
		json_object_set(params, "cursor", json_object_get(res,
			"cursor"));
		json_decref(res);
	}

	out = path == NULL || strcmp(path, "-") == 0 ? stdout :
		fopen(path, "wb");
	if (out == NULL) {
		json_decref(params);
		ctl_die("capture: %s: %s", path, strerror(errno));
	}
	/* Watch the drops while it runs; put the watch back after. */
	if (drops != NULL) {
		res = ctl_call("drop_watch_set", json_pack("{s:s}", "reasons",
			drops));
		watched = json_incref(json_object_get(res, "previous"));
		json_decref(res);
	}
	json_object_set_new(params, "drops", json_boolean(drops != NULL));
	write_headers(out, drops != NULL);
	fflush(out);
	ctl_catch_interrupts(true);
	if (seconds > 0)
		deadline = time(NULL) + seconds;
	while (!ctl_interrupted && !write_failed &&
			(count == 0 || got < count) &&
			(deadline == 0 || time(NULL) < deadline)) {
		res = ctl_call("nflog_read", json_deep_copy(params));
		json_array_foreach(json_object_get(res, "packets"), i, p) {
			if (count != 0 && got == count)
				break;
			write_packet(out, p);
			got++;
		}
		lost += num(res, "lost");
		json_object_set(params, "cursor", json_object_get(res,
			"cursor"));
		/* The reader went away (tcpdump -c ended): stop quietly. */
		write_failed = fflush(out) != 0 || ferror(out);
		if (json_array_size(json_object_get(res, "packets")) == 0)
			usleep(POLL_IDLE_US);
		json_decref(res);
	}
	ctl_catch_interrupts(false);
	json_decref(params);
	if (watched != NULL) {
		char *before = NULL;
		size_t blen = 0;

		json_array_foreach(watched, i, p)
			ctl_append_word(&before, &blen, json_string_value(p));
		json_decref(ctl_call("drop_watch_set", json_pack("{s:s}",
			"reasons", before != NULL ? before : "")));
		free(before);
		json_decref(watched);
	}
	if (out != stdout)
		fclose(out);
	fprintf(stderr, "%ld packets captured", got);
	if (lost > 0)
		fprintf(stderr, ", %ld lost (the daemon's buffer of 2048 wrapped before they were read)",
			lost);
	fputc('\n', stderr);
}
