/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPC-4 5.12 persistent reservations (PERSISTENT RESERVE IN/OUT) and SPC-2
 * RESERVE/RELEASE. State is per LUN, in memory (APTPL is not supported and is refused),
 * under lun->lock (nexuses of one LUN run on different threads). A registration is
 * identified by the initiator port name and the target port name; the unit attentions
 * SPC-4 asks for go to the known nexuses with those names.
 */
#include <string.h>

#include "ftgt/string.h"
#include "scsi_internal.h"

#define ASC_INVALID_RELEASE 0x26 /* ASCQ 04h: invalid release of persistent reservation */

static const char *
i_name(const struct ftgt_scsi_task *task)
{
	return task->initiator_port != NULL ? task->initiator_port->name : "";
}

static const char *
t_name(const struct ftgt_scsi_task *task)
{
	return task->target_port != NULL ? task->target_port->name : "";
}

static int
find_reg(const struct ftgt_scsi_lun *lun, const struct ftgt_scsi_task *task)
{
	int i;

	for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
		if (lun->regs[i].used && strcmp(lun->regs[i].i_name, i_name(task)) == 0 &&
		    strcmp(lun->regs[i].t_name, t_name(task)) == 0) {
			return i;
		}
	}
	return -1;
}

static bool
type_all_regs(uint8_t type)
{
	return type == SCSI_PR_TYPE_WRITE_EXCLUSIVE_ALL_REGS ||
	       type == SCSI_PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS;
}

static bool
type_regs_only(uint8_t type)
{
	return type == SCSI_PR_TYPE_WRITE_EXCLUSIVE_REGS_ONLY ||
	       type == SCSI_PR_TYPE_EXCLUSIVE_ACCESS_REGS_ONLY;
}

static bool
type_valid(uint8_t type)
{
	return type == SCSI_PR_TYPE_WRITE_EXCLUSIVE || type == SCSI_PR_TYPE_EXCLUSIVE_ACCESS ||
	       type_regs_only(type) || type_all_regs(type);
}

static bool
is_holder(const struct ftgt_scsi_lun *lun, int reg)
{
	if (!lun->pr_held || reg < 0) {
		return false;
	}
	return type_all_regs(lun->pr_type) || lun->pr_holder == reg;
}

static void
conflict(struct ftgt_scsi_task *task)
{
	task->status = SCSI_STATUS_RESERVATION_CONFLICT;
	task->sense_len = 0;
}

static bool
op_is_write(uint8_t op)
{
	switch (op) {
	case SCSI_OP_WRITE_6:
	case SCSI_OP_WRITE_10:
	case SCSI_OP_WRITE_12:
	case SCSI_OP_WRITE_16:
	case SCSI_OP_WRITE_AND_VERIFY_10:
	case SCSI_OP_WRITE_AND_VERIFY_12:
	case SCSI_OP_WRITE_AND_VERIFY_16:
	case SCSI_OP_WRITE_SAME_10:
	case SCSI_OP_WRITE_SAME_16:
	case SCSI_OP_UNMAP:
	case SCSI_OP_COMPARE_AND_WRITE:
	case SCSI_OP_SYNCHRONIZE_CACHE_10:
	case SCSI_OP_SYNCHRONIZE_CACHE_16:
	case SCSI_OP_MODE_SELECT_6:
	case SCSI_OP_MODE_SELECT_10:
	case SCSI_OP_START_STOP_UNIT:
	case SCSI_OP_FORMAT_UNIT:
		return true;
	default:
		return false;
	}
}

static bool
op_is_read(uint8_t op)
{
	switch (op) {
	case SCSI_OP_READ_6:
	case SCSI_OP_READ_10:
	case SCSI_OP_READ_12:
	case SCSI_OP_READ_16:
	case SCSI_OP_VERIFY_10:
	case SCSI_OP_VERIFY_12:
	case SCSI_OP_VERIFY_16:
		return true;
	default:
		return false;
	}
}

