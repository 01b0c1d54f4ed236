/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Block devices: the API back ends (module/bdev/<n>) implement and use.
 *
 * A module registers a struct ftgt_bdev_module (FTGT_BDEV_MODULE_REGISTER). Each bdev it
 * creates is a struct ftgt_bdev it allocates, fills and passes to ftgt_bdev_register();
 * the module owns that struct and frees it in fn_table->destruct.
 *
 * I/O path: the core calls fn_table->submit_request(ch, io) on the thread owning `ch`, the
 * module's own io channel (fn_table->get_io_channel: each bdev is, or points to, an io
 * device of its module). The module completes every request exactly once with
 * ftgt_bdev_io_complete*() on that same thread — it may do so inside submit_request; the
 * core defers the user's callback so it never runs inside the user's submit call.
 * A module that is out of resources completes with FTGT_BDEV_IO_STATUS_NOMEM: the core
 * queues the I/O and submits it again after another I/O of that channel completes (or
 * after a short timer when none is in flight). It never fails the user's I/O for that.
 *
 * What the core does so modules don't have to: range and permission checks, splitting
 * at optimal_io_boundary / max_rw_size, bounce buffers for misaligned data, emulation of
 * WRITE_ZEROES (with writes) and COMPARE / COMPARE_AND_WRITE (read + memcmp + write,
 * under an LBA range lock), QoS, stats, reset sequencing, abort of I/O queued in the core.
 * A module sees UNMAP/FLUSH/WRITE_ZEROES/COMPARE/COMPARE_AND_WRITE/RESET/ABORT only if
 * its io_type_supported says yes (READ and WRITE are mandatory); a module that takes
 * COMPARE_AND_WRITE must make it atomic itself (u.bdev.fused_iovs holds the write data).
 */
#ifndef FTGT_BDEV_MODULE_H
#define FTGT_BDEV_MODULE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <jansson.h>

#include "ftgt/bdev.h"
#include "ftgt/uuid.h"

struct ftgt_io_channel;
struct ftgt_bdev_internal; /* private to lib/bdev */

/* ---- modules ------------------------------------------------------------------------ */

struct ftgt_bdev_module {
	/* "malloc", "null", ... (short, lower case; shown in bdev_get_bdevs and claims). */
	const char *name;
	/*
	 * Start the module (ftgt_bdev_initialize, app thread). 0 or -errno (a failure stops
	 * the bdev subsystem's start). May be NULL.
	 */
	int (*module_init)(void);
	/*
	 * Stop the module, after every bdev was unregistered (app thread). Synchronous:
	 * free module-wide resources (unregister module-wide io devices). May be NULL.
	 */
	void (*module_fini)(void);
	/*
	 * Append {"method":..., "params":...} objects for module-wide options (e.g.
	 * "bdev_x_set_options") to the JSON array `config`. They are written before any
	 * bdev's own config. May be NULL. Per-bdev create calls come from
	 * fn_table->write_config_json instead.
	 */
	void (*config_json)(json_t *config);
	/* Bytes of per-I/O context the module wants (ftgt_bdev_io_get_driver_ctx). May be
	 * NULL (0). Read once at ftgt_bdev_initialize. */
	int (*get_ctx_size)(void);
	/*
	 * Optional: a new bdev was registered (app thread, after ftgt_bdev_register
	 * returned). A stacking module may open and claim it here. Must not block.
	 */
	void (*examine)(struct ftgt_bdev *bdev);

	/* Core's list link; leave zero. */
	TAILQ_ENTRY(ftgt_bdev_module) link;
};

/* Add a module (before ftgt_bdev_initialize; normally via the macro below). */
void ftgt_bdev_module_list_add(struct ftgt_bdev_module *module);
struct ftgt_bdev_module *ftgt_bdev_module_find(const char *name);
#define FTGT_BDEV_MODULE_REGISTER(TAG, MODULE)                                         \
	__attribute__((constructor)) static void ftgt_bdev_module_register_##TAG(void) \
	{                                                                              \
		ftgt_bdev_module_list_add(MODULE);                                     \
	}

/* ---- a bdev's operations ------------------------------------------------------------ */

