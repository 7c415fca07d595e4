/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_RPC_PRIV_H
#define PGT_RPC_PRIV_H

/** @file Inside the rpc module: the saver list for the reload planner. */

#include "pgt_rpc.h"

/** The registered savers, lowest order first. */
const struct pgt_rpc_saver *pgt_rpc_savers(void);

#endif /* PGT_RPC_PRIV_H */