int
scsi_pr_check(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	uint8_t op = task->cdb[0];
	int reg;

	if (lun->reserved && strcmp(lun->reserve_i_name, i_name(task)) != 0) {
		/* SPC-2 reservation held by another initiator. */
		switch (op) {
		case SCSI_OP_INQUIRY:
		case SCSI_OP_REQUEST_SENSE:
		case SCSI_OP_RELEASE_6:
		case SCSI_OP_RELEASE_10:
		case SCSI_OP_MAINTENANCE_IN:
			return 0;
		default:
			conflict(task);
			return -1;
		}
	}
	if (!lun->pr_held) {
		return 0;
	}
	if (op == SCSI_OP_RESERVE_6 || op == SCSI_OP_RESERVE_10 || op == SCSI_OP_RELEASE_6 ||
	    op == SCSI_OP_RELEASE_10) {
		conflict(task);
		return -1;
	}
	reg = find_reg(lun, task);
	if (is_holder(lun, reg)) {
		return 0;
	}
	if (reg >= 0 && type_regs_only(lun->pr_type)) {
		return 0;
	}
	if (op_is_write(op)) {
		conflict(task);
		return -1;
	}
	if (op_is_read(op) && (lun->pr_type == SCSI_PR_TYPE_EXCLUSIVE_ACCESS ||
	                       lun->pr_type == SCSI_PR_TYPE_EXCLUSIVE_ACCESS_REGS_ONLY ||
	                       lun->pr_type == SCSI_PR_TYPE_EXCLUSIVE_ACCESS_ALL_REGS)) {
		conflict(task);
		return -1;
	}
	return 0;
}

void
scsi_reserve6(struct ftgt_scsi_task *task, bool reserve)
{
	struct ftgt_scsi_lun *lun = task->lun;
	int i;

	pthread_mutex_lock(&lun->lock);
	if (reserve) {
		for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
			if (lun->regs[i].used) {
				conflict(task);
				goto done;
			}
		}
		if (lun->reserved && strcmp(lun->reserve_i_name, i_name(task)) != 0) {
			conflict(task);
			goto done;
		}
		lun->reserved = true;
		ftgt_strlcpy(lun->reserve_i_name, i_name(task), sizeof(lun->reserve_i_name));
		lun->reserve_i_id = task->initiator_port != NULL ? task->initiator_port->id : 0;
	} else if (lun->reserved && strcmp(lun->reserve_i_name, i_name(task)) == 0) {
		lun->reserved = false;
	}
done:
	scsi_lun_update_attn(lun);
	pthread_mutex_unlock(&lun->lock);
	scsi_task_complete(task);
}

/* ---- PERSISTENT RESERVE IN ---------------------------------------------------------- */