struct ftgt_bdev_fn_table {
	/*
	 * Free the bdev's resources (bdev->ctxt, and the struct ftgt_bdev itself unless it
	 * is embedded in ctxt). Called on the app thread (where unregistration runs) after
	 * every descriptor closed and every channel was put. Return 0 when done, or 1 to
	 * finish later with ftgt_bdev_destruct_done(bdev, rc). The core does not touch
	 * `bdev` after destruct (or destruct_done).
	 */
	int (*destruct)(void *ctxt);
	/* Carry out `io` on the thread owning `ch` (see file comment). Required. */
	void (*submit_request)(struct ftgt_io_channel *ch, struct ftgt_bdev_io *io);
	/* Whether submit_request handles `type` (READ and WRITE must be true). Required. */
	bool (*io_type_supported)(void *ctxt, enum ftgt_bdev_io_type type);
	/* The calling thread's channel for this bdev (e.g. ftgt_get_io_channel(dev)); the
	 * core puts it when its own channel goes. Required. */
	struct ftgt_io_channel *(*get_io_channel)(void *ctxt);
	/* Add module-specific info to `driver_specific` (an object; bdev_get_bdevs shows
	 * it as driver_specific.<module>). May be NULL. Management thread. */
	void (*dump_info_json)(void *ctxt, json_t *driver_specific);
	/* Append the {"method","params"} object(s) that recreate this bdev to the array
	 * `config` (save_config). May be NULL (not saved). */
	void (*write_config_json)(struct ftgt_bdev *bdev, json_t *config);
};

/*
 * A block device. The module allocates it, fills the fields marked (module) and
 * registers it; the core owns `internal`. Fields are read by the core at registration
 * and must not change afterwards, except blockcnt through
 * ftgt_bdev_notify_blockcnt_change().
 */
struct ftgt_bdev {
	void *ctxt;                        /* (module) passed to fn_table calls */
	char *name;                        /* (module) unique among names and aliases */
	char *product_name;                /* (module) e.g. "Malloc disk" */
	struct ftgt_uuid uuid;             /* (module) all zero: the core generates one */
	uint32_t blocklen;                 /* (module) bytes per block, interleaved md included */
	uint64_t blockcnt;                 /* (module) > 0 */
	uint32_t md_len;                   /* (module) metadata bytes per block (0 = none) */
	bool md_interleave;                /* (module) md inside each block vs. separate buffer */
	bool write_cache;                  /* (module) volatile write cache present */
	uint32_t optimal_io_boundary;      /* (module) blocks, 0 = none */
	bool split_on_optimal_io_boundary; /* (module) core splits I/O crossing it */
	uint32_t max_rw_size;              /* (module) largest read/write in blocks, 0 = any */
	uint32_t max_unmap_blocks;         /* (module) largest unmap in blocks, 0 = any */
	uint32_t max_write_zeroes_blocks;  /* (module) largest write_zeroes, 0 = any */
	uint8_t required_alignment;        /* (module) log2 of buffer alignment, 0 = none */
	uint32_t acwu;                     /* (module) compare-and-write unit, 0 = 1 block */
	const struct ftgt_bdev_fn_table *fn_table; /* (module) */
	struct ftgt_bdev_module *module;           /* (module) */
	struct ftgt_bdev_internal *internal;       /* core private: leave NULL */
};

/*
 * Register a filled bdev: it becomes visible to ftgt_bdev_get_by_name and open.
 * Validation: name non-empty, at most FTGT_BDEV_MAX_NAME_LEN, no '/', not taken by a
 * bdev or alias; data block size (blocklen minus interleaved md) a power of two from
 * 512 to 65536, md_len < blocklen when interleaved; blockcnt > 0; fn_table with
 * destruct, submit_request, io_type_supported, get_io_channel; module set.
 * Returns 0, -EINVAL (with a log line naming the field), -EEXIST (name taken), -ENOMEM.
 * On failure nothing stays registered and destruct is not called.
 * Calling thread: the app thread (the management thread).
 */
int ftgt_bdev_register(struct ftgt_bdev *bdev);

