/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RULESET_LOG_H
#define PGT_RULESET_LOG_H

/* The LOG rings' set-up (pgt_ruleset_log.c), for pgt_ruleset_init(). */


int pgt_rs_log_init(unsigned int nb_workers);

/* NFLOG (pgt_ruleset_nflog.c): rings, draining, counters. */
#include <jansson.h>

int pgt_rs_nflog_init(unsigned int nb_workers);
/* Move up to @p budget records into the capture buffer; returns how many. */
unsigned int pgt_rs_nflog_poll(unsigned int budget);
/* {"posted", "ring_full", "captured"} */
json_t *pgt_rs_nflog_stats(void);

#endif /* PGT_RULESET_LOG_H */
