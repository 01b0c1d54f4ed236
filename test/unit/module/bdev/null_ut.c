/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the null bdev (module/bdev/null) through the bdev API. */
#include <errno.h>
#include <string.h>

#include "../../lib/bdev/bdev_ut_common.h"
#include "bdev_null.h"

static int g_resized;
static void
ev_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	if (type == FTGT_BDEV_EVENT_RESIZE) {
		g_resized++;
	}
}

struct cpl {
	int count;
	bool success;
};

static void
io_done(struct ftgt_bdev_io *io, bool success, void *arg)
{
	struct cpl *c = arg;

	c->count++;
	c->success = success;
	ftgt_bdev_free_io(io);
}

static int g_del_rc = 1;
static void
del_cb(void *arg, int rc)
{
	g_del_rc = rc;
}

static void
test_null(void)
{
	struct null_bdev_opts o = {.name = NULL, .num_blocks = 1024, .block_size = 4096};
	struct ftgt_bdev_desc *desc;
	struct ftgt_io_channel *ch;
	struct ftgt_bdev *b;
	static uint8_t buf[2 * 4096];
	struct cpl c = {0};
	char err[256];
	int i;

	CU_ASSERT(bdev_null_create(&b, &o, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(strstr(err, "name") != NULL);
	o.name = "n0";
	o.block_size = 1000;
	CU_ASSERT(bdev_null_create(&b, &o, err, sizeof(err)) == -EINVAL);
	CU_ASSERT(ftgt_bdev_get_by_name("n0") == NULL);
	o.block_size = 4096;
	CU_ASSERT_FATAL(bdev_null_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(bdev_null_create(&b, &o, err, sizeof(err)) == -EEXIST);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("n0", true, ev_cb, NULL, &desc) == 0);
	ch = ftgt_bdev_get_io_channel(desc);
	memset(buf, 0xff, sizeof(buf));
	CU_ASSERT(ftgt_bdev_write_blocks(desc, ch, buf, 0, 2, io_done, &c) == 0);
	CU_ASSERT(ftgt_bdev_read_blocks(desc, ch, buf, 0, 2, io_done, &c) == 0);
	ut_poll();
	CU_ASSERT(c.count == 2 && c.success);
	for (i = 0; i < (int)sizeof(buf); i++) {
		if (buf[i] != 0) {
			CU_FAIL("null read did not return zeroes");
			break;
		}
	}
	/* Resize: growing is fine while open, shrinking is not. */
	g_resized = 0;
	CU_ASSERT(bdev_null_resize("n0", 8, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_resized == 1 && ftgt_bdev_get_num_blocks(b) == 2048);
	CU_ASSERT(bdev_null_resize("n0", 1, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(bdev_null_resize("nx", 1, err, sizeof(err)) == -ENODEV);
	CU_ASSERT(bdev_null_delete("n0", del_cb, NULL, err, sizeof(err)) == -EBUSY);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(desc);
	ut_poll();
	g_del_rc = 1;
	CU_ASSERT(bdev_null_delete("n0", del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_del_rc == 0 && ftgt_bdev_get_by_name("n0") == NULL);
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "null", test_null);
}

int
main(void)
{
	return ut_bdev_run("bdev_null", add_tests, NULL);
}
