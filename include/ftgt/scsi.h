/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The SCSI command layer (SAM-5 / SPC-4 / SBC-3) shared by the SCSI transports (iSCSI,
 * FCP). A struct ftgt_scsi_dev is what a target exposes (an iSCSI target node): up to
 * FTGT_SCSI_DEV_MAX_LUNS LUNs, each backed by one bdev. A transport fills a struct
 * ftgt_scsi_task (CDB, data buffer, I_T nexus) and calls ftgt_scsi_task_execute(); the
 * task completes exactly once through task->cpl_fn with status, sense and the number of
 * data bytes moved.
 *
 * Threads: a dev and its LUNs are created and changed on the app thread (management
 * path). Tasks run on any thread that holds an io channel for the LUN
 * (ftgt_scsi_lun_get_io_channel); they complete on that thread. The I_T nexuses of one
 * LUN (the connections of different initiators) usually run on different threads, so the
 * state a LUN shares between nexuses (SPC-2 and persistent reservations, pending unit
 * attentions, mode page values) is protected by a per-LUN mutex, and the table of known
 * nexuses by a per-dev mutex (lock order: dev, then LUN). The per-I/O path takes neither:
 * it reads one atomic per LUN ("a reservation is held or a unit attention is pending")
 * and the nexus table with atomic loads, and locks only when that counter is non-zero or
 * a nexus is seen for the first time. No callback (cpl_fn, cb_fn) runs with a lock held.
 * See doc/scsi.md.
 */
#ifndef FTGT_SCSI_H
#define FTGT_SCSI_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct ftgt_scsi_dev;
struct ftgt_scsi_lun;
struct ftgt_io_channel;

#define FTGT_SCSI_DEV_MAX_LUNS  64
#define FTGT_SCSI_DEV_MAX_NAME  255
#define FTGT_SCSI_PORT_MAX_NAME 255
#define FTGT_SCSI_SENSE_MAX     18

/* A SCSI port: an initiator port (I) or a target port (T) of an I_T nexus. For iSCSI the
 * name is "<iqn>,i,0x<isid>" / "<iqn>,t,0x<tpgt>" (RFC 7143 13.3). */
struct ftgt_scsi_port {
	uint64_t id;          /* unique per port while it exists */
	uint16_t relative_id; /* target ports: relative target port identifier */
	char name[FTGT_SCSI_PORT_MAX_NAME + 1];
};

enum ftgt_scsi_dir {
	FTGT_SCSI_DIR_NONE = 0,
	FTGT_SCSI_DIR_TO_DEV,   /* write: data from the initiator */
	FTGT_SCSI_DIR_FROM_DEV, /* read: data to the initiator */
};

struct ftgt_scsi_task;
typedef void (*ftgt_scsi_task_cpl)(struct ftgt_scsi_task *task);

/*
 * One SCSI command. The transport owns the memory (preallocated per connection); the
 * SCSI layer owns the task between ftgt_scsi_task_execute and cpl_fn.
 */
struct ftgt_scsi_task {
	/* ---- set by the transport ---- */
	const uint8_t *cdb;
	uint32_t cdb_len;
	uint64_t lun_id; /* LUN number from the transport (SAM flat/peripheral) */
	struct ftgt_scsi_dev *dev;
	struct ftgt_io_channel *ch; /* this thread's channel for the LUN (NULL if none) */
	const struct ftgt_scsi_port *initiator_port;
	const struct ftgt_scsi_port *target_port;
	/* Data buffer: for writes it holds the data (transfer_len bytes); for reads the
	 * layer fills up to transfer_len bytes. */
	struct iovec *iovs;
	int iovcnt;
	uint32_t transfer_len;  /* expected data transfer length (transport header) */
	enum ftgt_scsi_dir dir; /* transport's data direction */
	ftgt_scsi_task_cpl cpl_fn;
	void *cpl_arg;

	/* ---- results ---- */
	uint8_t status; /* enum scsi_status */
	uint8_t sense[FTGT_SCSI_SENSE_MAX];
	uint32_t sense_len;
	uint32_t data_transferred; /* bytes moved (read: bytes valid in iovs) */
	uint32_t cdb_data_len;     /* bytes the CDB asked to move when known, else 0: a
				    * transport reports overflow when above transfer_len */

