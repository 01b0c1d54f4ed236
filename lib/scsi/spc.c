/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPC-4 primary commands: INQUIRY (standard and VPD), REPORT LUNS, REQUEST SENSE,
 * MODE SENSE/SELECT, TEST UNIT READY, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL,
 * REPORT SUPPORTED OPERATION CODES, RESERVE/RELEASE and the PR dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "ftgt/string.h"
#include "scsi_internal.h"

#define SPC_VENDOR   "FTGT"
#define SPC_REVISION "0001"
#define SPC_MAX_DATA 4096

/* ---- INQUIRY ----------------------------------------------------------------------- */

static void
inquiry_std(struct ftgt_scsi_task *task, uint8_t peripheral, uint32_t alloc_len)
{
	struct scsi_inquiry_std inq;
	const char *product = "Disk";

	memset(&inq, 0, sizeof(inq));
	inq.peripheral = peripheral;
	inq.version = SCSI_VERSION_SPC4;
	inq.response = SCSI_INQ_HISUP | 0x02;
	inq.additional_len = sizeof(inq) - 5;
	inq.flags7 = SCSI_INQ_CMDQUE;
	if (task->lun != NULL) {
		product = ftgt_bdev_get_product_name(task->lun->bdev);
		if (product == NULL) {
			product = "Disk";
		}
	}
	ftgt_strcpy_pad(inq.vendor, SPC_VENDOR, sizeof(inq.vendor), ' ');
	ftgt_strcpy_pad(inq.product, product, sizeof(inq.product), ' ');
	ftgt_strcpy_pad(inq.revision, SPC_REVISION, sizeof(inq.revision), ' ');
	ftgt_strcpy_pad(inq.serial, task->lun != NULL ? task->lun->bdev_name : "",
	                sizeof(inq.serial), ' ');
	/* Version descriptors (SPC-4 Table 49): SAM-5, iSCSI, SPC-4, SBC-3. */
	inq.version_desc[0] = ftgt_cpu_to_be16(0x00a0);
	inq.version_desc[1] = ftgt_cpu_to_be16(0x0960);
	inq.version_desc[2] = ftgt_cpu_to_be16(0x0460);
	inq.version_desc[3] = ftgt_cpu_to_be16(0x04c0);
	scsi_task_put_data(task, &inq, sizeof(inq), alloc_len);
}

void
scsi_spc_inquiry_no_lun(struct ftgt_scsi_task *task)
{
	const uint8_t *cdb = task->cdb;
	uint32_t alloc_len = scsi_from_be16(cdb + 3);

	if ((cdb[1] & 0x01) || cdb[2] != 0) {
		/* VPD of a LUN that does not exist: the standard says qualifier 011b. */
		uint8_t hdr[4] = {SCSI_PERIPHERAL_NOT_SUPPORTED, cdb[2], 0, 0};

		scsi_task_put_data(task, hdr, sizeof(hdr), alloc_len);
	} else {
		inquiry_std(task, SCSI_PERIPHERAL_NOT_SUPPORTED, alloc_len);
	}
	scsi_task_complete(task);
}

static const uint8_t g_vpd_pages[] = {
        SCSI_VPD_SUPPORTED_PAGES,
        SCSI_VPD_UNIT_SERIAL,
        SCSI_VPD_DEVICE_ID,
        SCSI_VPD_EXTENDED_INQUIRY,
        SCSI_VPD_BLOCK_LIMITS,
        SCSI_VPD_BLOCK_CHARACTERISTICS,
        SCSI_VPD_LOGICAL_BLOCK_PROVISIONING,
};

static void
uuid_hex(const struct ftgt_scsi_lun *lun, char *out, size_t out_len)
{
	const uint8_t *u = (const uint8_t *)ftgt_bdev_get_uuid(lun->bdev);
	size_t i;

	out[0] = '\0';
	for (i = 0; i < 16 && 2 * i + 2 < out_len; i++) {
		snprintf(out + 2 * i, 3, "%02x", u[i]);
	}
}

/* Append a designation descriptor; returns the new length. */
static uint32_t
add_desig(uint8_t *buf, uint32_t off, uint8_t proto_codeset, uint8_t piv_assoc_type, const void *id,
          uint32_t id_len, uint32_t padded_len)
{
	if (off + 4 + padded_len > SPC_MAX_DATA) {
		return off;
	}
	buf[off] = proto_codeset;
	buf[off + 1] = piv_assoc_type;
	buf[off + 2] = 0;
	buf[off + 3] = (uint8_t)padded_len;
	memset(buf + off + 4, 0, padded_len);
	memcpy(buf + off + 4, id, id_len);
	return off + 4 + padded_len;
}

