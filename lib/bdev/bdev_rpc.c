/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bdev core RPC methods (SPDK names and params) and the "bdev" subsystem: start, stop
 * and save_config.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ftgt/env.h"
#include "ftgt/init.h"
#include "ftgt/log.h"
#include "ftgt/rpc.h"
#include "ftgt/thread.h"
#include "ftgt/util.h"
#include "bdev_internal.h"

#define MIB (1024ull * 1024ull)

static struct ftgt_bdev *
rpc_find_bdev(struct ftgt_rpc_request *req, const char *name)
{
	struct ftgt_bdev *bdev = ftgt_bdev_get_by_name(name);

	if (bdev == NULL) {
		ftgt_rpc_send_error(req, -ENODEV, "bdev '%s' does not exist", name);
	}
	return bdev;
}

/* ---- bdev_get_bdevs ---------------------------------------------------------------- */

static int
alias_to_json(const char *alias, void *ctx)
{
	json_array_append_new(ctx, json_string(alias));
	return 0;
}

void
bdev_dump_info_json(struct ftgt_bdev *bdev, json_t *o)
{
	uint64_t limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES];
	char uuid[FTGT_UUID_STRING_LEN];
	json_t *aliases = json_array(), *types = json_object(), *rl, *ds;
	const char *owner;
	int t;

	json_object_set_new(o, "name", json_string(bdev->name));
	ftgt_bdev_for_each_alias(bdev, alias_to_json, aliases);
	json_object_set_new(o, "aliases", aliases);
	json_object_set_new(o, "product_name", json_string(ftgt_bdev_get_product_name(bdev)));
	json_object_set_new(o, "block_size", json_integer(bdev->blocklen));
	json_object_set_new(o, "num_blocks", json_integer((json_int_t)bdev->blockcnt));
	ftgt_uuid_fmt(uuid, sizeof(uuid), &bdev->uuid);
	json_object_set_new(o, "uuid", json_string(uuid));
	json_object_set_new(o, "md_size", json_integer(bdev->md_len));
	json_object_set_new(o, "md_interleave", json_boolean(bdev->md_interleave));
	json_object_set_new(o, "write_cache", json_boolean(bdev->write_cache));
	json_object_set_new(o, "optimal_io_boundary", json_integer(bdev->optimal_io_boundary));
	json_object_set_new(o, "product_module", json_string(bdev->module->name));
	ftgt_bdev_get_qos_rate_limits(bdev, limits);
	rl = json_object();
	json_object_set_new(rl, "rw_ios_per_sec",
	                    json_integer((json_int_t)limits[FTGT_BDEV_QOS_RW_IOPS_RATE_LIMIT]));
	json_object_set_new(
	        rl, "rw_mbytes_per_sec",
	        json_integer((json_int_t)(limits[FTGT_BDEV_QOS_RW_BPS_RATE_LIMIT] / MIB)));
	json_object_set_new(
	        rl, "r_mbytes_per_sec",
	        json_integer((json_int_t)(limits[FTGT_BDEV_QOS_R_BPS_RATE_LIMIT] / MIB)));
	json_object_set_new(
	        rl, "w_mbytes_per_sec",
	        json_integer((json_int_t)(limits[FTGT_BDEV_QOS_W_BPS_RATE_LIMIT] / MIB)));
	json_object_set_new(o, "assigned_rate_limits", rl);
	/* Under the bdev's lock: a claim may be released on another thread meanwhile. */
	pthread_mutex_lock(&bdev->internal->mutex);
	owner = bdev->internal->claim_owner;
	json_object_set_new(o, "claimed", json_boolean(owner != NULL));
	if (owner != NULL) {
		json_object_set_new(o, "claimed_by", json_string(owner));
	}
	pthread_mutex_unlock(&bdev->internal->mutex);
	json_object_set_new(o, "zoned", json_false());
	for (t = FTGT_BDEV_IO_TYPE_READ; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		json_object_set_new(types, ftgt_bdev_io_type_name(t),
		                    json_boolean(ftgt_bdev_io_type_supported(bdev, t)));
	}
	json_object_set_new(o, "supported_io_types", types);
	ds = json_object();
	if (bdev->fn_table->dump_info_json != NULL) {
		bdev->fn_table->dump_info_json(bdev->ctxt, ds);
	}
	json_object_set_new(o, "driver_specific", ds);
}

