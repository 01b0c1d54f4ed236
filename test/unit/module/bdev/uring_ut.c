/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests of the io_uring bdev (module/bdev/uring) on a temporary file. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "ut_stack_common.h"
#include "bdev_split.h"
#include "bdev_uring.h"

static char g_path[64];
static int g_resized;
static int g_removed;

static void
ev_cb(enum ftgt_bdev_event_type type, struct ftgt_bdev *bdev, void *ctx)
{
	if (type == FTGT_BDEV_EVENT_RESIZE) {
		g_resized++;
	} else if (type == FTGT_BDEV_EVENT_REMOVE) {
		g_removed++;
	}
}

static int
make_file(size_t size)
{
	int fd;

	snprintf(g_path, sizeof(g_path), "/var/tmp/uring_ut.XXXXXX");
	fd = mkstemp(g_path);
	if (fd < 0) {
		return -1;
	}
	if (ftruncate(fd, (off_t)size) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
test_uring_params(void)
{
	struct uring_bdev_opts o = {.name = "U", .filename = "/nonexistent/x.img"};
	struct ftgt_bdev *b;
	char err[256];
	int fd;

	CU_ASSERT(bdev_uring_create(&b, &o, err, sizeof(err)) == -ENOENT);
	CU_ASSERT(strstr(err, "does not exist") != NULL);
	CU_ASSERT(ftgt_bdev_get_by_name("U") == NULL);
	o.filename = "/dev/null";
	CU_ASSERT(bdev_uring_create(&b, &o, err, sizeof(err)) == -EINVAL);
	fd = make_file(100);
	CU_ASSERT_FATAL(fd >= 0);
	o.filename = g_path;
	CU_ASSERT(bdev_uring_create(&b, &o, err, sizeof(err)) == -EINVAL); /* < 1 block */
	CU_ASSERT(ftruncate(fd, 1 << 20) == 0);
	o.block_size = 1000;
	CU_ASSERT(bdev_uring_create(&b, &o, err, sizeof(err)) == -EINVAL);
	o.block_size = 4096;
	CU_ASSERT_FATAL(bdev_uring_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(ftgt_bdev_get_num_blocks(b) == 256 && ftgt_bdev_get_block_size(b) == 4096);
	/* The same file twice, or the same name, is refused. */
	o.name = "U2";
	CU_ASSERT(bdev_uring_create(&b, &o, err, sizeof(err)) == -EEXIST);
	close(fd);
}

static void
test_uring_io_truncate_rescan(void)
{
	struct ftgt_bdev_desc *d;
	struct ftgt_io_channel *ch;
	struct ut_cpl c = {0};
	uint8_t *wbuf = NULL, *rbuf = NULL;
	struct ftgt_bdev *b = ftgt_bdev_get_by_name("U");
	char err[256];
	int fd, i, bad = 0;

	CU_ASSERT_FATAL(b != NULL);
	CU_ASSERT_FATAL(posix_memalign((void **)&wbuf, 4096, 3 * 4096) == 0);
	CU_ASSERT_FATAL(posix_memalign((void **)&rbuf, 4096, 3 * 4096) == 0);
	CU_ASSERT_FATAL(ftgt_bdev_open_ext("U", true, ev_cb, NULL, &d) == 0);
	ch = ftgt_bdev_get_io_channel(d);
	CU_ASSERT_FATAL(ch != NULL);
	for (i = 0; i < 3 * 4096; i++) {
		wbuf[i] = (uint8_t)(i * 7 + 1);
	}
	CU_ASSERT(ftgt_bdev_write_blocks(d, ch, wbuf, 10, 3, ut_io_done, &c) == 0);
	ut_wait(&c.count, 1);
	CU_ASSERT(c.count == 1 && c.success);
	CU_ASSERT(ftgt_bdev_flush_blocks(d, ch, 0, 256, ut_io_done, &c) == 0);
	ut_wait(&c.count, 2);
	CU_ASSERT(c.count == 2 && c.success);
	memset(rbuf, 0, 3 * 4096);
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, rbuf, 10, 3, ut_io_done, &c) == 0);
	ut_wait(&c.count, 3);
	CU_ASSERT(c.count == 3 && c.success);
	CU_ASSERT(memcmp(wbuf, rbuf, 3 * 4096) == 0);
	/* Unmap: reads return zeroes afterwards. */
	if (ftgt_bdev_io_type_supported(b, FTGT_BDEV_IO_TYPE_UNMAP)) {
		CU_ASSERT(ftgt_bdev_unmap_blocks(d, ch, 11, 1, ut_io_done, &c) == 0);
		ut_wait(&c.count, 4);
		CU_ASSERT(c.count == 4 && c.success);
		CU_ASSERT(ftgt_bdev_read_blocks(d, ch, rbuf, 10, 3, ut_io_done, &c) == 0);
		ut_wait(&c.count, 5);
		for (i = 4096; i < 2 * 4096; i++) {
			bad += rbuf[i] != 0;
		}
		CU_ASSERT(bad == 0);
		CU_ASSERT(memcmp(rbuf, wbuf, 4096) == 0);
		c.count = 5;
	}

	/* Truncated under us: reads past the new end fail, never succeed. */
	fd = open(g_path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(ftruncate(fd, 8 * 4096) == 0);
	c.failed = 0;
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, rbuf, 7, 3, ut_io_done, &c) == 0);
	ut_wait(&c.count, 6);
	CU_ASSERT(c.count == 6 && !c.success && c.failed == 1);
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, rbuf, 100, 1, ut_io_done, &c) == 0);
	ut_wait(&c.count, 7);
	CU_ASSERT(c.count == 7 && !c.success && c.failed == 2);
	/* Shrinking is refused while open; the bdev keeps working below the end. */
	CU_ASSERT(bdev_uring_rescan("U", err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "delete") != NULL);
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, rbuf, 0, 1, ut_io_done, &c) == 0);
	ut_wait(&c.count, 8);
	CU_ASSERT(c.count == 8 && c.success);
	/* Grown: rescan resizes and tells the descriptor. */
	CU_ASSERT(ftruncate(fd, 2 << 20) == 0);
	g_resized = 0;
	CU_ASSERT(bdev_uring_rescan("U", err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_resized == 1 && ftgt_bdev_get_num_blocks(b) == 512);
	CU_ASSERT(bdev_uring_rescan("nope", err, sizeof(err)) == -ENODEV);
	close(fd);

	/* Hot remove on request, while open and with I/O in flight: the holder is told,
	 * the I/O completes, and the bdev goes once the holder closed. */
	g_removed = 0;
	g_ut_del_rc = 1;
	CU_ASSERT(ftgt_bdev_read_blocks(d, ch, rbuf, 0, 1, ut_io_done, &c) == 0);
	CU_ASSERT(bdev_uring_delete("U", false, ut_del_cb, NULL, err, sizeof(err)) == 0);
	ut_wait(&c.count, 9);
	ut_wait(&g_removed, 1);
	CU_ASSERT(c.count == 9 && g_removed == 1);
	CU_ASSERT(g_ut_del_rc == 1);
	ftgt_put_io_channel(ch);
	ftgt_bdev_close(d);
	ut_poll();
	CU_ASSERT(g_ut_del_rc == 0 && ftgt_bdev_get_by_name("U") == NULL);
	unlink(g_path);
	free(wbuf);
	free(rbuf);
}