/*
 * Validate the properties that ftgt_bdev_register would check, before a module allocates
 * anything: name may be NULL (not checked). Fills `err` with a sentence for an RPC error
 * ("block size 1000 is not supported: use 512 or 4096 (520 or 4104 with metadata)").
 * Returns 0, -EINVAL, -EEXIST.
 */
int ftgt_bdev_check_params(const char *name, uint32_t blocklen, uint32_t md_len, bool md_interleave,
                           uint64_t blockcnt, char *err, size_t err_len);

/*
 * Bytes per block meant by a create RPC's block_size: with interleaved metadata a
 * power-of-two block_size gives the data bytes (SPDK's meaning: 512 + md 8 = 520) and a
 * 520/4104-style value the whole block. Without interleaved metadata: block_size.
 * Validate the result with ftgt_bdev_check_params().
 */
static inline uint32_t
ftgt_bdev_blocklen_from_params(uint32_t block_size, uint32_t md_size, bool md_interleave)
{
	uint32_t data = block_size - md_size;

	if (!md_interleave || md_size == 0) {
		return block_size;
	}
	if (block_size > md_size && data >= 512 && (data & (data - 1)) == 0) {
		return block_size;
	}
	return block_size + md_size;
}

typedef void (*ftgt_bdev_unregister_cb)(void *cb_arg, int rc);

/*
 * Remove a bdev: hot remove. Every open descriptor gets FTGT_BDEV_EVENT_REMOVE (on its
 * thread); new opens fail with -ENODEV; I/O waiting in the core is failed (ABORTED);
 * I/O at the module completes as the module completes it. Once every descriptor closed
 * and every channel is gone, fn_table->destruct runs (on the app thread: a call from
 * another thread hops there), then cb_fn(cb_arg, rc) on the calling thread (cb_fn may
 * be NULL). Claims do not prevent this: RPC delete handlers
 * call ftgt_bdev_check_delete() first. A second unregister of a bdev already being
 * removed runs its cb_fn with -ENODEV (later, on the calling thread).
 * Calling thread: any ftgt_thread.
 */
void ftgt_bdev_unregister(struct ftgt_bdev *bdev, ftgt_bdev_unregister_cb cb_fn, void *cb_arg);

/*
 * Unregister by name after checking that the bdev belongs to `module` and nobody holds
 * it (the path of every bdev_<module>_delete RPC). Returns 0 (cb_fn runs later), or
 * -ENODEV (no such bdev: "bdev 'X' does not exist"), -EINVAL (it belongs to another module:
 * "bdev 'X' is a null bdev, not a malloc bdev"), -EBUSY (claimed or open: "bdev 'X' is
 * claimed by module 'Y'" / "bdev 'X' is open by 2 descriptors"), with the sentence in
 * err (may be NULL). Calling thread: any ftgt_thread.
 */
int ftgt_bdev_unregister_by_name(const char *name, struct ftgt_bdev_module *module,
                                 ftgt_bdev_unregister_cb cb_fn, void *cb_arg, char *err,
                                 size_t err_len);

/* 0, or -EBUSY with a sentence in err when the bdev is claimed or opened. Any thread. */
int ftgt_bdev_check_delete(const struct ftgt_bdev *bdev, char *err, size_t err_len);

/* For destruct returning 1: finish destruction (rc 0 or -errno; any thread). */
void ftgt_bdev_destruct_done(struct ftgt_bdev *bdev, int rc);

/*
 * The back end changed size: set blockcnt and tell every descriptor
 * (FTGT_BDEV_EVENT_RESIZE). Shrinking is refused with -EBUSY while the bdev is open or
 * claimed. Returns 0, -EINVAL (0 blocks), -EBUSY. Calling thread: any ftgt_thread.
 */
int ftgt_bdev_notify_blockcnt_change(struct ftgt_bdev *bdev, uint64_t blockcnt);

/*
 * Claims for stacking modules: `module` takes `bdev` (opened as `desc`) exclusively:
 * other claims fail, writes through other descriptors are refused (-EPERM at open with
 * write), and RPC delete answers -EBUSY naming the module. Released by
 * ftgt_bdev_module_release_bdev or by closing desc.
 * Returns 0, -EPERM (claimed already; log names the holder), -EINVAL.
 * Calling thread: the descriptor's.
 */