struct get_bdevs_req {
	struct ftgt_rpc_request *req;
	char *name;
	uint64_t deadline_tsc;
	struct ftgt_poller *poller;
};

static void
get_bdevs_answer(struct ftgt_rpc_request *req, const char *name)
{
	json_t *arr = json_array(), *o;
	struct ftgt_bdev *bdev;

	if (name != NULL) {
		bdev = rpc_find_bdev(req, name);
		if (bdev == NULL) {
			json_decref(arr);
			return;
		}
		o = json_object();
		bdev_dump_info_json(bdev, o);
		json_array_append_new(arr, o);
	} else {
		for (bdev = ftgt_bdev_first(); bdev != NULL; bdev = ftgt_bdev_next(bdev)) {
			o = json_object();
			bdev_dump_info_json(bdev, o);
			json_array_append_new(arr, o);
		}
	}
	ftgt_rpc_send_result(req, arr);
}

static int
get_bdevs_wait_poll(void *arg)
{
	struct get_bdevs_req *g = arg;

	if (ftgt_bdev_get_by_name(g->name) == NULL && ftgt_get_ticks() < g->deadline_tsc) {
		return FTGT_POLLER_IDLE;
	}
	ftgt_poller_unregister(&g->poller);
	get_bdevs_answer(g->req, g->name);
	free(g->name);
	free(g);
	return FTGT_POLLER_BUSY;
}

struct rpc_get_bdevs {
	char *name;
	uint32_t timeout_ms;
};

static const struct ftgt_rpc_field rpc_get_bdevs_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_get_bdevs, name), true},
        {"timeout_ms", FTGT_RPC_UINT32, offsetof(struct rpc_get_bdevs, timeout_ms), true},
};

static void
rpc_bdev_get_bdevs(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_get_bdevs r = {0};
	struct get_bdevs_req *g;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_get_bdevs_fields,
	                              FTGT_COUNTOF(rpc_get_bdevs_fields), &r)) {
		return;
	}
	if (r.name != NULL && r.timeout_ms > 0 && ftgt_bdev_get_by_name(r.name) == NULL) {
		g = calloc(1, sizeof(*g));
		if (g != NULL) {
			g->req = req;
			g->name = r.name;
			g->deadline_tsc =
			        ftgt_get_ticks() + r.timeout_ms * (ftgt_get_ticks_hz() / 1000);
			g->poller = ftgt_poller_register(get_bdevs_wait_poll, g, 10000,
			                                 "bdev_get_bdevs_wait");
			if (g->poller != NULL) {
				return;
			}
			free(g);
		}
	}
	get_bdevs_answer(req, r.name);
	ftgt_rpc_decode_free(rpc_get_bdevs_fields, FTGT_COUNTOF(rpc_get_bdevs_fields), &r);
}
FTGT_RPC_REGISTER("bdev_get_bdevs", rpc_bdev_get_bdevs)
FTGT_RPC_REGISTER_ALIAS("get_bdevs", "bdev_get_bdevs", get_bdevs)

/* ---- bdev_get_iostat --------------------------------------------------------------- */

struct iostat_req {
	struct ftgt_rpc_request *req;
	json_t *arr;
	struct ftgt_bdev *bdev; /* current; NULL: one bdev only */
	bool all;
	struct ftgt_bdev_io_stat stat;
};