static void
test_uring_claimed_delete(void)
{
	struct uring_bdev_opts o = {.name = "UC", .block_size = 512};
	struct ftgt_bdev *b;
	char err[256];
	int fd;

	fd = make_file(1 << 20);
	CU_ASSERT_FATAL(fd >= 0);
	o.filename = g_path;
	CU_ASSERT_FATAL(bdev_uring_create(&b, &o, err, sizeof(err)) == 0);
	CU_ASSERT(bdev_uring_delete("nope", false, ut_del_cb, NULL, err, sizeof(err)) == -ENODEV);
	ut_malloc("NotU", 8, 512);
	CU_ASSERT(bdev_uring_delete("NotU", false, ut_del_cb, NULL, err, sizeof(err)) == -EINVAL);
	ut_malloc_delete("NotU");
	CU_ASSERT_FATAL(bdev_split_create("UC", 2, 0, NULL, err, sizeof(err)) == 0);
	CU_ASSERT(bdev_uring_delete("UC", false, ut_del_cb, NULL, err, sizeof(err)) == -EBUSY);
	CU_ASSERT(strstr(err, "split") != NULL);
	/* force: the stack on top goes with it. */
	g_ut_del_rc = 1;
	CU_ASSERT(bdev_uring_delete("UC", true, ut_del_cb, NULL, err, sizeof(err)) == 0);
	ut_poll();
	CU_ASSERT(g_ut_del_rc == 0);
	CU_ASSERT(ftgt_bdev_get_by_name("UC") == NULL && ftgt_bdev_get_by_name("UCp0") == NULL &&
	          ftgt_bdev_get_by_name("UCp1") == NULL);
	close(fd);
	unlink(g_path);
}

static void
add_tests(CU_pSuite s)
{
	CU_add_test(s, "uring_params", test_uring_params);
	CU_add_test(s, "uring_io_truncate_rescan", test_uring_io_truncate_rescan);
	CU_add_test(s, "uring_claimed_delete", test_uring_claimed_delete);
}

int
main(void)
{
	return ut_bdev_run("bdev_uring", add_tests, NULL);
}