int ftgt_bdev_module_claim_bdev(struct ftgt_bdev *bdev, struct ftgt_bdev_desc *desc,
                                struct ftgt_bdev_module *module);
void ftgt_bdev_module_release_bdev(struct ftgt_bdev *bdev);

/* ---- the I/O a module sees ---------------------------------------------------------- */

/*
 * The request handed to submit_request. Public fields are read-only for the module,
 * except that a READ module may read into the given iovs, and that the module's own
 * per-I/O context lives behind the struct (ftgt_bdev_io_get_driver_ctx).
 * Core-private state lives in front of the struct, out of sight.
 */
struct ftgt_bdev_io {
	struct ftgt_bdev *bdev;
	enum ftgt_bdev_io_type type;
	uint32_t io_flags; /* FTGT_BDEV_IO_FLAG_* (FUA on writes) */
	union {
		/* READ, WRITE, UNMAP, FLUSH, WRITE_ZEROES, COMPARE, COMPARE_AND_WRITE */
		struct {
			struct iovec *iovs; /* data (READ/WRITE/COMPARE, the compare data of
					     * COMPARE_AND_WRITE); NULL otherwise */
			int iovcnt;
			void *md_buf; /* separate metadata, or NULL */
			uint64_t offset_blocks;
			uint64_t num_blocks;
			/* COMPARE_AND_WRITE: the data written when the compare matched. */
			struct iovec *fused_iovs;
			int fused_iovcnt;
		} bdev;
		/* ABORT: the I/O (given earlier to this module on this channel) to abort. */
		struct {
			struct ftgt_bdev_io *bio_to_abort;
		} abort;
	} u;
} __attribute__((aligned(16)));

/* The module's per-I/O context (get_ctx_size bytes, 16-byte aligned, not zeroed). */
static inline void *
ftgt_bdev_io_get_driver_ctx(struct ftgt_bdev_io *io)
{
	return (void *)(io + 1);
}
static inline struct ftgt_bdev_io *
ftgt_bdev_io_from_driver_ctx(void *ctx)
{
	return (struct ftgt_bdev_io *)ctx - 1;
}

/*
 * Complete an I/O (exactly once, on the thread submit_request ran on; may be inside
 * submit_request). status: SUCCESS, FAILED, ABORTED, MISCOMPARE, NOMEM (the core
 * retries), or use the variants below for detail.
 */
void ftgt_bdev_io_complete(struct ftgt_bdev_io *io, enum ftgt_bdev_io_status status);
/* With NVMe status (sct 0 / sc 0 is success). */
void ftgt_bdev_io_complete_nvme_status(struct ftgt_bdev_io *io, uint32_t cdw0, int sct, int sc);
/* With SCSI status and sense (sc 0 GOOD is success). */
void ftgt_bdev_io_complete_scsi_status(struct ftgt_bdev_io *io, int sc, int sk, int asc, int ascq);
/* With an errno: 0 is success, -ENOMEM/-EAGAIN mean NOMEM (retried), else AIO_ERROR. */
void ftgt_bdev_io_complete_aio_status(struct ftgt_bdev_io *io, int rc);
/*
 * For stacking modules: complete `io` with the outcome of `base_io` (an I/O the module
 * submitted to its base bdev for it), keeping the NVMe/SCSI/errno detail. A base I/O that
 * failed with -ENOMEM/-EAGAIN really failed (the base already retried), so it becomes -EIO.
 */
void ftgt_bdev_io_complete_from(struct ftgt_bdev_io *io, struct ftgt_bdev_io *base_io);

/* The thread the I/O was submitted on (the channel's). */
struct ftgt_thread *ftgt_bdev_io_get_thread(struct ftgt_bdev_io *io);
/* The module channel the I/O was given on. */
struct ftgt_io_channel *ftgt_bdev_io_get_io_channel(struct ftgt_bdev_io *io);

