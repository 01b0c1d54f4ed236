/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * NVMe-oF bdev: attaches a remote controller with lib/nvme and exposes each active
 * namespace as bdev "<name>n<nsid>". See doc/bdev_nvme.md.
 */
#ifndef FTGT_BDEV_NVME_H
#define FTGT_BDEV_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "ftgt/nvme.h"

struct bdev_nvme_attach_opts {
	const char *name;                        /* controller name; bdevs are <name>n<nsid> */
	struct ftgt_nvme_transport_id trid;      /* trtype, adrfam, traddr, trsvcid, subnqn */
	char hostnqn[FTGT_NVME_NQN_MAX_LEN + 1]; /* "" = generated */
	bool hdgst;
	bool ddgst;
	int32_t ctrlr_loss_timeout_sec;    /* -1: reconnect forever; 0: one immediate try */
	uint32_t reconnect_delay_sec;      /* between reconnect tries (0 only with loss 0) */
	uint32_t fast_io_fail_timeout_sec; /* fail I/O this long after a loss (0: no) */
	uint32_t connect_timeout_ms;       /* bound on one (non-blocking) connect */
};

/*
 * rc 0: bdev_names is a new JSON array of the bdevs' names (the callee owns it: steal or
 * decref it). rc < 0: err is one sentence (valid during the call), nothing was created.
 */
typedef void (*bdev_nvme_attach_cb)(void *cb_arg, int rc, json_t *bdev_names, const char *err);

/*
 * Start lib/nvme's non-blocking connect (driven by a poller on the app thread, bounded by
 * opts->connect_timeout_ms; nothing blocks), then register one bdev per active namespace
 * on the app thread and call cb_fn there. Returns 0 (cb_fn runs later, exactly once) or
 * -EINVAL (bad option) / -EEXIST (name taken) / -ENOMEM with a sentence in err (cb_fn
 * never runs). Failures of the connect itself (-ECONNREFUSED, -ETIMEDOUT, -EACCES, ...)
 * come through cb_fn, and -ESHUTDOWN when the daemon stops first. App thread.
 */
int bdev_nvme_attach_controller(const struct bdev_nvme_attach_opts *opts, bdev_nvme_attach_cb cb_fn,
                                void *cb_arg, char *err, size_t err_len);

typedef void (*bdev_nvme_detach_cb)(void *cb_arg, int rc);
/*
 * Unregister the controller's bdevs, then disconnect. 0 (cb_fn runs later on the app
 * thread) or -ENODEV (no such controller) / -EBUSY (a bdev is open or claimed, or a
 * detach is already running) with a sentence in err. App thread.
 */
int bdev_nvme_detach_controller(const char *name, bdev_nvme_detach_cb cb_fn, void *cb_arg,
                                char *err, size_t err_len);

/* JSON array describing the controllers (all, or the one named; -ENODEV). App thread. */
int bdev_nvme_get_controllers(const char *name, json_t **out);

typedef void (*bdev_nvme_reset_cb)(void *cb_arg, int rc);
/*
 * Reset the controller (disconnect, connect again; the I/O queue pairs follow), as a RESET
 * bdev I/O does. cb_fn(cb_arg, 0) once reconnected, -EIO when the first reconnect try
 * failed (the controller then goes on per ctrlr_loss_timeout_sec). 0 (cb_fn runs later on
 * the app thread) or -ENODEV / -EBUSY (connecting, failed or being detached) with a
 * sentence in err. App thread.
 */
int bdev_nvme_reset_controller(const char *name, bdev_nvme_reset_cb cb_fn, void *cb_arg, char *err,
                               size_t err_len);

#endif /* FTGT_BDEV_NVME_H */