void
scsi_pr_in(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	uint8_t buf[8 + SCSI_PR_MAX_REGS * (24 + 264)];
	uint32_t alloc_len = scsi_from_be16(task->cdb + 7), off = 8, i;

	memset(buf, 0, sizeof(buf));
	pthread_mutex_lock(&lun->lock);
	scsi_to_be32(buf, lun->pr_generation);
	switch (task->cdb[1] & 0x1f) {
	case SCSI_PR_IN_READ_KEYS:
		for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
			if (lun->regs[i].used) {
				scsi_to_be64(buf + off, lun->regs[i].key);
				off += 8;
			}
		}
		scsi_to_be32(buf + 4, off - 8);
		break;
	case SCSI_PR_IN_READ_RESERVATION:
		if (lun->pr_held) {
			uint64_t key = 0;

			if (!type_all_regs(lun->pr_type) && lun->pr_holder >= 0) {
				key = lun->regs[lun->pr_holder].key;
			}
			scsi_to_be64(buf + 8, key);
			buf[8 + 13] = lun->pr_type & 0x0f; /* scope 0: LU */
			off = 24;
		}
		scsi_to_be32(buf + 4, off - 8);
		break;
	case SCSI_PR_IN_REPORT_CAPABILITIES:
		memset(buf, 0, 8);
		scsi_to_be16(buf, 8);
		buf[2] = 0x10;            /* CRH: RESERVE/RELEASE(6) handled as SPC-4 5.13.3 says */
		buf[3] = 0x80 | (1 << 4); /* TMV; ALLOW COMMANDS 001b */
		buf[4] = 0x80 | 0x40 | 0x20 | 0x08 |
		         0x02; /* WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX */
		buf[5] = 0x01; /* EX_AC_AR */
		off = 8;
		break;
	case SCSI_PR_IN_READ_FULL_STATUS:
		for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
			const struct scsi_pr_reg *r = &lun->regs[i];
			uint32_t nl, tid_len;
			uint8_t *d = buf + off;

			if (!r->used) {
				continue;
			}
			nl = (uint32_t)strlen(r->i_name) + 1;
			tid_len = FTGT_MAX(FTGT_ALIGN_UP(4 + nl, 4u), 24u);
			scsi_to_be64(d, r->key);
			if (is_holder(lun, (int)i)) {
				d[12] = 0x01; /* R_HOLDER */
				d[13] = lun->pr_type & 0x0f;
			}
			scsi_to_be16(d + 18, r->rel_tgt_port_id);
			scsi_to_be32(d + 20, tid_len);
			/* iSCSI TransportID, format 00b (SPC-4 7.6.4.6). */
			d[24] = SCSI_PROTOCOL_ISCSI;
			scsi_to_be16(d + 26, (uint16_t)(tid_len - 4));
			memcpy(d + 28, r->i_name, nl - 1);
			off += 24 + tid_len;
		}
		scsi_to_be32(buf + 4, off - 8);
		break;
	default:
		pthread_mutex_unlock(&lun->lock);
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 4);
		scsi_task_complete(task);
		return;
	}
	pthread_mutex_unlock(&lun->lock);
	scsi_task_put_data(task, buf, off, alloc_len);
	scsi_task_complete(task);
}

/* ---- PERSISTENT RESERVE OUT --------------------------------------------------------- */

/* Unit attention 2Ah/ascq for the nexuses of registration idx (SPC-4 5.12.11). */
static void
ua_reg(struct ftgt_scsi_task *task, int idx, uint8_t ascq)
{
	struct ftgt_scsi_lun *lun = task->lun;

	scsi_ua_raise_names(lun, lun->regs[idx].i_name, lun->regs[idx].t_name, task->nexus,
	                    SCSI_ASC_PARAMETERS_CHANGED, ascq);
}

/* ... for every registration except except_reg (the issuer's). */
static void
ua_other_regs(struct ftgt_scsi_task *task, int except_reg, uint8_t ascq)
{
	int i;

	for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
		if (task->lun->regs[i].used && i != except_reg) {
			ua_reg(task, i, ascq);
		}
	}
}

static void
remove_reg(struct ftgt_scsi_lun *lun, int idx)
{
	int i;
	bool any = false;

	lun->regs[idx].used = false;
	if (!lun->pr_held) {
		return;
	}
	if (type_all_regs(lun->pr_type)) {
		for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
			any |= lun->regs[i].used;
		}
		if (!any) {
			lun->pr_held = false;
			lun->pr_holder = -1;
		}
	} else if (lun->pr_holder == idx) {
		lun->pr_held = false;
		lun->pr_holder = -1;
	}
}

static void
invalid_param(struct ftgt_scsi_task *task)
{
	ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
	                         SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0);
}

