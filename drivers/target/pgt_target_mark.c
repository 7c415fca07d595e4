/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * -j MARK (libxt_MARK, revision 2): every form is stored as Linux stores
 * it, mark = (mark & ~mask) ^ value, and saved as --set-xmark value/mask.
 */
#include <errno.h>
#include <string.h>

#include "pgt_ruleset.h"

struct mark_tg_data {
	uint32_t value, mask;
	bool set;
};

static int
mark_tg_parse(void *data, const char *opt, char *const *args, bool inv,
	struct pgt_rs_err *err)
{
	struct mark_tg_data *d = data;
	uint32_t v, m;

	if (d->set)
		return pgt_rs_errorf(err, "MARK takes one operation");
	if (strcmp(opt, "set-xmark") == 0 || strcmp(opt, "set-mark") == 0) {
		if (pgt_rs_parse_mark(args[0], &v, &m) != 0)
			goto bad;
		d->value = v;
		d->mask = opt[4] == 'x' ? m : (m | v);
	} else {
		if (pgt_rs_parse_u32(args[0], 0, UINT32_MAX, &v) != 0)
			goto bad;
		if (strcmp(opt, "and-mark") == 0) {
			d->value = 0;
			d->mask = ~v;
		} else if (strcmp(opt, "or-mark") == 0) {
			d->value = v;
			d->mask = v;
		} else {	/* xor-mark */
			d->value = v;
			d->mask = 0;
		}
	}
	d->set = true;
	return 0;
bad:
	return pgt_rs_errorf(err, "--%s: '%s' is not a mark value[/mask]", opt,
		args[0]);
}

static int
mark_tg_finish(void *data, uint8_t proto, struct pgt_rs_err *err)
{
	if (!((struct mark_tg_data *)data)->set)
		return pgt_rs_errorf(err,
			"MARK needs --set-xmark, --set-mark, --and-mark, --or-mark or --xor-mark");
	return 0;
}

static void
mark_tg_print(const void *data, FILE *f)
{
	const struct mark_tg_data *d = data;

	fprintf(f, " --set-xmark 0x%x/0x%x", d->value, d->mask);
}

/* libxt_MARK's -L form names the operation the value/mask pair is. */
static void
mark_tg_list(const void *data, FILE *f)
{
	const struct mark_tg_data *d = data;

	if (d->value == d->mask)
		fprintf(f, " MARK or 0x%x", d->value);
	else if (d->value == 0)
		fprintf(f, " MARK and 0x%x", ~d->mask);
	else if (d->mask == UINT32_MAX)
		fprintf(f, " MARK set 0x%x", d->value);
	else if (d->mask == 0)
		fprintf(f, " MARK xor 0x%x", d->value);
	else
		fprintf(f, " MARK xset 0x%x/0x%x", d->value, d->mask);
}

static enum pgt_verdict
mark_tg_exec(const void *data, struct pgt_rs_pkt *p)
{
	const struct mark_tg_data *d = data;

	p->meta->mark = (p->meta->mark & ~d->mask) ^ d->value;
	return PGT_VERDICT_CONTINUE;
}

static const struct pgt_rs_opt mark_tg_opts[] = {
	{ "set-xmark", 1, false }, { "set-mark", 1, false },
	{ "and-mark", 1, false }, { "or-mark", 1, false },
	{ "xor-mark", 1, false },
	{ NULL, 0, false },
};

static struct pgt_target_ops mark_tg_ops = {
	.name = "MARK", .size = sizeof(struct mark_tg_data),
	.opts = mark_tg_opts, .tables = 0x1f,
	.parse = mark_tg_parse, .finish = mark_tg_finish,
	.print = mark_tg_print, .list = mark_tg_list, .exec = mark_tg_exec,
};
PGT_TARGET_REGISTER(mark_tg_ops);