static json_t *
iostat_json(struct ftgt_bdev *bdev, const struct ftgt_bdev_io_stat *s)
{
	static const struct {
		enum ftgt_bdev_io_type type;
		const char *bytes, *ops, *lat, *max, *min;
	} m[] = {
	        {FTGT_BDEV_IO_TYPE_READ, "bytes_read", "num_read_ops", "read_latency_ticks",
	         "max_read_latency_ticks", "min_read_latency_ticks"},
	        {FTGT_BDEV_IO_TYPE_WRITE, "bytes_written", "num_write_ops", "write_latency_ticks",
	         "max_write_latency_ticks", "min_write_latency_ticks"},
	        {FTGT_BDEV_IO_TYPE_UNMAP, "bytes_unmapped", "num_unmap_ops", "unmap_latency_ticks",
	         "max_unmap_latency_ticks", "min_unmap_latency_ticks"},
	        {FTGT_BDEV_IO_TYPE_COMPARE, "bytes_compared", "num_compare_ops",
	         "compare_latency_ticks", "max_compare_latency_ticks", "min_compare_latency_ticks"},
	};
	json_t *o = json_object(), *types = json_object(), *errs = json_object(), *to;
	size_t k;
	int t;

	json_object_set_new(o, "name", json_string(bdev->name));
	for (k = 0; k < FTGT_COUNTOF(m); k++) {
		const struct ftgt_bdev_io_type_stat *ts = &s->type[m[k].type];

		json_object_set_new(o, m[k].bytes, json_integer((json_int_t)ts->bytes));
		json_object_set_new(o, m[k].ops, json_integer((json_int_t)ts->ops));
		json_object_set_new(o, m[k].lat, json_integer((json_int_t)ts->latency_ticks));
		json_object_set_new(o, m[k].max, json_integer((json_int_t)ts->max_latency_ticks));
		json_object_set_new(o, m[k].min,
		                    json_integer(ts->min_latency_ticks == UINT64_MAX
		                                         ? 0
		                                         : (json_int_t)ts->min_latency_ticks));
	}
	for (t = FTGT_BDEV_IO_TYPE_READ; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		const struct ftgt_bdev_io_type_stat *ts = &s->type[t];

		to = json_object();
		json_object_set_new(to, "ops", json_integer((json_int_t)ts->ops));
		json_object_set_new(to, "bytes", json_integer((json_int_t)ts->bytes));
		json_object_set_new(to, "errors", json_integer((json_int_t)ts->errors));
		json_object_set_new(to, "latency_ticks",
		                    json_integer((json_int_t)ts->latency_ticks));
		json_object_set_new(to, "min_latency_ticks",
		                    json_integer(ts->min_latency_ticks == UINT64_MAX
		                                         ? 0
		                                         : (json_int_t)ts->min_latency_ticks));
		json_object_set_new(to, "max_latency_ticks",
		                    json_integer((json_int_t)ts->max_latency_ticks));
		json_object_set_new(types, ftgt_bdev_io_type_name(t), to);
		json_object_set_new(errs, ftgt_bdev_io_type_name(t),
		                    json_integer((json_int_t)ts->errors));
	}
	json_object_set_new(o, "num_nomem_retries", json_integer((json_int_t)s->nomem_retries));
	json_object_set_new(o, "io_error", errs);
	json_object_set_new(o, "io_types", types);
	return o;
}

static void iostat_next(struct iostat_req *r);

static void
iostat_got(void *arg, int status)
{
	struct iostat_req *r = arg;

	json_array_append_new(r->arr, iostat_json(r->bdev, &r->stat));
	r->bdev = r->all ? ftgt_bdev_next(r->bdev) : NULL;
	iostat_next(r);
}

static void
iostat_next(struct iostat_req *r)
{
	json_t *res;

	while (r->bdev != NULL) {
		if (ftgt_bdev_get_io_stat(r->bdev, &r->stat, iostat_got, r) == 0) {
			return;
		}
		r->bdev = r->all ? ftgt_bdev_next(r->bdev) : NULL;
	}
	res = json_object();
	json_object_set_new(res, "tick_rate", json_integer((json_int_t)ftgt_get_ticks_hz()));
	json_object_set_new(res, "ticks", json_integer((json_int_t)ftgt_get_ticks()));
	json_object_set_new(res, "bdevs", r->arr);
	ftgt_rpc_send_result(r->req, res);
	free(r);
}