	/* ---- private to lib/scsi ---- */
	struct ftgt_scsi_lun *lun;
	uint64_t offset_blocks;
	uint64_t num_blocks;
	uint32_t flags;
	uint32_t step;
	int outstanding;
	int nexus; /* index in the dev's nexus table, -1 if none */
	bool failed;
	bool abort_requested; /* ftgt_scsi_task_abort() was called */
	struct iovec priv_iov[2];
	void *bounce; /* COMPARE AND WRITE / VERIFY BYTCHK scratch (malloc, rare path) */
};

/* ---- devices and LUNs (app thread) ------------------------------------------------- */

/* A device with no LUN. name: the target name (used in VPD pages). NULL on failure. */
struct ftgt_scsi_dev *ftgt_scsi_dev_create(const char *name);
/* Remove every LUN (closing the bdevs) and free. Every channel must be put first. */
void ftgt_scsi_dev_destroy(struct ftgt_scsi_dev *dev);
const char *ftgt_scsi_dev_get_name(const struct ftgt_scsi_dev *dev);

/*
 * Add LUN lun_id backed by bdev_name: 0, -EINVAL (lun_id out of range), -EEXIST (LUN
 * taken), -ENODEV (no such bdev), -EPERM (bdev claimed by another owner), -ENOMEM.
 */
int ftgt_scsi_dev_add_lun(struct ftgt_scsi_dev *dev, uint32_t lun_id, const char *bdev_name);
/* 0 or -ENOENT. */
int ftgt_scsi_dev_remove_lun(struct ftgt_scsi_dev *dev, uint32_t lun_id);
struct ftgt_scsi_lun *ftgt_scsi_dev_get_lun(struct ftgt_scsi_dev *dev, uint32_t lun_id);
uint32_t ftgt_scsi_lun_get_id(const struct ftgt_scsi_lun *lun);
const char *ftgt_scsi_lun_get_bdev_name(const struct ftgt_scsi_lun *lun);

/*
 * Hot remove: the bdev under LUN lun_id of dev is going away (FTGT_BDEV_EVENT_REMOVE on
 * the LUN's descriptor). Called on the thread that added the LUN (the app thread), once
 * per removal, after the LUN started to answer NOT READY (04h/02h) to commands that need
 * the medium. The transport then stops sending commands to the LUN, lets those in flight
 * complete (the bdev completes every submitted I/O), puts its channels for it on their
 * threads and calls ftgt_scsi_dev_remove_lun() (which closes the descriptor, so the bdev
 * removal can finish) and ftgt_scsi_dev_luns_changed(). Not from inside the callback:
 * the removal is asynchronous. Without a callback the LUN stays NOT READY until removed.
 */
typedef void (*ftgt_scsi_lun_removed_cb)(struct ftgt_scsi_dev *dev, uint32_t lun_id, void *cb_arg);
/* Set (or clear, with NULL) the hot-remove callback of dev. App thread. */
void ftgt_scsi_dev_set_lun_removed_cb(struct ftgt_scsi_dev *dev, ftgt_scsi_lun_removed_cb cb_fn,
                                      void *cb_arg);

/* The calling thread's bdev channel for the LUN; put it with ftgt_put_io_channel. */
struct ftgt_io_channel *ftgt_scsi_lun_get_io_channel(struct ftgt_scsi_lun *lun);

/* ---- tasks (I/O thread) ------------------------------------------------------------ */

/* Execute task (see the struct). cpl_fn runs exactly once, possibly before this returns
 * for commands that need no I/O. */
void ftgt_scsi_task_execute(struct ftgt_scsi_task *task);

/* Set CHECK CONDITION with fixed-format sense (SPC-4 4.5.3). */
void ftgt_scsi_task_set_sense(struct ftgt_scsi_task *task, uint8_t sk, uint8_t asc, uint8_t ascq);

