/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -m limit (libxt_limit, xt_limit): a token bucket. The limit is global, as
 * in Linux; each of N workers has its own bucket filling at rate/N with
 * burst/N (at least 1), so no state is shared and the sum is the global
 * rate. The rate is kept as Linux keeps it (XT_LIMIT_SCALE units of time
 * per packet) so that it prints back as iptables prints it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>

#include "pgt_ruleset.h"

#define LIMIT_SCALE	10000
#define DEFAULT_AVG	(LIMIT_SCALE * 3600 / 3)	/* 3/hour */
#define DEFAULT_BURST	5

struct limit_data {
	uint32_t avg;		/* LIMIT_SCALE seconds per packet */
	uint32_t burst;
	uint64_t cost;		/* TSC cycles per packet, per worker */
	uint64_t cap;		/* bucket size in TSC cycles, per worker */
	bool has_avg, has_burst;
};

struct limit_state {
	uint64_t last;		/* TSC of the last refill */
	uint64_t credit;	/* TSC cycles of credit */
	bool started;
};

static const struct {
	const char *name;
	uint32_t mult;		/* seconds * LIMIT_SCALE */
} rates[] = {
	{ "day", LIMIT_SCALE * 24 * 60 * 60 },
	{ "hour", LIMIT_SCALE * 60 * 60 },
	{ "min", LIMIT_SCALE * 60 },
	{ "sec", LIMIT_SCALE },
};

static int
parse_rate(const char *s, uint32_t *avg)
{
	const char *slash = strchr(s, '/');
	uint32_t mult = LIMIT_SCALE, count;
	char num[16];
	size_t n;

	n = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = '\0';
	if (pgt_rs_parse_u32(num, 1, UINT32_MAX, &count) != 0)
		return -EINVAL;
	if (slash != NULL) {
		/* iptables accepts any prefix of the unit's name. */
		n = strlen(slash + 1);
		if (n == 0)
			return -EINVAL;
		if (strncmp(slash + 1, "second", n) == 0)
			mult = LIMIT_SCALE;
		else if (strncmp(slash + 1, "minute", n) == 0)
			mult = LIMIT_SCALE * 60;
		else if (strncmp(slash + 1, "hour", n) == 0)
			mult = LIMIT_SCALE * 60 * 60;
		else if (strncmp(slash + 1, "day", n) == 0)
			mult = LIMIT_SCALE * 24 * 60 * 60;
		else
			return -EINVAL;
	}
	/* xt_limit: "Rate too fast" when it rounds to nothing. */
	if (count > mult)
		return -ERANGE;
	*avg = mult / count;
	return 0;
}

static int
limit_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct limit_data *d = data;
	int rc;

	if (strcmp(opt, "limit") == 0) {
		rc = parse_rate(args[0], &d->avg);
		if (rc == -ERANGE)
			return pgt_rs_errorf(err, "--limit: rate '%s' too fast",
				args[0]);
		if (rc != 0)
			return pgt_rs_errorf(err,
				"--limit: '%s' is not N[/second|/minute|/hour|/day]",
				args[0]);
		d->has_avg = true;
		return 0;
	}
	if (pgt_rs_parse_u32(args[0], 1, 10000, &d->burst) != 0)
		return pgt_rs_errorf(err,
			"--limit-burst: '%s' is not a number from 1 to 10000",
			args[0]);
	d->has_burst = true;
	return 0;
}

static int
limit_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	struct limit_data *d = data;
	unsigned int workers = RTE_MAX(pgt_rs_nb_workers(), 1u);
	uint32_t burst;

	if (!d->has_avg)
		d->avg = DEFAULT_AVG;
	if (!d->has_burst)
		d->burst = DEFAULT_BURST;
	d->cost = rte_get_tsc_hz() / LIMIT_SCALE * d->avg * workers;
	burst = RTE_MAX(d->burst / workers, 1u);
	d->cap = d->cost * burst;
	return 0;
}

/* As libxt_limit's print_rate(): the largest unit that is still exact. */
static void
print_rate(FILE *f, uint32_t avg)
{
	unsigned int i;

	for (i = 1; i < RTE_DIM(rates); i++)
		if (avg > rates[i].mult ||
				rates[i].mult / avg < rates[i].mult % avg)
			break;
	fprintf(f, "%u/%s", rates[i - 1].mult / avg, rates[i - 1].name);
}

static void
limit_print(const void *data, FILE *f)
{
	const struct limit_data *d = data;

	fputs(" --limit ", f);
	print_rate(f, d->avg);
	if (d->burst != DEFAULT_BURST)
		fprintf(f, " --limit-burst %u", d->burst);
}

static void
limit_list(const void *data, FILE *f)
{
	const struct limit_data *d = data;

	fputs(" limit: avg ", f);
	print_rate(f, d->avg);
	fprintf(f, " burst %u", d->burst);
}

static bool
limit_match(const void *data, void *state, struct pgt_rs_pkt *p)
{
	const struct limit_data *d = data;
	struct limit_state *s = state;

	if (!s->started) {
		s->started = true;
		s->credit = d->cap;
		s->last = p->now;
	}
	s->credit += p->now - s->last;
	s->last = p->now;
	if (s->credit > d->cap)
		s->credit = d->cap;
	if (s->credit < d->cost)
		return false;
	s->credit -= d->cost;
	return true;
}

static const struct pgt_rs_opt limit_opts[] = {
	{ "limit", 1, false }, { "limit-burst", 1, false },
	{ NULL, 0, false },
};

static struct pgt_match_ops limit_ops = {
	.name = "limit", .size = sizeof(struct limit_data), .opts = limit_opts,
	.parse = limit_parse, .finish = limit_finish, .print = limit_print,
	.list = limit_list, .match = limit_match,
	.worker_state_size = sizeof(struct limit_state),
};
PGT_MATCH_REGISTER(limit_ops);