struct rpc_name_opt {
	char *name;
};
static const struct ftgt_rpc_field rpc_name_opt_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_name_opt, name), true},
};

static void
rpc_bdev_get_iostat(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_name_opt p = {0};
	struct iostat_req *r;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_name_opt_fields,
	                              FTGT_COUNTOF(rpc_name_opt_fields), &p)) {
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	r->req = req;
	r->arr = json_array();
	if (p.name != NULL) {
		r->bdev = rpc_find_bdev(req, p.name);
		if (r->bdev == NULL) {
			json_decref(r->arr);
			free(r);
			goto out;
		}
	} else {
		r->all = true;
		r->bdev = ftgt_bdev_first();
	}
	iostat_next(r);
out:
	ftgt_rpc_decode_free(rpc_name_opt_fields, FTGT_COUNTOF(rpc_name_opt_fields), &p);
}
FTGT_RPC_REGISTER("bdev_get_iostat", rpc_bdev_get_iostat)
FTGT_RPC_REGISTER_ALIAS("get_bdevs_iostat", "bdev_get_iostat", get_bdevs_iostat)

/* ---- bdev_reset_iostat ------------------------------------------------------------- */

struct reset_stat_req {
	struct ftgt_rpc_request *req;
	struct ftgt_bdev *bdev;
	bool all;
};

static void reset_stat_next(struct reset_stat_req *r);

static void
reset_stat_done(void *arg, int status)
{
	struct reset_stat_req *r = arg;

	r->bdev = r->all ? ftgt_bdev_next(r->bdev) : NULL;
	reset_stat_next(r);
}

static void
reset_stat_next(struct reset_stat_req *r)
{
	while (r->bdev != NULL) {
		if (ftgt_bdev_reset_io_stat(r->bdev, reset_stat_done, r) == 0) {
			return;
		}
		r->bdev = r->all ? ftgt_bdev_next(r->bdev) : NULL;
	}
	ftgt_rpc_send_bool(r->req, true);
	free(r);
}

static void
rpc_bdev_reset_iostat(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_name_opt p = {0};
	struct reset_stat_req *r;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_name_opt_fields,
	                              FTGT_COUNTOF(rpc_name_opt_fields), &p)) {
		return;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	r->req = req;
	if (p.name != NULL) {
		r->bdev = rpc_find_bdev(req, p.name);
		if (r->bdev == NULL) {
			free(r);
			goto out;
		}
	} else {
		r->all = true;
		r->bdev = ftgt_bdev_first();
	}
	reset_stat_next(r);
out:
	ftgt_rpc_decode_free(rpc_name_opt_fields, FTGT_COUNTOF(rpc_name_opt_fields), &p);
}
FTGT_RPC_REGISTER("bdev_reset_iostat", rpc_bdev_reset_iostat)

/* ---- histograms -------------------------------------------------------------------- */

struct rpc_hist_enable {
	char *name;
	bool enable;
};
static const struct ftgt_rpc_field rpc_hist_enable_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_hist_enable, name), false},
        {"enable", FTGT_RPC_BOOL, offsetof(struct rpc_hist_enable, enable), false},
};

static void
hist_enable_done(void *arg, int status)
{
	struct ftgt_rpc_request *req = arg;

	if (status != 0) {
		ftgt_rpc_send_error(req, status, "cannot enable histograms: %s", strerror(-status));
		return;
	}
	ftgt_rpc_send_bool(req, true);
}

static void
rpc_bdev_enable_histogram(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_hist_enable p = {0};
	struct ftgt_bdev *bdev;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_hist_enable_fields,
	                              FTGT_COUNTOF(rpc_hist_enable_fields), &p)) {
		return;
	}
	bdev = rpc_find_bdev(req, p.name);
	if (bdev != NULL) {
		rc = ftgt_bdev_histogram_enable(bdev, p.enable, hist_enable_done, req);
		if (rc != 0) {
			ftgt_rpc_send_error(req, rc, "cannot change histograms of bdev '%s': %s",
			                    p.name, strerror(-rc));
		}
	}
	ftgt_rpc_decode_free(rpc_hist_enable_fields, FTGT_COUNTOF(rpc_hist_enable_fields), &p);
}
FTGT_RPC_REGISTER("bdev_enable_histogram", rpc_bdev_enable_histogram)
FTGT_RPC_REGISTER_ALIAS("enable_bdev_histogram", "bdev_enable_histogram", enable_bdev_hist)