/* Task management functions (SAM-5 7). */
enum ftgt_scsi_tmf {
	FTGT_SCSI_TMF_ABORT_TASK,
	FTGT_SCSI_TMF_ABORT_TASK_SET,
	FTGT_SCSI_TMF_CLEAR_TASK_SET,
	FTGT_SCSI_TMF_LUN_RESET,
	FTGT_SCSI_TMF_TARGET_WARM_RESET,
};
/*
 * LUN reset: waits for every I/O of the LUN in flight on ch's thread (the bdev reset),
 * drops SPC-2 reservations, and raises the unit attention "bus device reset function
 * occurred" (29h/03h) for every other initiator's next command. cb_fn(cb_arg, 0 or
 * -errno) runs later on the calling thread.
 */
int ftgt_scsi_lun_reset(struct ftgt_scsi_lun *lun, struct ftgt_io_channel *ch,
                        const struct ftgt_scsi_port *initiator, void (*cb_fn)(void *cb_arg, int rc),
                        void *cb_arg);

/*
 * Forget per-nexus state when an I_T nexus ends: the SPC-2 reservation held by that
 * initiator port name if it was last taken through initiator->id (a newer port with the
 * same name, e.g. a reinstated iSCSI session, keeps a reservation it took), and every
 * nexus learned with initiator->id (whatever the target
 * port), with its pending unit attentions. PR registrations survive (SPC-4 5.12).
 * Call once no task of the nexus is executing. Any thread.
 */
void ftgt_scsi_dev_nexus_lost(struct ftgt_scsi_dev *dev, const struct ftgt_scsi_port *initiator);

/*
 * Abort one task that is being executed (SAM-5 7.2 ABORT TASK, and each task of ABORT
 * TASK SET / CLEAR TASK SET). Call on the task's thread. Best effort: back-end I/O the
 * task has outstanding is aborted through ftgt_bdev_abort(); the task's cpl_fn still runs
 * exactly once, with task->status SCSI_STATUS_TASK_ABORTED when the abort won the race
 * and the command's own status otherwise. A transport sends the TMF response only after
 * cpl_fn ran, and sends no SCSI response for an aborted task (RFC 7143 11.5.1).
 * Several bdev I/Os of one task (UNMAP with several descriptors) are aborted together; a
 * WRITE SAME that writes its range in steps stops before the next step. A task with no
 * I/O left in the bdev layer is not changed (its cpl_fn ran or is about to run with its
 * own status). Never calls cpl_fn from inside this call.
 */
void ftgt_scsi_task_abort(struct ftgt_scsi_task *task);

/* ---- unit attentions (SAM-5 5.14; the list is in doc/scsi.md) ---------------------- */

/*
 * The device learns an I_T nexus, keyed by (initiator_port->id, target_port->id), from the
 * first task that carries it, and forgets it in ftgt_scsi_dev_nexus_lost(). A new nexus
 * starts with no unit attention (no POWER ON OCCURRED: see doc/scsi.md). Each (LUN, nexus)
 * has a small queue of pending unit attentions, reported oldest first.
 */

#define FTGT_SCSI_ALL_LUNS UINT32_MAX

/*
 * Queue the unit attention asc/ascq on LUN lun_id (FTGT_SCSI_ALL_LUNS: every LUN of the
 * device) for every I_T nexus known to the device except those of initiator port
 * `except` (matched by id; NULL: every nexus). The next command of each such nexus to
 * that LUN (other than INQUIRY, REPORT LUNS and REQUEST SENSE) ends in CHECK CONDITION /
 * UNIT ATTENTION with it; REQUEST SENSE returns it as sense data. Either clears it. A UA
 * already queued for a nexus is not queued twice. Any thread, also from a cpl_fn (it
 * takes the dev and LUN mutexes; none is held while a cpl_fn runs).
 */
void ftgt_scsi_dev_raise_ua(struct ftgt_scsi_dev *dev, uint32_t lun_id,
                            const struct ftgt_scsi_port *except, uint8_t asc, uint8_t ascq);
/*
 * The set of LUNs changed (added or removed on a live device): REPORTED LUNS DATA HAS
 * CHANGED (3Fh/0Eh) for every nexus on every LUN. App thread.
 */
void ftgt_scsi_dev_luns_changed(struct ftgt_scsi_dev *dev);

#endif /* FTGT_SCSI_H */