/* Bytes of data of a READ/WRITE/COMPARE (num_blocks * blocklen). */
static inline uint64_t
ftgt_bdev_io_get_len_bytes(const struct ftgt_bdev_io *io)
{
	return io->u.bdev.num_blocks * io->bdev->blocklen;
}

/* Copy between an iovec array and a flat buffer; return bytes copied. */
size_t ftgt_iovec_to_buf(const struct iovec *iovs, int iovcnt, void *buf, size_t len);
size_t ftgt_iovec_from_buf(struct iovec *iovs, int iovcnt, const void *buf, size_t len);
/* Fill the iovecs with zeroes (up to len bytes). */
size_t ftgt_iovec_memset(struct iovec *iovs, int iovcnt, int c, size_t len);

/* ---- stacking on a base bdev (lib/bdev/part.c) --------------------------------------- */

/*
 * What a stacking module (delay, error, split, ...) shares: a base bdev opened and
 * claimed once (struct ftgt_bdev_base), and the bdevs stacked on it (struct
 * ftgt_bdev_part, embedded as the first member of the module's own struct).
 *
 * The base is the io device of every part on it: a thread's channel of any part holds
 * one channel of the base (ftgt_bdev_part_get_base_channel) followed by the module's
 * per-channel context (ftgt_bdev_part_get_channel_ctx). The base lives while a part is
 * registered: the last part's destruct unregisters the io device, closes the base
 * descriptor on the thread that opened it, then frees that part and the base. Hot
 * remove of the base bdev removes every part (remove_cb, or ftgt_bdev_unregister).
 * Everything here runs on the app thread, except the I/O functions (the channel's).
 */
struct ftgt_bdev_base;

struct ftgt_bdev_part {
	struct ftgt_bdev bdev;       /* bdev.ctxt is this part, i.e. the module's struct */
	struct ftgt_bdev_base *base; /* set by ftgt_bdev_part_register */
	uint64_t offset_blocks;      /* where the part starts on the base */
	TAILQ_ENTRY(ftgt_bdev_part) link;
};

struct ftgt_bdev_base_opts {
	struct ftgt_bdev_module *module; /* claims the base; the parts' module */
	/* Bytes of module context in each channel, with optional set-up and tear-down on
	 * the channel's thread (after the base channel was got / before it is put). */
	uint32_t ch_ctx_size;
	int (*ch_create_cb)(void *ch_ctx);
	void (*ch_destroy_cb)(void *ch_ctx);
	/* The base is going away: remove `part` (it must end in ftgt_bdev_unregister).
	 * NULL: ftgt_bdev_unregister(&part->bdev, NULL, NULL). */
	void (*remove_cb)(struct ftgt_bdev_part *part);
};

/*
 * Open `base_name` for writing and claim it for opts->module (opts is kept by pointer).
 * Returns 0 and *basep, or -ENODEV ("base bdev 'X' does not exist"), -EBUSY ("bdev 'X'
 * is claimed by module 'Y'"), -ENOMEM, or the open's error, with a sentence in err.
 */
int ftgt_bdev_base_open(const char *base_name, const struct ftgt_bdev_base_opts *opts,
                        struct ftgt_bdev_base **basep, char *err, size_t err_len);
/*
 * Give the base up: with no part registered it is closed now; otherwise every part is
 * unregistered and the base goes with the last one.
 */
void ftgt_bdev_base_release(struct ftgt_bdev_base *base);
/* The base `base_name` opened by `module`, or NULL. */
struct ftgt_bdev_base *ftgt_bdev_base_find(const char *base_name,
                                           const struct ftgt_bdev_module *module);
/*
 * Delete every part of the base (the bdev_<module>_delete path): -EBUSY with a sentence
 * when one is claimed or open or the parts are being removed already; otherwise 0, and
 * cb_fn(cb_arg, 0) (may be NULL) runs once all are gone and the base is closed, on the
 * thread that opened the base.
 */
int ftgt_bdev_base_delete(struct ftgt_bdev_base *base, ftgt_bdev_unregister_cb cb_fn, void *cb_arg,
                          char *err, size_t err_len);