static uint32_t
vpd_device_id(struct ftgt_scsi_task *task, uint8_t *buf)
{
	struct ftgt_scsi_lun *lun = task->lun;
	const uint8_t *u = (const uint8_t *)ftgt_bdev_get_uuid(lun->bdev);
	uint8_t naa[16], eui[8], rel[4];
	char t10[8 + 33 + 1];
	char hex[33];
	uint32_t off = 4, l;

	/* NAA IEEE Registered Extended (6h) from the bdev UUID. */
	memcpy(naa, u, 16);
	naa[0] = (uint8_t)(0x60 | (naa[0] & 0x0f));
	off = add_desig(buf, off, SCSI_CODE_SET_BINARY, SCSI_ASSOC_LU | SCSI_DESIG_NAA, naa, 16,
	                16);
	/* EUI-64 from the first 8 UUID bytes. */
	memcpy(eui, u + 8, 8);
	off = add_desig(buf, off, SCSI_CODE_SET_BINARY, SCSI_ASSOC_LU | SCSI_DESIG_EUI64, eui, 8,
	                8);
	/* T10 vendor ID: vendor (8, space padded) + UUID in hex. */
	uuid_hex(lun, hex, sizeof(hex));
	ftgt_strcpy_pad(t10, SPC_VENDOR, 8, ' ');
	memcpy(t10 + 8, hex, 32);
	off = add_desig(buf, off, SCSI_CODE_SET_ASCII, SCSI_ASSOC_LU | SCSI_DESIG_T10_VENDOR, t10,
	                40, 40);
	if (task->target_port != NULL) {
		uint8_t proto = (uint8_t)(SCSI_PROTOCOL_ISCSI << 4);

		/* Relative target port identifier. */
		memset(rel, 0, sizeof(rel));
		scsi_to_be16(rel + 2, task->target_port->relative_id);
		off = add_desig(buf, off, proto | SCSI_CODE_SET_BINARY,
		                SCSI_DESIG_PIV | SCSI_ASSOC_TARGET_PORT |
		                        SCSI_DESIG_RELATIVE_TARGET_PORT,
		                rel, 4, 4);
		/* SCSI name string of the target port (UTF-8, NUL terminated, 4-aligned). */
		l = (uint32_t)strlen(task->target_port->name);
		off = add_desig(buf, off, proto | SCSI_CODE_SET_UTF8,
		                SCSI_DESIG_PIV | SCSI_ASSOC_TARGET_PORT | SCSI_DESIG_SCSI_NAME,
		                task->target_port->name, l, FTGT_ALIGN_UP(l + 1, 4u));
		/* SCSI name string of the target device. */
		l = (uint32_t)strlen(lun->dev->name);
		off = add_desig(buf, off, proto | SCSI_CODE_SET_UTF8,
		                SCSI_DESIG_PIV | SCSI_ASSOC_TARGET_DEVICE | SCSI_DESIG_SCSI_NAME,
		                lun->dev->name, l, FTGT_ALIGN_UP(l + 1, 4u));
	}
	return off;
}

static bool
lun_supports_unmap(const struct ftgt_scsi_lun *lun)
{
	return ftgt_bdev_io_type_supported(lun->bdev, FTGT_BDEV_IO_TYPE_UNMAP);
}

