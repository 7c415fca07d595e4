/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the iptables-restore parser and the transaction behind it,
 * then one iptables command (the first line of the input after a "#cmd"
 * line), then iptables-save and -L of what was accepted. Anything may be
 * refused; nothing may crash, leak or leave half a change.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "pgt_conntrack.h"
#include "pgt_port.h"
#include "pgt_rcu.h"
#include "pgt_ruleset.h"
#include "pgt_test.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const vdevs[] = { "net_null0", "net_null1", NULL };
	struct rte_mempool *pool;

	(void)argc;
	(void)argv;
	if (pgt_test_eal("pgt_fuzz_ruleset", vdevs) < 0)
		abort();
	pool = rte_pktmbuf_pool_create("fuzz", 1023, 0, PGT_PKT_PRIV_SIZE,
		RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	if (pool == NULL || pgt_rcu_init(1) != 0 ||
			pgt_port_init(1, pool, 64, 64) != 0 ||
			pgt_ct_init(1, 64) != 0 || pgt_ruleset_init(1, 4096) != 0)
		abort();
	return 0;
}

static void
run_words(const char *line)
{
	struct pgt_rs_err err;
	char *copy = strdup(line), *words[64], *save, *tok;
	int n = 0;

	if (copy == NULL)
		return;
	for (tok = strtok_r(copy, " \t", &save); tok != NULL && n < 64;
			tok = strtok_r(NULL, " \t", &save))
		words[n++] = tok;
	pgt_ruleset_command(n, words, NULL, &err);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgt_rs_err err;
	char *text, *cmd, *nl, *out = NULL;
	size_t len = 0;
	FILE *f;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	cmd = strstr(text, "#cmd\n");
	if (cmd != NULL) {
		*cmd = '\0';
		cmd += 5;
		nl = strchr(cmd, '\n');
		if (nl != NULL)
			*nl = '\0';
	}
	pgt_ruleset_restore(text, false, true, &err);
	if (cmd != NULL)
		run_words(cmd);
	f = open_memstream(&out, &len);
	if (f != NULL) {
		pgt_ruleset_save(-1, true, true, f);
		fclose(f);
	}
	free(out);
	free(text);
	return 0;
}
