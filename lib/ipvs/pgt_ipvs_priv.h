/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef PGT_IPVS_PRIV_H
#define PGT_IPVS_PRIV_H

/* What the files of lib/ipvs share. */

#include "pgt_ipvs.h"
#include "pgt_rpc.h"

/* A published snapshot: the services, and an index by VIP:port. */
struct pgt_ipvs_snapshot {
	uint32_t nb_services;
	struct pgt_ipvs_service *svc;	/* [nb_services], in ipvsadm -L order */
	uint32_t nb_fwmark;		/* fwmark services are scanned */
	uint16_t *fwmark;		/* indexes into svc */
	uint32_t hash_mask;		/* open addressing: index + 1, 0 empty */
	uint16_t *hash;
};

/* Per-worker counters of a real server or a service; one writer. */
struct pgt_ipvs_ctr {
	int32_t active, inactive;
	uint64_t conns, inpkts, outpkts, inbytes, outbytes;
};

/* Totals over the workers. */
struct pgt_ipvs_totals {
	uint64_t conns, inpkts, outpkts, inbytes, outbytes;
	int64_t active, inactive;
};

/* The smoothed rates of a slot (management thread's estimator). */
struct pgt_ipvs_rate {
	uint64_t last_conns, last_inpkts, last_outpkts, last_inbytes,
		last_outbytes;
	double cps, inpps, outpps, inbps, outbps;
};

/* A real server of the model (slot 0 until first published). */
struct ipvs_mdest {
	struct pgt_ipvs_dest d;
};

/* A service of the model. */
struct ipvs_msvc {
	struct pgt_ipvs_service s;	/* dests, state, sched_data unused */
	uint32_t nb_dests, cap_dests;
	struct ipvs_mdest *dests;
};

/* The model: services in insertion order. */
struct ipvs_model {
	uint32_t nb, cap;
	struct ipvs_msvc **svc;
};

/* pgt_ipvs.c */
extern unsigned int pgt_ipvs_workers;
void pgt_ipvs_dest_totals(uint16_t slot, struct pgt_ipvs_totals *t);
void pgt_ipvs_svc_totals(uint16_t slot, struct pgt_ipvs_totals *t);
struct pgt_ipvs_rate *pgt_ipvs_dest_rate(uint16_t slot);
struct pgt_ipvs_rate *pgt_ipvs_svc_rate(uint16_t slot);
uint64_t pgt_ipvs_stat(enum pgt_ipvs_stat s);
/* Publish @p m (taken over: the previous model is freed). */
int pgt_ipvs_publish(struct ipvs_model *m);
/* The model in force (management thread only). */
struct ipvs_model *pgt_ipvs_model(void);
struct ipvs_model *pgt_ipvs_model_clone(const struct ipvs_model *m);
void pgt_ipvs_model_free(struct ipvs_model *m);
/* A connection's IPVS state name (ipvsadm -Lc). */
const char *pgt_ipvs_state_name(const struct pgt_ct_conn *c);
extern const char *const pgt_ipvs_method_names[PGT_IPVS_METHOD_MAX];

#endif /* PGT_IPVS_PRIV_H */