static void
inquiry_vpd(struct ftgt_scsi_task *task, uint8_t page, uint32_t alloc_len)
{
	struct ftgt_scsi_lun *lun = task->lun;
	uint8_t buf[SPC_MAX_DATA];
	uint32_t len = 4, max_rw;
	char hex[33];

	memset(buf, 0, 64);
	buf[0] = SCSI_DEVICE_TYPE_DISK;
	buf[1] = page;
	switch (page) {
	case SCSI_VPD_SUPPORTED_PAGES:
		memcpy(buf + 4, g_vpd_pages, sizeof(g_vpd_pages));
		len = 4 + sizeof(g_vpd_pages);
		break;
	case SCSI_VPD_UNIT_SERIAL:
		uuid_hex(lun, hex, sizeof(hex));
		memcpy(buf + 4, hex, 32);
		len = 4 + 32;
		break;
	case SCSI_VPD_DEVICE_ID:
		len = vpd_device_id(task, buf);
		break;
	case SCSI_VPD_EXTENDED_INQUIRY:
		/* SPC-4 7.8.7: HEADSUP ORDSUP SIMPSUP (byte 5), V_SUP (byte 6, bit 0). */
		buf[5] = 0x07;
		buf[6] = 0x01;
		len = 64;
		break;
	case SCSI_VPD_BLOCK_LIMITS:
		/* SBC-3 6.6.4 */
		max_rw = ftgt_bdev_get_max_rw_blocks(lun->bdev);
		if (max_rw == 0 || max_rw > 65535 * 16) {
			max_rw = 65535 * 16;
		}
		buf[4] = 0x01; /* WSNZ: WRITE SAME with 0 blocks is refused */
		buf[5] = (uint8_t)scsi_sbc_max_compare_blocks(lun);
		scsi_to_be16(buf + 6, 1);
		scsi_to_be32(buf + 8, max_rw);
		scsi_to_be32(buf + 12, ftgt_bdev_get_optimal_io_boundary(lun->bdev));
		if (lun_supports_unmap(lun)) {
			scsi_to_be32(buf + 20, 0xffffffffu); /* max unmap LBA count */
			scsi_to_be32(buf + 24, 256);         /* max unmap descriptors */
			scsi_to_be32(buf + 28, 1);           /* optimal unmap granularity */
		}
		scsi_to_be64(buf + 36, 65535); /* max write same length */
		len = 64;
		break;
	case SCSI_VPD_BLOCK_CHARACTERISTICS:
		scsi_to_be16(buf + 4, 1); /* non-rotating medium */
		len = 64;
		break;
	case SCSI_VPD_LOGICAL_BLOCK_PROVISIONING:
		if (lun_supports_unmap(lun)) {
			buf[5] = 0xe0; /* LBPU LBPWS LBPWS10 */
			buf[6] = 0x02; /* thin provisioned */
		}
		len = 8;
		break;
	default:
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, -1);
		return;
	}
	scsi_to_be16(buf + 2, (uint16_t)(len - 4));
	scsi_task_put_data(task, buf, len, alloc_len);
}

static void
spc_inquiry(struct ftgt_scsi_task *task)
{
	const uint8_t *cdb = task->cdb;
	uint32_t alloc_len = scsi_from_be16(cdb + 3);

	if (cdb[1] & 0x02) { /* CMDDT (obsolete) */
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 1);
	} else if (cdb[1] & 0x01) {
		inquiry_vpd(task, cdb[2], alloc_len);
	} else if (cdb[2] != 0) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, -1);
	} else {
		inquiry_std(task, SCSI_DEVICE_TYPE_DISK, alloc_len);
	}
	scsi_task_complete(task);
}

/* ---- REPORT LUNS ------------------------------------------------------------------- */

void
scsi_spc_report_luns(struct ftgt_scsi_task *task)
{
	uint8_t buf[8 + 8 * FTGT_SCSI_DEV_MAX_LUNS];
	uint32_t alloc_len = scsi_from_be32(task->cdb + 6);
	uint8_t select = task->cdb[2];
	uint32_t n = 0, i;

	if (task->cdb_len < 12 || (select != 0 && select != 1 && select != 2)) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, -1);
		scsi_task_complete(task);
		return;
	}
	if (alloc_len < 16) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 6, -1);
		scsi_task_complete(task);
		return;
	}
	memset(buf, 0, sizeof(buf));
	if (task->dev == NULL) {
		goto put;
	}
	pthread_mutex_lock(&task->dev->lock);
	for (i = 0; i < FTGT_SCSI_DEV_MAX_LUNS; i++) {
		struct ftgt_scsi_lun *lun = task->dev->luns[i];
		uint8_t *d = buf + 8 + 8 * n;

		if (lun == NULL) {
			continue;
		}
		/* The initiator now has the inventory: a pending REPORTED LUNS DATA HAS
		 * CHANGED of this nexus is cleared on every LUN (SPC-4 6.33). */
		if (task->nexus >= 0 && atomic_load_explicit(&lun->attn, memory_order_acquire)) {
			pthread_mutex_lock(&lun->lock);
			scsi_ua_clear(lun, task->nexus, SCSI_ASC_REPORTED_LUNS_DATA_CHANGED,
			              SCSI_ASCQ_REPORTED_LUNS_DATA_CHANGED);
			pthread_mutex_unlock(&lun->lock);
		}
		/* SELECT REPORT 01h: well-known LUNs only (we have none). */
		if (select != 1) {
			if (i < 256) {
				d[1] = (uint8_t)i; /* peripheral device addressing */
			} else {
				d[0] = (uint8_t)(0x40 | (i >> 8)); /* flat space */
				d[1] = (uint8_t)i;
			}
			n++;
		}
	}
	pthread_mutex_unlock(&task->dev->lock);
