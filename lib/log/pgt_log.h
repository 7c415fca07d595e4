/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_LOG_H
#define PGT_LOG_H

/**
 * @file
 * Logging for pktgate modules.
 *
 * Every module owns an rte_log type named `pktgate.<module>` so operators can
 * raise one module's verbosity with EAL's `--log-level=pktgate.route:debug`.
 * A module declares its type once with PGT_LOG_REGISTER(module) in one .c file
 * and logs with PGT_LOG(LEVEL, module, fmt, ...). Never log per packet on a
 * worker: use counters.
 */

#include <rte_log.h>

/** Define the log type variable `pgt_logtype_<mod>` for module @p mod. */
#define PGT_LOG_REGISTER(mod) \
	RTE_LOG_REGISTER(pgt_logtype_##mod, pktgate.mod, INFO)

/** Declare the log type of module @p mod for use in other files. */
#define PGT_LOG_DECLARE(mod) extern int pgt_logtype_##mod

/** Log one line (no trailing newline in @p fmt) at rte_log level @p l. */
#define PGT_LOG(l, mod, fmt, ...) \
	rte_log(RTE_LOG_##l, pgt_logtype_##mod, "pktgate." #mod ": " fmt "\n", \
		##__VA_ARGS__)

#endif /* PGT_LOG_H */
