/* core/file.h: bounded whole-file reads, atomic writes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/file.h"
#include "core/secret.h"

struct dir {
	char path[64];
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/pn_test_file.XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	DIR *dh = opendir(d->path);
	struct dirent *e;
	char p[PATH_MAX];

	while (dh && (e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", d->path, e->d_name);
		unlink(p);
	}
	if (dh)
		closedir(dh);
	rmdir(d->path);
	free(d);
	return 0;
}

/* Names in the directory (the temporary files must never be left over). */
static int entries(const char *dir)
{
	DIR *dh = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(dh);
	while ((e = readdir(dh)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(dh);
	return n;
}

static void test_read_write(void **state)
{
	struct dir *d = *state;
	char *buf;
	size_t len;
	struct stat st;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/a", d->path);
	assert_int_equal(pn_file_write_at(d->path, "a", "hello", 5, 0640, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(pn_file_read(path, 5, &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	pn_wipe_free(buf, len);
	/* Replaced atomically: a new inode, the whole new content. */
	assert_int_equal(pn_file_write(path, "bye", 3, 0600, 0), 0);
	assert_int_equal(pn_file_read_at(d->path, "a", 16, &buf, NULL), 0);
	assert_string_equal(buf, "bye");
	pn_wipe_free_str(buf);
	/* Empty file: an empty string. */
	assert_int_equal(pn_file_write_at(d->path, "empty", "", 0, 0600, 0), 0);
	assert_int_equal(pn_file_read_at(d->path, "empty", 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	assert_int_equal(entries(d->path), 2);
}

static void test_read_limits(void **state)
{
	struct dir *d = *state;
	char *buf = (char *)1;
	size_t len = 99;
	char path[PATH_MAX];

	assert_int_equal(pn_file_write_at(d->path, "b", "123456", 6, 0600, 0), 0);
	/* One byte over the cap is refused, and nothing is returned. */
	assert_int_equal(pn_file_read_at(d->path, "b", 5, &buf, &len), PN_E_TOOBIG);
	assert_null(buf);
	assert_int_equal(len, 0);
	assert_int_equal(pn_file_read_at(d->path, "b", 6, &buf, &len), 0);
	assert_int_equal(len, 6);
	free(buf);
	assert_int_equal(pn_file_read_at(d->path, "missing", 6, &buf, &len), -ENOENT);
	assert_null(buf);
	assert_int_equal(pn_file_read(d->path, 6, &buf, &len), -EISDIR);
	/* A file whose size is not known in advance (a device here) is read
	 * up to the cap and refused past it. */
	assert_int_equal(pn_file_read("/dev/zero", 4096, &buf, &len), PN_E_TOOBIG);
	assert_null(buf);
	assert_int_equal(pn_file_read("/dev/null", 4096, &buf, &len), 0);
	assert_int_equal(len, 0);
	free(buf);
	/* /proc files report size 0 but have content. */
	assert_int_equal(pn_file_read("/proc/self/status", 1 << 20, &buf, &len), 0);
	assert_true(len > 16);
	assert_int_equal(strlen(buf), len);
	free(buf);
	/* A joined path that does not fit. */
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(pn_file_read_at(d->path, path, 6, &buf, &len), PN_E_TOOBIG);
	assert_int_equal(pn_file_write_at(d->path, path, "x", 1, 0600, 0), PN_E_TOOBIG);
}

static void test_noclobber(void **state)
{
	struct dir *d = *state;
	char *buf;

	assert_int_equal(pn_file_write_at(d->path, "c", "first", 5, 0600, PN_FILE_NOCLOBBER), 0);
	assert_int_equal(pn_file_write_at(d->path, "c", "second", 6, 0600, PN_FILE_NOCLOBBER),
			 -EEXIST);
	assert_int_equal(pn_file_read_at(d->path, "c", 64, &buf, NULL), 0);
	assert_string_equal(buf, "first");
	free(buf);
	/* Neither success nor refusal leaves the temporary file behind. */
	assert_int_equal(entries(d->path), 1);
}

static void test_write_fails_clean(void **state)
{
	struct dir *d = *state;
	char path[PATH_MAX];

	/* Replacing a directory fails; nothing is left behind. */
	snprintf(path, sizeof(path), "%s/sub", d->path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(pn_file_write(path, "x", 1, 0600, 0), -EISDIR);
	assert_int_equal(entries(d->path), 1);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/nodir/x", d->path);
	assert_int_equal(pn_file_write(path, "x", 1, 0600, 0), -ENOENT);
}

static void test_remove_dir(void **state)
{
	struct dir *d = *state;
	static const char *const names[] = {"a", "b", "missing", NULL};
	struct stat st;

	assert_int_equal(pn_file_write_at(d->path, "a", "1", 1, 0600, 0), 0);
	assert_int_equal(pn_file_write_at(d->path, "b", "2", 1, 0600, 0), 0);
	pn_file_remove_dir(d->path, names);
	assert_int_equal(stat(d->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	/* A file not in the list keeps the directory. */
	assert_int_equal(mkdir(d->path, 0700), 0);
	assert_int_equal(pn_file_write_at(d->path, "keep", "3", 1, 0600, 0), 0);
	pn_file_remove_dir(d->path, names);
	assert_int_equal(entries(d->path), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_read_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_noclobber, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_fails_clean, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
