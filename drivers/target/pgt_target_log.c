/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -j LOG --log-prefix --log-level (libxt_LOG): non-terminating. The worker
 * only copies the packet's headers into a record for the management thread,
 * which writes the message (pgt_ruleset_poll()).
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>

#include "pgt_ruleset.h"

#define DEFAULT_LEVEL 4		/* warning, as Linux */

struct log_data {
	char prefix[PGT_RS_LOG_PREFIX_MAX];
	uint8_t level;
	bool has_level;
};

static const char *const level_names[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

static int
log_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct log_data *d = data;
	unsigned int i;
	uint32_t v;

	if (strcmp(opt, "log-prefix") == 0) {
		if (strlen(args[0]) >= PGT_RS_LOG_PREFIX_MAX)
			return pgt_rs_errorf(err,
				"--log-prefix: longer than %u characters",
				PGT_RS_LOG_PREFIX_MAX - 1);
		strcpy(d->prefix, args[0]);
		return 0;
	}
	if (pgt_rs_parse_u32(args[0], 0, 7, &v) == 0) {
		d->level = (uint8_t)v;
		d->has_level = true;
		return 0;
	}
	for (i = 0; i < RTE_DIM(level_names); i++)
		if (strcmp(args[0], level_names[i]) == 0 ||
				(i == 3 && strcmp(args[0], "err") == 0) ||
				(i == 4 && strcmp(args[0], "warn") == 0)) {
			d->level = (uint8_t)i;
			d->has_level = true;
			return 0;
		}
	return pgt_rs_errorf(err,
		"--log-level: '%s' is not 0-7 or a syslog level name", args[0]);
}

static int
log_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	struct log_data *d = data;

	if (!d->has_level)
		d->level = DEFAULT_LEVEL;
	return 0;
}

static void
log_print(const void *data, FILE *f)
{
	const struct log_data *d = data;

	if (d->prefix[0] != '\0') {
		fputs(" --log-prefix ", f);
		pgt_rs_print_quoted(f, d->prefix);
	}
	if (d->level != DEFAULT_LEVEL)
		fprintf(f, " --log-level %u", d->level);
}

static void
log_list(const void *data, FILE *f)
{
	const struct log_data *d = data;

	fprintf(f, " LOG flags 0 level %u", d->level);
	if (d->prefix[0] != '\0')
		fprintf(f, " prefix \"%s\"", d->prefix);
}

static enum pgt_verdict
log_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct log_data *d = data;
	struct pgt_rs_log_record r;

	memcpy(r.prefix, d->prefix, sizeof(r.prefix));
	r.level = d->level;
	r.hook = p->hook;
	r.in_port = p->in_port;
	r.out_port = p->out_port;
	r.len = (uint16_t)RTE_MIN((size_t)p->ip_len, sizeof(r.data));
	r.len = (uint16_t)RTE_MIN((size_t)r.len,
		(size_t)(rte_pktmbuf_data_len(p->m) -
			((uint8_t *)p->ip - rte_pktmbuf_mtod(p->m, uint8_t *))));
	memcpy(r.data, p->ip, r.len);
	pgt_ruleset_log_post(p->worker, &r);
	return PGT_VERDICT_CONTINUE;
}

static const struct pgt_rs_opt log_opts[] = {
	{ "log-prefix", 1, false }, { "log-level", 1, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops log_ops = {
	.name = "LOG", .size = sizeof(struct log_data), .opts = log_opts,
	.tables = 0x1f,
	.parse = log_parse, .finish = log_finish, .print = log_print,
	.list = log_list, .exec = log_exec,
};
PGT_TARGET_REGISTER(log_ops);
