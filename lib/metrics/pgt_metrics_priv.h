/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_METRICS_PRIV_H
#define PGT_METRICS_PRIV_H

#include <jansson.h>

#include "pgt_log.h"

PGT_LOG_DECLARE(metrics);

/**
 * The result of RPC @p method called with @p params (stolen, may be NULL),
 * or NULL if it failed (logged as a warning: exporters show the rest).
 */
json_t *pgt_metrics_call(const char *method, json_t *params);

#endif /* PGT_METRICS_PRIV_H */