struct hist_get_req {
	struct ftgt_rpc_request *req;
	struct ftgt_bdev *bdev;
	struct ftgt_histogram hist[FTGT_BDEV_NUM_IO_TYPES];
};

/* Summary and the non-empty buckets, in microseconds. */
json_t *bdev_histogram_to_json(const struct ftgt_histogram *h, double scale);
json_t *
bdev_histogram_to_json(const struct ftgt_histogram *h, double scale)
{
	json_t *o = ftgt_histogram_summary_json(h, scale), *b = json_array(), *e;
	uint32_t i;

	if (o == NULL) {
		o = json_object();
	}
	for (i = 0; i < FTGT_HISTOGRAM_BUCKETS && h->count != 0; i++) {
		if (h->bucket[i] == 0) {
			continue;
		}
		e = json_array();
		json_array_append_new(e, json_real((double)ftgt_histogram_bucket_start(i) * scale));
		json_array_append_new(e, json_real((double)ftgt_histogram_bucket_end(i) * scale));
		json_array_append_new(e, json_integer((json_int_t)h->bucket[i]));
		json_array_append_new(b, e);
	}
	json_object_set_new(o, "buckets", b);
	return o;
}

static void
hist_get_done(void *arg, int status)
{
	struct hist_get_req *r = arg;
	double scale = 1e6 / (double)ftgt_get_ticks_hz();
	json_t *res = json_object(), *types = json_object();
	int t;

	json_object_set_new(res, "name", json_string(r->bdev->name));
	json_object_set_new(res, "tick_rate", json_integer((json_int_t)ftgt_get_ticks_hz()));
	json_object_set_new(res, "unit", json_string("us"));
	for (t = FTGT_BDEV_IO_TYPE_READ; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		if (r->hist[t].count == 0) {
			continue;
		}
		json_object_set_new(types, ftgt_bdev_io_type_name(t),
		                    bdev_histogram_to_json(&r->hist[t], scale));
	}
	json_object_set_new(res, "io_types", types);
	ftgt_rpc_send_result(r->req, res);
	free(r);
}

static void
rpc_bdev_get_histogram(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_name_opt p = {0};
	struct hist_get_req *r = NULL;
	struct ftgt_bdev *bdev;
	int rc, t;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_name_opt_fields,
	                              FTGT_COUNTOF(rpc_name_opt_fields), &p)) {
		return;
	}
	if (p.name == NULL) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "missing parameter 'name'");
		goto out;
	}
	bdev = rpc_find_bdev(req, p.name);
	if (bdev == NULL) {
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		ftgt_rpc_send_error(req, -ENOMEM, "out of memory");
		goto out;
	}
	r->req = req;
	r->bdev = bdev;
	for (t = 0; t < FTGT_BDEV_NUM_IO_TYPES; t++) {
		ftgt_histogram_init(&r->hist[t]);
	}
	rc = ftgt_bdev_histogram_get(bdev, r->hist, hist_get_done, r);
	if (rc == -EINVAL) {
		ftgt_rpc_send_error(
		        req, -EINVAL,
		        "histograms of bdev '%s' are not enabled (bdev_enable_histogram)", p.name);
		free(r);
	} else if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "%s", strerror(-rc));
		free(r);
	}
out:
	ftgt_rpc_decode_free(rpc_name_opt_fields, FTGT_COUNTOF(rpc_name_opt_fields), &p);
}
FTGT_RPC_REGISTER("bdev_get_histogram", rpc_bdev_get_histogram)
FTGT_RPC_REGISTER_ALIAS("get_bdev_histogram", "bdev_get_histogram", get_bdev_hist)

/* ---- QoS --------------------------------------------------------------------------- */