static void
pr_register(struct ftgt_scsi_task *task, int reg, uint64_t key, uint64_t sa_key, bool ignore)
{
	struct ftgt_scsi_lun *lun = task->lun;
	bool released;
	int i;

	if (reg < 0) {
		if (!ignore && key != 0) {
			conflict(task);
			return;
		}
		if (sa_key == 0) {
			return;
		}
		for (i = 0; i < SCSI_PR_MAX_REGS && lun->regs[i].used; i++) {
		}
		if (i == SCSI_PR_MAX_REGS) {
			ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
			                         SCSI_ASC_INSUFFICIENT_REGISTRATION_RESOURCES,
			                         0x04);
			return;
		}
		lun->regs[i].used = true;
		lun->regs[i].key = sa_key;
		ftgt_strlcpy(lun->regs[i].i_name, i_name(task), sizeof(lun->regs[i].i_name));
		ftgt_strlcpy(lun->regs[i].t_name, t_name(task), sizeof(lun->regs[i].t_name));
		lun->regs[i].rel_tgt_port_id =
		        task->target_port != NULL ? task->target_port->relative_id : 0;
		lun->pr_generation++;
		return;
	}
	if (!ignore && key != lun->regs[reg].key) {
		conflict(task);
		return;
	}
	if (sa_key == 0) {
		/* SPC-4 5.12.11.2: the holder of a registrants-only reservation that
		 * unregisters releases it; the other registrants are told. */
		released = lun->pr_held && type_regs_only(lun->pr_type) && is_holder(lun, reg);
		remove_reg(lun, reg);
		if (released) {
			ua_other_regs(task, reg, SCSI_ASCQ_RESERVATIONS_RELEASED);
		}
	} else {
		lun->regs[reg].key = sa_key;
	}
	lun->pr_generation++;
}

/* SPC-4 5.12.11.4: PREEMPT and PREEMPT AND ABORT. */
static void
pr_preempt(struct ftgt_scsi_task *task, int reg, uint8_t type, uint64_t sa_key)
{
	struct ftgt_scsi_lun *lun = task->lun;
	bool found = false;
	int i;

	if (lun->pr_held && type_all_regs(lun->pr_type) && sa_key == 0) {
		/* Preempt an all-registrants reservation: everyone else goes. */
		for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
			if (lun->regs[i].used && i != reg) {
				ua_reg(task, i, SCSI_ASCQ_REGISTRATIONS_PREEMPTED);
				lun->regs[i].used = false;
			}
		}
		lun->pr_type = type;
		lun->pr_holder = reg;
		lun->pr_generation++;
		return;
	}
	if (sa_key == 0) {
		invalid_param(task);
		return;
	}
	if (lun->pr_held && !type_all_regs(lun->pr_type) && lun->pr_holder >= 0 &&
	    lun->regs[lun->pr_holder].key == sa_key) {
		bool changed = lun->pr_type != type;

		for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
			if (lun->regs[i].used && lun->regs[i].key == sa_key && i != reg) {
				ua_reg(task, i, SCSI_ASCQ_REGISTRATIONS_PREEMPTED);
				lun->regs[i].used = false;
			}
		}
		lun->pr_held = true;
		lun->pr_type = type;
		lun->pr_holder = reg;
		lun->pr_generation++;
		/* 5.12.11.4.3: a new type releases the old reservation for the
		 * registrants that stay. */
		if (changed) {
			ua_other_regs(task, reg, SCSI_ASCQ_RESERVATIONS_RELEASED);
		}
		return;
	}
	for (i = 0; i < SCSI_PR_MAX_REGS; i++) {
		if (lun->regs[i].used && lun->regs[i].key == sa_key && i != reg) {
			ua_reg(task, i, SCSI_ASCQ_REGISTRATIONS_PREEMPTED);
			remove_reg(lun, i);
			found = true;
		}
	}
	if (!found) {
		conflict(task);
		return;
	}
	lun->pr_generation++;
}

