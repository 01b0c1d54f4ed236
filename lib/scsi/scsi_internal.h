/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/scsi private declarations. */
#ifndef FTGT_SCSI_INTERNAL_H
#define FTGT_SCSI_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ftgt/bdev.h"
#include "ftgt/scsi.h"
#include "ftgt/spec/scsi.h"

#define SCSI_PR_MAX_REGS 32
/* I_T nexuses a dev remembers at once; a nexus beyond that gets no unit attention. */
#define SCSI_MAX_NEXUS 64
/* Pending unit attentions per (LUN, nexus). */
#define SCSI_UA_QUEUE_LEN 4

/*
 * One I_T nexus known to a dev (slot of dev->nexus). Written under dev->lock while `used`
 * is false, then published by the release store of `used`; read without the lock after
 * an acquire load of `used` saw true (ids as relaxed atomics: the lock-free lookup may
 * race with a slot being reused, and then only misses and retries under the lock).
 */
struct scsi_nexus {
	atomic_bool used;
	_Atomic uint64_t i_id;
	_Atomic uint64_t t_id;
	char i_name[FTGT_SCSI_PORT_MAX_NAME + 1];
	char t_name[FTGT_SCSI_PORT_MAX_NAME + 1];
};

/* Pending unit attentions of one (LUN, nexus), oldest first: (asc << 8) | ascq. */
struct scsi_ua_queue {
	uint8_t count;
	uint16_t ua[SCSI_UA_QUEUE_LEN];
};

/* One persistent-reservation registration (an I_T nexus with a key). */
struct scsi_pr_reg {
	bool used;
	uint64_t key;
	char i_name[FTGT_SCSI_PORT_MAX_NAME + 1];
	char t_name[FTGT_SCSI_PORT_MAX_NAME + 1];
	uint16_t rel_tgt_port_id;
};

struct ftgt_scsi_lun {
	struct ftgt_scsi_dev *dev;
	uint32_t id;
	struct ftgt_bdev_desc *desc;
	struct ftgt_bdev *bdev;
	char bdev_name[FTGT_BDEV_MAX_NAME_LEN + 1];
	uint32_t block_size;
	/* Read on the I/O path without the lock (relaxed: a change races with the commands
	 * in flight anyway, and each command reads it once). */
	atomic_bool write_cache; /* mode page 08h WCE (current value) */
	atomic_bool removal_prevented;
	atomic_bool stopped;

	/*
	 * Everything below is shared by the LUN's nexuses and protected by `lock`, except
	 * `attn`: ua_total + (reserved ? 1 : 0) + (pr_held ? 1 : 0), stored (release) under
	 * the lock after each change and loaded (acquire) by every command first, so that
	 * a LUN without reservation and pending UA costs one atomic load per command.
	 */
	pthread_mutex_t lock;
	atomic_uint attn;
	uint32_t ua_total;
	struct scsi_ua_queue ua[SCSI_MAX_NEXUS]; /* indexed like dev->nexus */

	/* SPC-2 RESERVE(6)/(10) holder. */
	bool reserved;
	char reserve_i_name[FTGT_SCSI_PORT_MAX_NAME + 1];
	uint64_t reserve_i_id; /* initiator_port->id of the last RESERVE (nexus loss) */

	/* SPC-4 5.12 persistent reservations. */
	uint32_t pr_generation;
	struct scsi_pr_reg regs[SCSI_PR_MAX_REGS];
	bool pr_held;
	uint8_t pr_type;
	int pr_holder; /* index into regs (all-registrants types: any registrant) */
};

struct ftgt_scsi_dev {
	char name[FTGT_SCSI_DEV_MAX_NAME + 1];
	/* Written under `lock` (app thread); the I/O path reads the LUN of its task, which
	 * the transport keeps alive while it has a channel for it. */
	struct ftgt_scsi_lun *luns[FTGT_SCSI_DEV_MAX_LUNS];
	/* Protects the luns[] array for walkers on other threads (raise_ua, nexus_lost)
	 * and serialises changes of the nexus table. Taken before any LUN lock. */
	pthread_mutex_t lock;
	/* The transport's hot-remove hook (ftgt_scsi_dev_set_lun_removed_cb; app thread). */
	ftgt_scsi_lun_removed_cb lun_removed_cb;
	void *lun_removed_arg;
	atomic_uint nexus_hwm; /* slots [0, hwm) were used at least once */
	bool nexus_full_logged;
	struct scsi_nexus nexus[SCSI_MAX_NEXUS];
};