struct rpc_qos {
	char *name;
	uint64_t rw_ios_per_sec;
	uint64_t rw_mbytes_per_sec;
	uint64_t r_mbytes_per_sec;
	uint64_t w_mbytes_per_sec;
};
#define QOS_UNSET UINT64_MAX
static const struct ftgt_rpc_field rpc_qos_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_qos, name), false},
        {"rw_ios_per_sec", FTGT_RPC_UINT64, offsetof(struct rpc_qos, rw_ios_per_sec), true},
        {"rw_mbytes_per_sec", FTGT_RPC_UINT64, offsetof(struct rpc_qos, rw_mbytes_per_sec), true},
        {"r_mbytes_per_sec", FTGT_RPC_UINT64, offsetof(struct rpc_qos, r_mbytes_per_sec), true},
        {"w_mbytes_per_sec", FTGT_RPC_UINT64, offsetof(struct rpc_qos, w_mbytes_per_sec), true},
};

static void
qos_done(void *arg, int status)
{
	struct ftgt_rpc_request *req = arg;

	if (status != 0) {
		ftgt_rpc_send_error(req, status, "cannot set QoS limits: %s", strerror(-status));
		return;
	}
	ftgt_rpc_send_bool(req, true);
}

static uint64_t
mb_to_bytes(uint64_t mb)
{
	if (mb == QOS_UNSET) {
		return FTGT_BDEV_QOS_LIMIT_NOT_DEFINED;
	}
	return mb > UINT64_MAX / MIB ? UINT64_MAX - 1 : mb * MIB;
}

static void
rpc_bdev_set_qos_limit(struct ftgt_rpc_request *req, const json_t *params)
{
	struct rpc_qos p = {NULL, QOS_UNSET, QOS_UNSET, QOS_UNSET, QOS_UNSET};
	uint64_t limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES];
	struct ftgt_bdev *bdev;
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_qos_fields, FTGT_COUNTOF(rpc_qos_fields),
	                              &p)) {
		return;
	}
	if (p.rw_ios_per_sec == QOS_UNSET && p.rw_mbytes_per_sec == QOS_UNSET &&
	    p.r_mbytes_per_sec == QOS_UNSET && p.w_mbytes_per_sec == QOS_UNSET) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "give at least one of rw_ios_per_sec, rw_mbytes_per_sec, "
		                    "r_mbytes_per_sec, w_mbytes_per_sec (0 removes a limit)");
		goto out;
	}
	bdev = rpc_find_bdev(req, p.name);
	if (bdev == NULL) {
		goto out;
	}
	limits[FTGT_BDEV_QOS_RW_IOPS_RATE_LIMIT] =
	        p.rw_ios_per_sec == QOS_UNSET ? FTGT_BDEV_QOS_LIMIT_NOT_DEFINED : p.rw_ios_per_sec;
	limits[FTGT_BDEV_QOS_RW_BPS_RATE_LIMIT] = mb_to_bytes(p.rw_mbytes_per_sec);
	limits[FTGT_BDEV_QOS_R_BPS_RATE_LIMIT] = mb_to_bytes(p.r_mbytes_per_sec);
	limits[FTGT_BDEV_QOS_W_BPS_RATE_LIMIT] = mb_to_bytes(p.w_mbytes_per_sec);
	rc = ftgt_bdev_set_qos_rate_limits(bdev, limits, qos_done, req);
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "cannot set QoS limits on bdev '%s': %s", p.name,
		                    strerror(-rc));
	}
out:
	ftgt_rpc_decode_free(rpc_qos_fields, FTGT_COUNTOF(rpc_qos_fields), &p);
}
FTGT_RPC_REGISTER("bdev_set_qos_limit", rpc_bdev_set_qos_limit)
FTGT_RPC_REGISTER_ALIAS("set_bdev_qos_limit", "bdev_set_qos_limit", set_bdev_qos_limit)

/* ---- bdev_set_options -------------------------------------------------------------- */

