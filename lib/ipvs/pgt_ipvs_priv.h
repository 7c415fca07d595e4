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

/* Health checks (pgt_ipvs_check.c): what is checked, and how. */
enum ipvs_check_type {
	IPVS_CHECK_INHERIT,	/* server: the service's; service: none */
	IPVS_CHECK_NONE,	/* server: not checked, whatever the service */
	IPVS_CHECK_TCP,		/* a TCP connection is accepted */
	IPVS_CHECK_HTTP,	/* GET path answers the expected status */
};

/* What a failed server becomes. */
enum ipvs_check_action {
	IPVS_CHECK_QUIESCE,	/* weight 0: its connections go on */
	IPVS_CHECK_REMOVE,	/* out of the schedulers' list */
};

#define IPVS_CHECK_PATH_MAX 128

struct ipvs_check {
	uint8_t type;		/* enum ipvs_check_type */
	uint8_t action;		/* enum ipvs_check_action */
	uint8_t rise, fall;	/* results in a row that change the health */
	uint16_t port;		/* 0: the real server's */
	uint16_t status;	/* HTTP: the status expected */
	uint32_t interval_ms, timeout_ms;
	char path[IPVS_CHECK_PATH_MAX];	/* HTTP */
};

/* A real server of the model (slot 0 until first published). d.down is
 * the health checker's verdict; d.weight stays the configured one. */
struct ipvs_mdest {
	struct pgt_ipvs_dest d;
	struct ipvs_check check;	/* IPVS_CHECK_INHERIT: the service's */
};

/* A service of the model. */
struct ipvs_msvc {
	struct pgt_ipvs_service s;	/* dests, state, sched_data unused */
	uint32_t nb_dests, cap_dests;
	struct ipvs_mdest *dests;
	struct ipvs_check check;	/* for its servers; INHERIT: none */
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
/* The model in force (management thread only), and its publication count. */
struct ipvs_model *pgt_ipvs_model(void);
extern uint64_t pgt_ipvs_model_gen;
struct ipvs_model *pgt_ipvs_model_clone(const struct ipvs_model *m);
void pgt_ipvs_model_free(struct ipvs_model *m);
/* A connection's IPVS state name (ipvsadm -Lc). */
const char *pgt_ipvs_state_name(const struct pgt_ct_conn *c);
extern const char *const pgt_ipvs_method_names[PGT_IPVS_METHOD_MAX];

/* pgt_ipvs_check.c */
/* The check that applies to @p d of @p s, or NULL (not checked). */
const struct ipvs_check *pgt_ipvs_check_of(const struct ipvs_msvc *s,
	const struct ipvs_mdest *d);
/* Is @p d out of service by its health check (and how)? */
bool pgt_ipvs_check_down(const struct ipvs_msvc *s, const struct ipvs_mdest *d,
	bool *removed);
/* Servers of @p s that their checks do not hold down. */
uint32_t pgt_ipvs_check_servers_up(const struct ipvs_msvc *s);
/* A server's health for listings: "up", "down", or "unchecked"; @p last
 * gets the last result (or "") and @p since the seconds since it changed. */
const char *pgt_ipvs_check_health(const struct ipvs_msvc *s,
	const struct ipvs_mdest *d, const char **last, int64_t *since);
/* Run due checks, collect results, publish health changes. */
void pgt_ipvs_check_poll(void);
/* Close every check in flight. */
void pgt_ipvs_check_fini(void);
/* The defaults of a new check of @p type. */
void pgt_ipvs_check_defaults(struct ipvs_check *c, uint8_t type);
/* The check's options as ipvsadm -S prints them (leading blank). */
void pgt_ipvs_check_print(FILE *f, const struct ipvs_check *c);
/* Its JSON form. */
json_t *pgt_ipvs_check_json(const struct ipvs_check *c);

#endif /* PGT_IPVS_PRIV_H */
