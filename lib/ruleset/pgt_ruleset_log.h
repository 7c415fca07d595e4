/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RULESET_LOG_H
#define PGT_RULESET_LOG_H

/* The LOG rings' set-up (pgt_ruleset_log.c), for pgt_ruleset_init(). */

int pgt_rs_log_init(unsigned int nb_workers);

#endif /* PGT_RULESET_LOG_H */