struct rpc_opts {
	uint32_t bdev_io_pool_size;
	uint32_t bdev_io_cache_size;
	bool bdev_auto_examine;
	uint32_t iobuf_small_cache_size;
	uint32_t iobuf_large_cache_size;
};
/* SPDK's other bdev_set_options params are accepted (and ignored) so its configs load. */
static const struct ftgt_rpc_field rpc_opts_fields[] = {
        {"bdev_io_pool_size", FTGT_RPC_UINT32, offsetof(struct rpc_opts, bdev_io_pool_size), true},
        {"bdev_io_cache_size", FTGT_RPC_UINT32, offsetof(struct rpc_opts, bdev_io_cache_size),
         true},
        {"bdev_auto_examine", FTGT_RPC_BOOL, offsetof(struct rpc_opts, bdev_auto_examine), true},
        {"iobuf_small_cache_size", FTGT_RPC_UINT32,
         offsetof(struct rpc_opts, iobuf_small_cache_size), true},
        {"iobuf_large_cache_size", FTGT_RPC_UINT32,
         offsetof(struct rpc_opts, iobuf_large_cache_size), true},
};

static void
rpc_bdev_set_options(struct ftgt_rpc_request *req, const json_t *params)
{
	struct ftgt_bdev_opts o;
	struct rpc_opts p = {0};
	int rc;

	ftgt_bdev_get_opts(&o);
	p.bdev_io_pool_size = o.bdev_io_pool_size;
	p.bdev_io_cache_size = o.bdev_io_cache_size;
	if (!ftgt_rpc_decode_or_error(req, params, rpc_opts_fields, FTGT_COUNTOF(rpc_opts_fields),
	                              &p)) {
		return;
	}
	if (bdev_is_initialized() && p.bdev_io_pool_size == o.bdev_io_pool_size &&
	    p.bdev_io_cache_size == o.bdev_io_cache_size) {
		/* What save_config wrote: replaying it changes nothing. */
		ftgt_rpc_send_bool(req, true);
		return;
	}
	o.bdev_io_pool_size = p.bdev_io_pool_size;
	o.bdev_io_cache_size = p.bdev_io_cache_size;
	rc = ftgt_bdev_set_opts(&o);
	if (rc == -EBUSY) {
		ftgt_rpc_send_error(
		        req, rc,
		        "bdev_io_pool_size and bdev_io_cache_size can only change before "
		        "the bdev subsystem starts");
	} else if (rc != 0) {
		ftgt_rpc_send_error(req, FTGT_JSONRPC_ERROR_INVALID_PARAMS,
		                    "invalid bdev options: pool and cache sizes must be non-zero "
		                    "and the cache no larger than the pool");
	} else {
		ftgt_rpc_send_bool(req, true);
	}
}
FTGT_RPC_REGISTER("bdev_set_options", rpc_bdev_set_options)

/* ---- the "bdev" subsystem ---------------------------------------------------------- */

static json_t *
method_call(const char *method, json_t *params)
{
	json_t *o = json_object();

	json_object_set_new(o, "method", json_string(method));
	json_object_set_new(o, "params", params);
	return o;
}