/* task.c */
void scsi_task_complete(struct ftgt_scsi_task *task);
void scsi_task_good(struct ftgt_scsi_task *task);
/* Copy len bytes of command data into the task's buffer, cut to transfer_len and
 * alloc_len; sets data_transferred. */
void scsi_task_put_data(struct ftgt_scsi_task *task, const void *buf, uint32_t len,
                        uint32_t alloc_len);
/* Gather up to len bytes of parameter data from the task's buffer; returns bytes got. */
uint32_t scsi_task_get_data(struct ftgt_scsi_task *task, void *buf, uint32_t len);
void scsi_task_invalid_cdb(struct ftgt_scsi_task *task);
void scsi_task_set_sense_info(struct ftgt_scsi_task *task, uint8_t sk, uint8_t asc, uint8_t ascq,
                              uint32_t info);
void scsi_task_set_sense_field(struct ftgt_scsi_task *task, uint8_t asc, bool cdb, uint16_t field,
                               int bit);

/* spc.c: returns true when it handled the opcode. */
bool scsi_spc_execute(struct ftgt_scsi_task *task);
void scsi_spc_inquiry_no_lun(struct ftgt_scsi_task *task);
void scsi_spc_report_luns(struct ftgt_scsi_task *task);
bool scsi_spc_opcode_supported(uint8_t opcode, uint16_t sa, uint8_t *cdb_usage,
                               uint32_t *usage_len);

/* sbc.c */
bool scsi_sbc_execute(struct ftgt_scsi_task *task);
/* Largest COMPARE AND WRITE (blocks), as VPD B0h reports it (1..255). */
uint32_t scsi_sbc_max_compare_blocks(const struct ftgt_scsi_lun *lun);

/* dev.c: the nexus table and unit attentions. */
/* The task's nexus index (learning it on first sight), or -1 (no dev/port, table full). */
int scsi_nexus_get(struct ftgt_scsi_dev *dev, const struct ftgt_scsi_port *ip,
                   const struct ftgt_scsi_port *tp);
/* Under lun->lock: store attn after a change of ua_total, reserved or pr_held. */
void scsi_lun_update_attn(struct ftgt_scsi_lun *lun);
/* Under lun->lock: queue asc/ascq for nexus idx (no duplicate; when full, the newest
 * entry is replaced: the latest change is what the initiator must re-read). */
void scsi_ua_add(struct ftgt_scsi_lun *lun, int idx, uint8_t asc, uint8_t ascq);
/* Under lun->lock: queue for every known nexus except slot except_idx (-1: none) and the
 * nexuses of initiator port id except_port (NULL: none). */
void scsi_ua_raise(struct ftgt_scsi_lun *lun, int except_idx,
                   const struct ftgt_scsi_port *except_port, uint8_t asc, uint8_t ascq);
/* Under lun->lock: queue for every known nexus with these port names, except slot
 * except_idx. */
void scsi_ua_raise_names(struct ftgt_scsi_lun *lun, const char *i_name, const char *t_name,
                         int except_idx, uint8_t asc, uint8_t ascq);
/* Under lun->lock: take the oldest UA of nexus idx into asc, ascq; false when none. */
bool scsi_ua_take(struct ftgt_scsi_lun *lun, int idx, uint8_t *asc, uint8_t *ascq);
/* Under lun->lock: drop every queued (asc, ascq) of nexus idx. */
void scsi_ua_clear(struct ftgt_scsi_lun *lun, int idx, uint8_t asc, uint8_t ascq);

/* pr.c */
void scsi_pr_in(struct ftgt_scsi_task *task);
void scsi_pr_out(struct ftgt_scsi_task *task);
/* Under lun->lock: 0 when the command may run; otherwise RESERVATION CONFLICT was set. */
int scsi_pr_check(struct ftgt_scsi_task *task);
void scsi_reserve6(struct ftgt_scsi_task *task, bool reserve);

#endif /* FTGT_SCSI_INTERNAL_H */
