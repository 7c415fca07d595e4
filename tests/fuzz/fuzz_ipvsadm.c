/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: ipvsadm's syntax. The input is applied whole with
 * ipvsadm_restore (all or nothing), then line by line as ipvsadm
 * commands, then listed as ipvsadm -S, -L --stats and -L -c would; the
 * virtual services carry from one input to the next, so edits meet the
 * services, servers and health checks earlier inputs made.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_engine.h"

FUZZ_ENGINE_TARGET("pgt_fuzz_ipvsadm")

/* Text that is not UTF-8 never reaches a method: jansson refuses it. */
static void
ipvsadm(const char *method, const char *command)
{
	json_t *text = json_string(command);

	if (text != NULL)
		fuzz_engine_call(method, json_pack("{s:o}", "command", text));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *line, *nl;

	/* The RPC layer takes text only: a NUL ends it, as jansson would. */
	text = strndup((const char *)data, size);
	if (text == NULL)
		return 0;
	ipvsadm("ipvsadm_restore", text);
	for (line = text; line != NULL; line = nl) {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		ipvsadm("ipvsadm", line);
	}
	free(text);
	ipvsadm("ipvsadm", "-S -n");
	ipvsadm("ipvsadm", "-L -n --stats");
	ipvsadm("ipvsadm", "-L -n -c");
	fuzz_engine_poll();
	return 0;
}