put:
	scsi_to_be32(buf, n * 8);
	scsi_task_put_data(task, buf, 8 + 8 * n, alloc_len);
	scsi_task_complete(task);
}

/* ---- MODE SENSE / SELECT ---------------------------------------------------------- */

/* Append one mode page; pc: page control. Returns bytes written. */
static uint32_t
mode_page(struct ftgt_scsi_lun *lun, uint8_t page, uint8_t pc, uint8_t *p)
{
	bool changeable = pc == SCSI_MODE_PC_CHANGEABLE;

	switch (page) {
	case SCSI_MODE_PAGE_RW_ERROR_RECOVERY:
		memset(p, 0, 12);
		p[0] = page;
		p[1] = 10;
		return 12;
	case SCSI_MODE_PAGE_CACHING:
		memset(p, 0, 20);
		p[0] = page;
		p[1] = 18;
		if (changeable) {
			p[2] = SCSI_CACHING_WCE;
		} else if (pc == SCSI_MODE_PC_DEFAULT) {
			p[2] = ftgt_bdev_has_write_cache(lun->bdev) ? SCSI_CACHING_WCE : 0;
		} else {
			p[2] = atomic_load_explicit(&lun->write_cache, memory_order_relaxed)
			               ? SCSI_CACHING_WCE
			               : 0;
		}
		return 20;
	case SCSI_MODE_PAGE_CONTROL:
		memset(p, 0, 12);
		p[0] = page;
		p[1] = 10;
		if (!changeable) {
			p[3] = 0x10; /* queue algorithm modifier: unrestricted reordering */
			scsi_to_be16(p + 8, 0xffff); /* busy timeout: unlimited */
		}
		return 12;
	case SCSI_MODE_PAGE_INFO_EXCEPTIONS:
		memset(p, 0, 12);
		p[0] = page;
		p[1] = 10;
		return 12;
	default:
		return 0;
	}
}

static const uint8_t g_mode_pages[] = {
        SCSI_MODE_PAGE_RW_ERROR_RECOVERY,
        SCSI_MODE_PAGE_CACHING,
        SCSI_MODE_PAGE_CONTROL,
        SCSI_MODE_PAGE_INFO_EXCEPTIONS,
};

static void
spc_mode_sense(struct ftgt_scsi_task *task, bool ten)
{
	struct ftgt_scsi_lun *lun = task->lun;
	const uint8_t *cdb = task->cdb;
	uint8_t buf[512];
	bool dbd = (cdb[1] & 0x08) != 0;
	bool llbaa = ten && (cdb[1] & 0x10) != 0;
	uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];
	uint32_t alloc_len = ten ? scsi_from_be16(cdb + 7) : cdb[4];
	uint32_t hdr_len = ten ? 8 : 4, off, bd_len = 0, i, n;
	uint64_t nblocks = ftgt_bdev_get_num_blocks(lun->bdev);

	if (task->cdb_len < (ten ? 10u : 6u)) {
		scsi_task_invalid_cdb(task);
		goto done;
	}
	if (pc == SCSI_MODE_PC_SAVED) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED, 0);
		goto done;
	}
	if (subpage != 0 && !(subpage == 0xff && page == SCSI_MODE_PAGE_ALL)) {
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 3, -1);
		goto done;
	}
	memset(buf, 0, sizeof(buf));
	off = hdr_len;
	if (!dbd) {
		uint8_t *bd = buf + off;

		if (llbaa) {
			scsi_to_be64(bd, nblocks);
			scsi_to_be32(bd + 12, lun->block_size);
			bd_len = 16;
		} else {
			scsi_to_be32(bd, nblocks > 0xffffffffull ? 0xffffffffu : (uint32_t)nblocks);
			bd[5] = (uint8_t)(lun->block_size >> 16);
			bd[6] = (uint8_t)(lun->block_size >> 8);
			bd[7] = (uint8_t)lun->block_size;
			bd_len = 8;
		}
		off += bd_len;
	}
	if (page == SCSI_MODE_PAGE_ALL) {
		for (i = 0; i < FTGT_COUNTOF(g_mode_pages); i++) {
			off += mode_page(lun, g_mode_pages[i], pc, buf + off);
		}
	} else {
		n = mode_page(lun, page, pc, buf + off);
		if (n == 0) {
			scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, 5);
			goto done;
		}
		off += n;
	}
	if (ten) {
		scsi_to_be16(buf, (uint16_t)(off - 2));
		buf[3] = SCSI_MODE_DPOFUA;
		buf[4] = llbaa ? 0x01 : 0;
		scsi_to_be16(buf + 6, (uint16_t)bd_len);
	} else {
		buf[0] = (uint8_t)(off - 1);
		buf[2] = SCSI_MODE_DPOFUA;
		buf[3] = (uint8_t)bd_len;
	}
	scsi_task_put_data(task, buf, off, alloc_len);