void
bdev_subsystem_write_config(json_t *config)
{
	uint64_t limits[FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES];
	struct ftgt_bdev_module *m;
	struct ftgt_bdev_opts opts;
	struct ftgt_bdev *bdev;
	json_t *p;
	int t;
	bool any;

	ftgt_bdev_get_opts(&opts);
	p = json_object();
	json_object_set_new(p, "bdev_io_pool_size", json_integer(opts.bdev_io_pool_size));
	json_object_set_new(p, "bdev_io_cache_size", json_integer(opts.bdev_io_cache_size));
	json_array_append_new(config, method_call("bdev_set_options", p));
	for (m = bdev_module_first(); m != NULL; m = bdev_module_next(m)) {
		if (m->config_json != NULL) {
			m->config_json(config);
		}
	}
	/* Registration order: bases before the bdevs stacked on them. */
	for (bdev = ftgt_bdev_first(); bdev != NULL; bdev = ftgt_bdev_next(bdev)) {
		if (bdev->fn_table->write_config_json != NULL) {
			bdev->fn_table->write_config_json(bdev, config);
		}
	}
	for (bdev = ftgt_bdev_first(); bdev != NULL; bdev = ftgt_bdev_next(bdev)) {
		ftgt_bdev_get_qos_rate_limits(bdev, limits);
		any = false;
		for (t = 0; t < FTGT_BDEV_QOS_NUM_RATE_LIMIT_TYPES; t++) {
			any |= limits[t] != 0;
		}
		if (any) {
			p = json_object();
			json_object_set_new(p, "name", json_string(bdev->name));
			json_object_set_new(
			        p, "rw_ios_per_sec",
			        json_integer((json_int_t)limits[FTGT_BDEV_QOS_RW_IOPS_RATE_LIMIT]));
			json_object_set_new(
			        p, "rw_mbytes_per_sec",
			        json_integer((json_int_t)(limits[FTGT_BDEV_QOS_RW_BPS_RATE_LIMIT] /
			                                  MIB)));
			json_object_set_new(
			        p, "r_mbytes_per_sec",
			        json_integer((json_int_t)(limits[FTGT_BDEV_QOS_R_BPS_RATE_LIMIT] /
			                                  MIB)));
			json_object_set_new(
			        p, "w_mbytes_per_sec",
			        json_integer((json_int_t)(limits[FTGT_BDEV_QOS_W_BPS_RATE_LIMIT] /
			                                  MIB)));
			json_array_append_new(config, method_call("bdev_set_qos_limit", p));
		}
		if (ftgt_bdev_histogram_is_enabled(bdev)) {
			p = json_object();
			json_object_set_new(p, "name", json_string(bdev->name));
			json_object_set_new(p, "enable", json_true());
			json_array_append_new(config, method_call("bdev_enable_histogram", p));
		}
	}
}

static void
bdev_subsystem_init_done(void *arg, int rc)
{
	ftgt_subsystem_init_done(rc);
}

static void
bdev_subsystem_init(void)
{
	ftgt_bdev_initialize(bdev_subsystem_init_done, NULL);
}

static void
bdev_subsystem_fini_done(void *arg)
{
	ftgt_subsystem_fini_done();
}

static void
bdev_subsystem_fini(void)
{
	ftgt_bdev_finish(bdev_subsystem_fini_done, NULL);
}

static struct ftgt_subsystem g_bdev_subsystem = {
        .name = "bdev",
        .init = bdev_subsystem_init,
        .fini = bdev_subsystem_fini,
        .write_config_json = bdev_subsystem_write_config,
};
FTGT_SUBSYSTEM_REGISTER(g_bdev_subsystem)

/* ---- helpers for the modules' RPCs --------------------------------------------------- */

void
ftgt_bdev_rpc_delete_done(void *rpc_request, int rc)
{
	struct ftgt_rpc_request *req = rpc_request;

	if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "delete failed: %s", strerror(-rc));
		return;
	}
	ftgt_rpc_send_bool(req, true);
}

struct rpc_delete_name {
	char *name;
};
static const struct ftgt_rpc_field rpc_delete_name_fields[] = {
        {"name", FTGT_RPC_STRING, offsetof(struct rpc_delete_name, name), false},
};

void
ftgt_bdev_rpc_delete_by_name(struct ftgt_rpc_request *req, const json_t *params,
                             ftgt_bdev_delete_fn delete_fn)
{
	struct rpc_delete_name r = {0};
	char err[256];
	int rc;

	if (!ftgt_rpc_decode_or_error(req, params, rpc_delete_name_fields,
	                              FTGT_COUNTOF(rpc_delete_name_fields), &r)) {
		return;
	}
	rc = delete_fn(r.name, ftgt_bdev_rpc_delete_done, req, err, sizeof(err));
	if (rc != 0) {
		ftgt_rpc_send_error(req, rc, "%s", err);
	}
	ftgt_rpc_decode_free(rpc_delete_name_fields, FTGT_COUNTOF(rpc_delete_name_fields), &r);
}
