/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzz target: the configuration loader. The input is a configuration
 * document, parsed as pktgate --config parses its file and applied as
 * config_reload applies one: planned against the running state, run step
 * by step, undone if a step fails. One input in two is a dry run (plan
 * only), so the planners also meet documents they then do not change.
 * State carries from one input to the next, as it does across reloads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_engine.h"
#include "pgt_config.h"

FUZZ_ENGINE_TARGET("pgt_fuzz_config")

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *changes = NULL;
	char msg[512], *text;

	text = strndup((const char *)data, size);
	if (text == NULL)
		return 0;
	pgt_config_reload("fuzz.json", text, size % 2 == 1, &changes, msg,
		sizeof(msg));
	json_decref(changes);
	free(text);
	fuzz_engine_poll();
	return 0;
}
