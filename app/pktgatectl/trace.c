/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pktgatectl trace: the steps of traced packets, as they happen.
 *
 * With match words, it puts a TRACE rule with them first in the raw table's
 * PREROUTING and OUTPUT chains (commented with its process id, so an
 * operator sees whose it is), and takes them out again when it ends, by
 * count, time or interrupt. Without, it shows what TRACE rules already in
 * the ruleset trace, as `nft monitor trace` does. Events come from the
 * trace_read RPC with a cursor; one line each, prefixed with the packet's
 * trace id, so interleaved packets stay readable.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pktgatectl.h"

#define READ_BATCH 512
#define POLL_IDLE_US 100000

/* "in port0 out port1", or what of it the event has. */
static void
ports(json_t *e, char *buf, size_t size)
{
	const char *in = str(e, "in"), *out = str(e, "out");

	snprintf(buf, size, "%s%s%s%s%s", in[0] != '\0' ? " in " : "", in,
		out[0] != '\0' ? " out " : "", out,
		in[0] == '\0' && out[0] == '\0' ? " (local)" : "");
}

void
ctl_trace_print(FILE *f, json_t *e)
{
	const char *type = str(e, "type"), *pkt = str(e, "packet");
	char where[64];

	/* Offline results are per packet already: no id to say. */
	if (json_object_get(e, "id") != NULL)
		fprintf(f, "[%lld]%s ", num(e, "id"),
			json_is_true(json_object_get(e, "derived")) ?
			" answer" : "");
	else
		fprintf(f, "  %s", json_is_true(json_object_get(e,
			"derived")) ? "answer " : "");
	ports(e, where, sizeof(where));
	if (strcmp(type, "rx") == 0)
		fprintf(f, "rx%s: %s\n", where, pkt);
	else if (strcmp(type, "trace") == 0)
		fprintf(f, "%s%s: %s (TRACE rule)\n", str(e, "hook"), where,
			pkt);
	else if (strcmp(type, "hook") == 0)
		fprintf(f, "%s%s: %s\n", str(e, "hook"), where, pkt);
	else if (strcmp(type, "rule") == 0)
		fprintf(f, "  %s %s rule %lld: %s%s%s\n", str(e, "table"),
			str(e, "chain"), num(e, "rule"), str(e, "verdict"),
			json_object_get(e, "text") != NULL ? "    " : "",
			str(e, "text"));
	else if (strcmp(type, "return") == 0)
		fprintf(f, "  %s %s: return\n", str(e, "table"),
			str(e, "chain"));
	else if (strcmp(type, "policy") == 0)
		fprintf(f, "  %s %s policy: %s\n", str(e, "table"),
			str(e, "chain"), str(e, "verdict"));
	else if (strcmp(type, "conntrack") == 0)
		fprintf(f, "  conntrack: %s%s%s\n", str(e, "ct"),
			json_object_get(e, "ct_dir") != NULL ? ", " : "",
			str(e, "ct_dir"));
	else if (strcmp(type, "nat") == 0 || strcmp(type, "ipvs") == 0)
		fprintf(f, "  %s: %s\n", type, pkt);
	else if (strcmp(type, "local") == 0)
		fprintf(f, "local: for the box%s\n", where);
	else if (strcmp(type, "answered") == 0)
		fprintf(f, "local: answered by pktgate\n");
	else if (strcmp(type, "consumed") == 0)
		fprintf(f, "local: learned by pktgate\n");
	else if (strcmp(type, "queued") == 0)
		fprintf(f, "queued%s: waiting for the next hop's ARP answer\n",
			where);
	else if (strcmp(type, "reassembly") == 0)
		fprintf(f, "held for reassembly: %s\n", pkt);
	else if (strcmp(type, "out") == 0)
		fprintf(f, "out %s: %s%s\n", str(e, "out"), pkt,
			json_is_true(json_object_get(e, "fragment")) ?
			" (a fragment)" : "");
	else if (strcmp(type, "drop") == 0)
		fprintf(f, "drop: %s\n", str(e, "reason"));
	else
		fprintf(f, "%s\n", type);
}

static void
usage_die(void)
{
	ctl_die("usage: trace [-c COUNT] [-t SECONDS] [--recent] [MATCH...]");
}

/* The TRACE rule's words after "-t raw -I|-D CHAIN [1]". */
static char *
rule_words(int argc, char **argv, const char *comment)
{
	char *line = NULL;
	size_t len = 0;
	int i;

	for (i = 0; i < argc; i++)
		ctl_append_word(&line, &len, argv[i]);
	ctl_append_word(&line, &len, "-m");
	ctl_append_word(&line, &len, "comment");
	ctl_append_word(&line, &len, "--comment");
	ctl_append_word(&line, &len, comment);
	ctl_append_word(&line, &len, "-j");
	ctl_append_word(&line, &len, "TRACE");
	return line;
}