void
scsi_pr_out(struct ftgt_scsi_task *task)
{
	struct ftgt_scsi_lun *lun = task->lun;
	struct scsi_pr_out_param p;
	uint8_t sa = task->cdb[1] & 0x1f, scope = task->cdb[2] >> 4, type = task->cdb[2] & 0x0f;
	uint32_t list_len = scsi_from_be32(task->cdb + 5);
	uint64_t key, sa_key;
	int reg;

	if (sa > SCSI_PR_OUT_REGISTER_AND_IGNORE_KEY) {
		/* REGISTER AND MOVE is not supported. */
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 4);
		goto done;
	}
	if (list_len != sizeof(p)) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
		goto done;
	}
	if (scsi_task_get_data(task, &p, sizeof(p)) < sizeof(p)) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
		goto done;
	}
	task->data_transferred = 0;
	/* SPC-4 6.16.3: SPEC_I_PT is invalid outside REGISTER; ALL_TG_PT and APTPL are
	 * ignored outside the register service actions. None is supported (ATP_C,
	 * SIP_C and PTPL_C are 0 in REPORT CAPABILITIES), so where they count they are
	 * refused. */
	if ((p.flags & SCSI_PR_OUT_FLAG_SPEC_I_PT) ||
	    ((sa == SCSI_PR_OUT_REGISTER || sa == SCSI_PR_OUT_REGISTER_AND_IGNORE_KEY) &&
	     (p.flags & (SCSI_PR_OUT_FLAG_ALL_TG_PT | SCSI_PR_OUT_FLAG_APTPL)))) {
		invalid_param(task);
		goto done;
	}
	key = ftgt_be64_to_cpu(p.reservation_key);
	sa_key = ftgt_be64_to_cpu(p.sa_reservation_key);

	pthread_mutex_lock(&lun->lock);
	reg = find_reg(lun, task);
	if (sa == SCSI_PR_OUT_REGISTER || sa == SCSI_PR_OUT_REGISTER_AND_IGNORE_KEY) {
		pr_register(task, reg, key, sa_key, sa == SCSI_PR_OUT_REGISTER_AND_IGNORE_KEY);
		goto unlock;
	}
	if (reg < 0 || lun->regs[reg].key != key) {
		conflict(task);
		goto unlock;
	}
	if (sa != SCSI_PR_OUT_CLEAR && (scope != 0 || !type_valid(type)) &&
	    !(sa == SCSI_PR_OUT_RELEASE && !lun->pr_held)) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, -1);
		goto unlock;
	}
	switch (sa) {
	case SCSI_PR_OUT_RESERVE:
		if (lun->pr_held) {
			if (!is_holder(lun, reg) || lun->pr_type != type) {
				conflict(task);
			}
			break;
		}
		lun->pr_held = true;
		lun->pr_type = type;
		lun->pr_holder = reg;
		break;
	case SCSI_PR_OUT_RELEASE:
		if (!is_holder(lun, reg)) {
			break;
		}
		if (lun->pr_type != type) {
			ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
			                         ASC_INVALID_RELEASE, 0x04);
			break;
		}
		lun->pr_held = false;
		lun->pr_holder = -1;
		/* SPC-4 5.12.11.2: releasing a registrants-only or all-registrants
		 * reservation is news for the other registrants. */
		if (type_regs_only(type) || type_all_regs(type)) {
			ua_other_regs(task, reg, SCSI_ASCQ_RESERVATIONS_RELEASED);
		}
		break;
	case SCSI_PR_OUT_CLEAR:
		/* SPC-4 5.12.11.6 */
		ua_other_regs(task, reg, SCSI_ASCQ_RESERVATIONS_PREEMPTED);
		memset(lun->regs, 0, sizeof(lun->regs));
		lun->pr_held = false;
		lun->pr_holder = -1;
		lun->pr_generation++;
		break;
	case SCSI_PR_OUT_PREEMPT:
	case SCSI_PR_OUT_PREEMPT_AND_ABORT:
		/* The preempted nexuses' tasks are not aborted (no transport hook yet):
		 * PREEMPT AND ABORT acts as PREEMPT for them. See doc/scsi.md. */
		pr_preempt(task, reg, type, sa_key);
		break;
	}
unlock:
	scsi_lun_update_attn(lun);
	pthread_mutex_unlock(&lun->lock);
done:
	scsi_task_complete(task);
}