done:
	scsi_task_complete(task);
}

static void
spc_mode_select(struct ftgt_scsi_task *task, bool ten)
{
	struct ftgt_scsi_lun *lun = task->lun;
	const uint8_t *cdb = task->cdb;
	uint8_t buf[512], cur[32];
	uint32_t list_len = ten ? scsi_from_be16(cdb + 7) : cdb[4];
	uint32_t hdr_len = ten ? 8 : 4, got, off, bd_len;
	int wce = -1; /* new WCE when the list carries page 08h */

	if (!(cdb[1] & 0x10) || (cdb[1] & 0x01)) { /* PF must be 1; SP (save) unsupported */
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1,
		                          (cdb[1] & 0x01) ? 0 : 4);
		goto done;
	}
	if (list_len == 0) {
		goto done;
	}
	if (list_len > sizeof(buf) || list_len < hdr_len) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
		goto done;
	}
	got = scsi_task_get_data(task, buf, list_len);
	if (got < list_len) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, 0);
		goto done;
	}
	bd_len = ten ? scsi_from_be16(buf + 6) : buf[3];
	off = hdr_len + bd_len;
	while (off + 2 <= list_len) {
		uint8_t page = buf[off] & 0x3f;
		uint32_t plen = 2u + buf[off + 1], n;

		if ((buf[off] & 0x40) || off + plen > list_len) { /* SPF (subpage) unsupported */
			goto bad_param;
		}
		n = mode_page(lun, page, SCSI_MODE_PC_CURRENT, cur);
		if (n == 0 || n != plen) {
			goto bad_param;
		}
		if (page == SCSI_MODE_PAGE_CACHING) {
			/* Only WCE is changeable; the rest must equal the current values. */
			if ((buf[off + 2] & ~SCSI_CACHING_WCE) != (cur[2] & ~SCSI_CACHING_WCE) ||
			    memcmp(buf + off + 3, cur + 3, n - 3) != 0) {
				goto bad_param;
			}
			wce = (buf[off + 2] & SCSI_CACHING_WCE) != 0;
		} else if (memcmp(buf + off + 2, cur + 2, n - 2) != 0) {
			goto bad_param;
		}
		off += plen;
	}
	/* Applied only once the whole list was checked (SPC-4 6.11: no change on error).
	 * The pages are shared by every nexus: the others get MODE PARAMETERS CHANGED. */
	if (wce >= 0 && atomic_exchange_explicit(&lun->write_cache, wce != 0,
	                                         memory_order_relaxed) != (wce != 0)) {
		pthread_mutex_lock(&lun->lock);
		scsi_ua_raise(lun, task->nexus, NULL, SCSI_ASC_PARAMETERS_CHANGED,
		              SCSI_ASCQ_MODE_PARAMETERS_CHANGED);
		pthread_mutex_unlock(&lun->lock);
	}
	goto done;
bad_param:
	ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
	                         SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST, 0);
done:
	task->data_transferred = 0;
	scsi_task_complete(task);
}

/* ---- REPORT SUPPORTED OPERATION CODES ---------------------------------------------- */

struct opcode_desc {
	uint8_t opcode;
	uint16_t sa; /* 0xffff: no service action */
	uint8_t cdb_len;
	uint8_t usage[16]; /* CDB usage data: bits the device server looks at */
};