/*
 * Register `part` (zeroed by the module but for bdev.fn_table, and optionally
 * bdev.product_name and bdev.uuid) as `name`: num_blocks blocks (0: all after
 * offset_blocks) of the base, with the base's block size, metadata, write cache and
 * limits. Returns 0, or -ENOMEM/-EEXIST/-EINVAL with a sentence in err; then the part
 * is not registered and stays the module's to free.
 */
int ftgt_bdev_part_register(struct ftgt_bdev_part *part, struct ftgt_bdev_base *base,
                            const char *name, uint64_t offset_blocks, uint64_t num_blocks,
                            char *err, size_t err_len);
/*
 * One bdev over the whole of a base (delay, error): ftgt_bdev_base_open, then
 * ftgt_bdev_part_register(part, base, name, 0, 0). `part` is the first member of the
 * module's struct, allocated with malloc/calloc and filled as for ftgt_bdev_part_register.
 * Returns 0, or -errno with a sentence in err; then the part is freed and nothing stays.
 */
int ftgt_bdev_part_create(struct ftgt_bdev_part *part, const char *base_name,
                          const struct ftgt_bdev_base_opts *opts, const char *name, char *err,
                          size_t err_len);
/*
 * fn_table->destruct of every part: frees its name, then the part with free() (so the
 * part must be the first member of the module's malloc'd struct). The last part of a
 * base returns 1 and finishes once the base is closed.
 */
int ftgt_bdev_part_destruct(void *ctxt);
/* fn_table->get_io_channel of every part. */
struct ftgt_io_channel *ftgt_bdev_part_get_io_channel(void *ctxt);
/* READ and WRITE, and UNMAP/FLUSH/WRITE_ZEROES/RESET when the base supports them. */
bool ftgt_bdev_part_io_type_supported(struct ftgt_bdev_part *part, enum ftgt_bdev_io_type type);
/* The base bdev's name (valid while the part exists). */
const char *ftgt_bdev_part_get_base_name(const struct ftgt_bdev_part *part);
/* From a part's channel (submit_request's ch, or a channel iterator's). */
struct ftgt_io_channel *ftgt_bdev_part_get_base_channel(struct ftgt_io_channel *ch);
void *ftgt_bdev_part_get_channel_ctx(struct ftgt_io_channel *ch);

/*
 * Pass `io` (given to a part) to the base, offset_blocks further on, on the base
 * channel of io's channel. READ/WRITE use iovs/iovcnt (NULL: the io's own); the others
 * carry no data; ABORT aborts the base I/O of the I/O it names. cb_fn(base_io,
 * success, io) runs when the base completes (NULL: ftgt_bdev_part_io_done); an ABORT
 * completes io by itself. Returns 0, or -errno after completing io (NOMEM for
 * -ENOMEM, otherwise failed with the errno).
 */
int ftgt_bdev_part_submit(struct ftgt_bdev_io *io, struct iovec *iovs, int iovcnt,
                          ftgt_bdev_io_completion_cb cb_fn);
/* Complete `io` (cb_arg) with the outcome of base_io and free base_io. */
void ftgt_bdev_part_io_done(struct ftgt_bdev_io *base_io, bool success, void *io);

/* ---- RPC helpers for modules -------------------------------------------------------- */

struct ftgt_rpc_request;

/* An ftgt_bdev_unregister_cb whose cb_arg is an RPC request: answers true, or the error. */
void ftgt_bdev_rpc_delete_done(void *rpc_request, int rc);

/* A module's delete: 0 and cb_fn(cb_arg, rc) later, or -errno with a sentence in err. */
typedef int (*ftgt_bdev_delete_fn)(const char *name, ftgt_bdev_unregister_cb cb_fn, void *cb_arg,
                                   char *err, size_t err_len);
/*
 * Serve a "<module>_delete" RPC whose only parameter is "name": decode it, call delete_fn,
 * answer true when the bdev is gone, or the error.
 */
void ftgt_bdev_rpc_delete_by_name(struct ftgt_rpc_request *req, const json_t *params,
                                  ftgt_bdev_delete_fn delete_fn);

#endif /* FTGT_BDEV_MODULE_H */