static void
rules_edit(const char *op, const char *rule, bool must)
{
	static const char *const chains[] = { "PREROUTING", "OUTPUT" };
	char err[256], *cmd;
	unsigned int i;
	json_t *res;

	for (i = 0; i < 2; i++) {
		if (asprintf(&cmd, "-t raw %s %s%s %s", op, chains[i],
				strcmp(op, "-I") == 0 ? " 1" : "", rule) < 0)
			ctl_die("out of memory");
		res = ctl_try_call("iptables", json_pack("{s:s}", "command",
			cmd), err, sizeof(err));
		free(cmd);
		if (res == NULL && must) {
			if (i == 1)
				rules_edit("-D", rule, false);
			ctl_die("trace: %s", err);
		}
		if (res == NULL)
			fprintf(stderr, "pktgatectl: trace: removing the TRACE rule from %s: %s\n",
				chains[i], err);
		json_decref(res);
	}
}

void
ctl_trace(int argc, char **argv)
{
	long count = 0, seconds = 0, got = 0, lost = 0;
	json_t *params, *res, *e, *seen;
	char *rule = NULL, comment[64], key[24], err[256];
	bool recent = false, last_read = false;
	time_t deadline = 0;
	size_t i;
	int a;

	for (a = 0; a < argc; a++) {
		if (strcmp(argv[a], "--recent") == 0)
			recent = true;
		else if (strcmp(argv[a], "-c") == 0 && a + 1 < argc)
			count = ctl_parse_number("trace", "-c", argv[++a], 1,
				LONG_MAX);
		else if (strcmp(argv[a], "-t") == 0 && a + 1 < argc)
			seconds = ctl_parse_number("trace", "-t", argv[++a], 1,
				86400 * 365);
		else if (strcmp(argv[a], "-c") == 0 || strcmp(argv[a], "-t") == 0)
			usage_die();
		else
			break;
	}
	params = json_pack("{s:i}", "max", READ_BATCH);
	if (!recent) {
		res = ctl_call("trace_read", json_pack("{s:i}", "max", 0));
		json_object_set(params, "cursor", json_object_get(res,
			"cursor"));
		json_decref(res);
	}
	if (a < argc) {
		snprintf(comment, sizeof(comment), "pktgatectl trace %ld",
			(long)getpid());
		rule = rule_words(argc - a, argv + a, comment);
		rules_edit("-I", rule, true);
	}
	/* -c counts packets: ids seen, whatever their events. */
	seen = json_object();
	ctl_catch_interrupts(true);
	if (seconds > 0)
		deadline = time(NULL) + seconds;
	while (!ctl_interrupted && (deadline == 0 || time(NULL) < deadline)) {
		/* With -c, one more read after the last packet appeared:
		 * its later steps are still on their way. */
		if (count != 0 && got == count) {
			if (last_read)
				break;
			last_read = true;
			usleep(3 * POLL_IDLE_US);
		}
		res = ctl_try_call("trace_read", json_deep_copy(params), err,
			sizeof(err));
		if (res == NULL) {
			fprintf(stderr, "pktgatectl: trace: %s\n", err);
			break;
		}
		json_array_foreach(json_object_get(res, "events"), i, e) {
			snprintf(key, sizeof(key), "%lld", num(e, "id"));
			if (json_object_get(seen, key) == NULL) {
				if (count != 0 && got == count)
					continue;
				json_object_set_new(seen, key, json_true());
				got++;
			}
			if (ctl_json_output) {
				json_dumpf(e, stdout, JSON_COMPACT);
				putchar('\n');
			} else {
				ctl_trace_print(stdout, e);
			}
		}
		fflush(stdout);
		lost += num(res, "lost");
		json_object_set(params, "cursor", json_object_get(res,
			"cursor"));
		if (json_array_size(json_object_get(res, "events")) == 0)
			usleep(POLL_IDLE_US);
		json_decref(res);
	}
	ctl_catch_interrupts(false);
	if (rule != NULL) {
		rules_edit("-D", rule, false);
		free(rule);
	}
	json_decref(seen);
	json_decref(params);
	fprintf(stderr, "%ld packets traced", got);
	if (lost > 0)
		fprintf(stderr, ", %ld events lost (the daemon's buffer of 8192 wrapped before they were read)",
			lost);
	fputc('\n', stderr);
}