#define NO_SA 0xffff
static const struct opcode_desc g_opcodes[] = {
        {SCSI_OP_TEST_UNIT_READY, NO_SA, 6, {0x00, 0, 0, 0, 0, 0x07}},
        {SCSI_OP_REQUEST_SENSE, NO_SA, 6, {0x03, 0x01, 0, 0, 0xff, 0x07}},
        {SCSI_OP_READ_6, NO_SA, 6, {0x08, 0x1f, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_WRITE_6, NO_SA, 6, {0x0a, 0x1f, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_INQUIRY, NO_SA, 6, {0x12, 0x01, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_MODE_SELECT_6, NO_SA, 6, {0x15, 0x11, 0, 0, 0xff, 0x07}},
        {SCSI_OP_RESERVE_6, NO_SA, 6, {0x16, 0, 0, 0, 0, 0x07}},
        {SCSI_OP_RELEASE_6, NO_SA, 6, {0x17, 0, 0, 0, 0, 0x07}},
        {SCSI_OP_MODE_SENSE_6, NO_SA, 6, {0x1a, 0x08, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_START_STOP_UNIT, NO_SA, 6, {0x1b, 0x01, 0, 0x0f, 0xf7, 0x07}},
        {SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL, NO_SA, 6, {0x1e, 0, 0, 0, 0x03, 0x07}},
        {SCSI_OP_READ_CAPACITY_10, NO_SA, 10, {0x25, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x01, 0x07}},
        {SCSI_OP_READ_10, NO_SA, 10, {0x28, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}},
        {SCSI_OP_WRITE_10, NO_SA, 10, {0x2a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}},
        {SCSI_OP_WRITE_AND_VERIFY_10,
         NO_SA,
         10,
         {0x2e, 0xf2, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}},
        {SCSI_OP_VERIFY_10,
         NO_SA,
         10,
         {0x2f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}},
        {SCSI_OP_SYNCHRONIZE_CACHE_10,
         NO_SA,
         10,
         {0x35, 0x02, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}},
        {SCSI_OP_WRITE_SAME_10,
         NO_SA,
         10,
         {0x41, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x1f, 0xff, 0xff, 0x07}},
        {SCSI_OP_UNMAP, NO_SA, 10, {0x42, 0x01, 0, 0, 0, 0, 0x1f, 0xff, 0xff, 0x07}},
        {SCSI_OP_MODE_SELECT_10, NO_SA, 10, {0x55, 0x11, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07}},
        {SCSI_OP_RESERVE_10, NO_SA, 10, {0x56, 0, 0, 0, 0, 0, 0, 0, 0, 0x07}},
        {SCSI_OP_RELEASE_10, NO_SA, 10, {0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0x07}},
        {SCSI_OP_MODE_SENSE_10, NO_SA, 10, {0x5a, 0x18, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_IN, 0x00, 10, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_IN, 0x01, 10, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_IN, 0x02, 10, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_IN, 0x03, 10, {0x5e, 0x1f, 0, 0, 0, 0, 0, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_OUT,
         0x00,
         10,
         {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_OUT,
         0x01,
         10,
         {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_OUT,
         0x02,
         10,
         {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_OUT,
         0x03,
         10,
         {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_OUT,
         0x04,
         10,
         {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_OUT,
         0x05,
         10,
         {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_PERSISTENT_RESERVE_OUT,
         0x06,
         10,
         {0x5f, 0x1f, 0xff, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07}},
        {SCSI_OP_READ_16,
         NO_SA,
         16,
         {0x88, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f,
          0x07}},
        {SCSI_OP_COMPARE_AND_WRITE,
         NO_SA,
         16,
         {0x89, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0x1f, 0x07}},
        {SCSI_OP_WRITE_16,
         NO_SA,
         16,
         {0x8a, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f,
          0x07}},
        {SCSI_OP_WRITE_AND_VERIFY_16,
         NO_SA,
         16,
         {0x8e, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f,
          0x07}},
        {SCSI_OP_VERIFY_16,
         NO_SA,
         16,
         {0x8f, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f,
          0x07}},
        {SCSI_OP_SYNCHRONIZE_CACHE_16,
         NO_SA,
         16,
         {0x91, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f,
          0x07}},
        {SCSI_OP_WRITE_SAME_16,
         NO_SA,
         16,
         {0x93, 0xf9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f,
          0x07}},
        {SCSI_OP_SERVICE_ACTION_IN_16,
         SCSI_SAI_READ_CAPACITY_16,
         16,
         {0x9e, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
          0x07}},
        {SCSI_OP_SERVICE_ACTION_IN_16,
         SCSI_SAI_GET_LBA_STATUS,
         16,
         {0x9e, 0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0,
          0x07}},
        {SCSI_OP_REPORT_LUNS, NO_SA, 12, {0xa0, 0, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0x07}},
        {SCSI_OP_MAINTENANCE_IN,
         SCSI_MI_REPORT_SUPPORTED_OPCODES,
         12,
         {0xa3, 0x0c, 0x87, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0x07}},
        {SCSI_OP_READ_12,
         NO_SA,
         12,
         {0xa8, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}},
        {SCSI_OP_WRITE_12,
         NO_SA,
         12,
         {0xaa, 0xfa, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}},
        {SCSI_OP_WRITE_AND_VERIFY_12,
         NO_SA,
         12,
         {0xae, 0xf2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}},
        {SCSI_OP_VERIFY_12,
         NO_SA,
         12,
         {0xaf, 0xf6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x07}},
};

static const struct opcode_desc *
find_opcode(uint8_t op, uint16_t sa, bool *has_sa)
{
	size_t i;

	*has_sa = false;
	for (i = 0; i < FTGT_COUNTOF(g_opcodes); i++) {
		if (g_opcodes[i].opcode != op) {
			continue;
		}
		if (g_opcodes[i].sa != NO_SA) {
			*has_sa = true;
		}
		if (g_opcodes[i].sa == sa || g_opcodes[i].sa == NO_SA) {
			return &g_opcodes[i];
		}
	}
	return NULL;
}

static void
spc_report_opcodes(struct ftgt_scsi_task *task)
{
	const uint8_t *cdb = task->cdb;
	uint8_t buf[SPC_MAX_DATA];
	bool rctd = (cdb[2] & 0x80) != 0, has_sa;
	uint8_t options = cdb[2] & 0x07, op = cdb[3];
	uint16_t sa = scsi_from_be16(cdb + 4);
	uint32_t alloc_len = scsi_from_be32(cdb + 6), off = 0, i;
	const struct opcode_desc *d;

	memset(buf, 0, sizeof(buf));
	switch (options) {
	case 0: /* all commands */
		off = 4;
		for (i = 0; i < FTGT_COUNTOF(g_opcodes); i++) {
			uint8_t *p = buf + off;

			d = &g_opcodes[i];
			p[0] = d->opcode;
			if (d->sa != NO_SA) {
				scsi_to_be16(p + 2, d->sa);
				p[5] |= 0x01; /* SERVACTV */
			}
			scsi_to_be16(p + 6, d->cdb_len);
			off += 8;
			if (rctd) {
				p[5] |= 0x02; /* CTDP */
				scsi_to_be16(p + 8, 0x0a);
				off += 12;
			}
		}
		scsi_to_be32(buf, off - 4);
		break;
	case 1: /* one opcode, no service action */
	case 2: /* one opcode + service action */
	case 3: /* either */
		d = find_opcode(op, options == 1 ? NO_SA : sa, &has_sa);
		if ((options == 1 && has_sa) || (options == 2 && !has_sa && d != NULL)) {
			scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, -1);
			goto done;
		}
		if (options == 3 && d != NULL && d->sa != NO_SA && d->sa != sa) {
			d = NULL;
		}
		if (d == NULL) {
			buf[1] = 0x01; /* not supported */
			off = 4;
			break;
		}
		buf[1] = 0x03 | (rctd ? 0x80 : 0); /* supported per standard, CTDP */
		scsi_to_be16(buf + 2, d->cdb_len);
		memcpy(buf + 4, d->usage, d->cdb_len);
		off = 4 + d->cdb_len;
		if (rctd) {
			scsi_to_be16(buf + off, 0x0a);
			off += 12;
		}
		break;
	default:
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 2, 2);
		goto done;
	}
	scsi_task_put_data(task, buf, off, alloc_len);
done:
	scsi_task_complete(task);
}

bool
scsi_spc_opcode_supported(uint8_t opcode, uint16_t sa, uint8_t *cdb_usage, uint32_t *usage_len)
{
	bool has_sa;
	const struct opcode_desc *d = find_opcode(opcode, sa, &has_sa);

	if (d == NULL) {
		return false;
	}
	if (cdb_usage != NULL) {
		memcpy(cdb_usage, d->usage, d->cdb_len);
		*usage_len = d->cdb_len;
	}
	return true;
}

/* ---- small commands ---------------------------------------------------------------- */

static void
spc_request_sense(struct ftgt_scsi_task *task)
{
	uint8_t sense[SCSI_SENSE_FIXED_LEN], asc = 0, ascq = 0;
	bool ua;

	if (task->cdb[1] & 0x01) { /* DESC: descriptor format not supported */
		scsi_task_set_sense_field(task, SCSI_ASC_INVALID_FIELD_IN_CDB, true, 1, 0);
		scsi_task_complete(task);
		return;
	}
	/* SAM-5 5.14: a pending unit attention is returned (and cleared) first. No
	 * deferred errors are kept. */
	pthread_mutex_lock(&task->lun->lock);
	ua = scsi_ua_take(task->lun, task->nexus, &asc, &ascq);
	pthread_mutex_unlock(&task->lun->lock);
	if (ua) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_UNIT_ATTENTION, asc, ascq);
	} else if (atomic_load_explicit(&task->lun->stopped, memory_order_relaxed)) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_NOT_READY, SCSI_ASC_LUN_NOT_READY, 0x02);
	} else {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_NO_SENSE, 0, 0);
	}
	memcpy(sense, task->sense, sizeof(sense));
	scsi_task_good(task);
	scsi_task_put_data(task, sense, sizeof(sense), task->cdb[4]);
	scsi_task_complete(task);
}

static void
spc_start_stop(struct ftgt_scsi_task *task)
{
	const uint8_t *cdb = task->cdb;
	uint8_t pc = cdb[4] >> 4;
	bool start = (cdb[4] & 0x01) != 0, loej = (cdb[4] & 0x02) != 0;

	if (pc != 0) {
		/* Power conditions other than START_VALID are accepted without effect. */
		goto done;
	}
	if (loej && !start &&
	    atomic_load_explicit(&task->lun->removal_prevented, memory_order_relaxed)) {
		ftgt_scsi_task_set_sense(task, SCSI_SENSE_ILLEGAL_REQUEST,
		                         SCSI_ASC_MEDIUM_REMOVAL_PREVENTED, 0x02);
		goto done;
	}
	atomic_store_explicit(&task->lun->stopped, !start, memory_order_relaxed);
done:
	scsi_task_complete(task);
}

static void
spc_prevent_allow(struct ftgt_scsi_task *task)
{
	atomic_store_explicit(&task->lun->removal_prevented, (task->cdb[4] & 0x03) != 0,
	                      memory_order_relaxed);
	scsi_task_complete(task);
}

bool
scsi_spc_execute(struct ftgt_scsi_task *task)
{
	switch (task->cdb[0]) {
	case SCSI_OP_TEST_UNIT_READY:
		scsi_task_complete(task);
		return true;
	case SCSI_OP_INQUIRY:
		spc_inquiry(task);
		return true;
	case SCSI_OP_REQUEST_SENSE:
		spc_request_sense(task);
		return true;
	case SCSI_OP_MODE_SENSE_6:
		spc_mode_sense(task, false);
		return true;
	case SCSI_OP_MODE_SENSE_10:
		spc_mode_sense(task, true);
		return true;
	case SCSI_OP_MODE_SELECT_6:
		spc_mode_select(task, false);
		return true;
	case SCSI_OP_MODE_SELECT_10:
		spc_mode_select(task, true);
		return true;
	case SCSI_OP_START_STOP_UNIT:
		spc_start_stop(task);
		return true;
	case SCSI_OP_PREVENT_ALLOW_MEDIUM_REMOVAL:
		spc_prevent_allow(task);
		return true;
	case SCSI_OP_MAINTENANCE_IN:
		if ((task->cdb[1] & 0x1f) == SCSI_MI_REPORT_SUPPORTED_OPCODES &&
		    task->cdb_len >= 12) {
			spc_report_opcodes(task);
			return true;
		}
		return false;
	case SCSI_OP_RESERVE_6:
	case SCSI_OP_RESERVE_10:
		scsi_reserve6(task, true);
		return true;
	case SCSI_OP_RELEASE_6:
	case SCSI_OP_RELEASE_10:
		scsi_reserve6(task, false);
		return true;
	case SCSI_OP_PERSISTENT_RESERVE_IN:
		scsi_pr_in(task);
		return true;
	case SCSI_OP_PERSISTENT_RESERVE_OUT:
		scsi_pr_out(task);
		return true;
	default:
		return false;
	}
}
