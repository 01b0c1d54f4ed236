/* SPDX-License-Identifier: BSD-3-Clause */
/* lib/scsi private declarations. */
#ifndef FTGT_SCSI_INTERNAL_H
#define FTGT_SCSI_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "ftgt/bdev.h"
#include "ftgt/scsi.h"
#include "ftgt/spec/scsi.h"

#define SCSI_PR_MAX_REGS 32

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
	bool write_cache; /* mode page 08h WCE (current value) */
	bool removal_prevented;
	bool stopped;

	/* SPC-2 RESERVE(6)/(10) holder. */
	bool reserved;
	char reserve_i_name[FTGT_SCSI_PORT_MAX_NAME + 1];

	/* SPC-4 5.12 persistent reservations. */
	uint32_t pr_generation;
	struct scsi_pr_reg regs[SCSI_PR_MAX_REGS];
	bool pr_held;
	uint8_t pr_type;
	int pr_holder; /* index into regs (all-registrants types: any registrant) */
};

struct ftgt_scsi_dev {
	char name[FTGT_SCSI_DEV_MAX_NAME + 1];
	struct ftgt_scsi_lun *luns[FTGT_SCSI_DEV_MAX_LUNS];
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

/* pr.c */
void scsi_pr_in(struct ftgt_scsi_task *task);
void scsi_pr_out(struct ftgt_scsi_task *task);
/* 0 when the command may run; otherwise RESERVATION CONFLICT was set. */
int scsi_pr_check(struct ftgt_scsi_task *task);
void scsi_reserve6(struct ftgt_scsi_task *task, bool reserve);

#endif /* FTGT_SCSI_INTERNAL_H */
