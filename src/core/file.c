/* Whole small files: bounded read, atomic write. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/file.h"
#include "core/secret.h"

/* dir/name into path[PATH_MAX]: 0 or PN_E_TOOBIG. */
static int join(char path[PATH_MAX], const char *dir, const char *name)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", dir, name);

	return n < 0 || n >= PATH_MAX ? PN_E_TOOBIG : 0;
}

int pn_fd_read_all(int fd, size_t cap, size_t max, char **out, size_t *outlen)
{
	char *buf;
	size_t got = 0;
	int r;

	*out = NULL;
	if (outlen)
		*outlen = 0;
	if (max >= SIZE_MAX - 1)
		return -EINVAL;
	if (cap > max + 1)
		cap = max + 1;
	if (cap < 2)
		cap = 2; /* room to see that an "empty" (e.g. /proc) file is not */
	if (!(buf = malloc(cap + 1)))
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (got == cap) {
			/* It grew, or /proc reported 0: grow up to max + 1. */
			size_t ncap = cap > (max + 1) / 2 ? max + 1 : cap * 2;
			char *nb;

			if (cap >= max + 1) {
				r = PN_E_TOOBIG;
				goto out;
			}
			if (!(nb = malloc(ncap + 1))) {
				r = -ENOMEM;
				goto out;
			}
			memcpy(nb, buf, got);
			pn_wipe_free(buf, got);
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		r = PN_E_TOOBIG;
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	if (outlen)
		*outlen = got;
	buf = NULL; /* transferred */
	r = 0;
out:
	pn_wipe_free(buf, got);
	return r;
}

int pn_file_read(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	int fd, r;

	*out = NULL;
	if (outlen)
		*outlen = 0;
	if (max >= SIZE_MAX - 1)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	/* A regular file's size is known: refuse a large one before
	 * allocating.  Anything else is read up to one byte past max, which is
	 * enough to know it is too big. */
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
		r = PN_E_TOOBIG;
		goto out;
	}
	r = pn_fd_read_all(fd, S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : max + 1, max, out,
			   outlen);
out:
	close(fd);
	return r;
}

int pn_file_read_at(const char *dir, const char *name, size_t max, char **out, size_t *outlen)
{
	char path[PATH_MAX];
	int r;

	*out = NULL;
	if (outlen)
		*outlen = 0;
	if ((r = join(path, dir, name)))
		return r;
	return pn_file_read(path, max, out, outlen);
}

/* fsync the directory holding path, so that a rename or link survives a
 * crash.  Best effort: some file systems refuse fsync on a directory. */
static void sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int pn_file_write(const char *path, const void *data, size_t len, unsigned mode, unsigned flags)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, n, r = 0;
	size_t off = 0;

	/* A hidden name beside the target: same file system (rename is
	 * atomic), and never mistaken for the file itself. */
	if (slash)
		n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmpXXXXXX", (int)(slash - path), path,
			     slash + 1);
	else
		n = snprintf(tmp, sizeof(tmp), ".%s.tmpXXXXXX", path);
	if (n < 0 || n >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
	if (fd < 0)
		return -errno;
	if (fchmod(fd, (mode_t)mode) < 0)
		r = -errno;
	while (!r && off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			r = -errno;
		else
			off += (size_t)w;
	}
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r) {
		/* link(2) fails with EEXIST instead of replacing: atomic
		 * create-if-absent for files that must never be overwritten. */
		if (flags & PN_FILE_NOCLOBBER)
			r = link(tmp, path) < 0 ? -errno : 0;
		else
			r = rename(tmp, path) < 0 ? -errno : 0;
	}
	if (r || (flags & PN_FILE_NOCLOBBER))
		unlink(tmp);
	if (!r)
		sync_dir(path);
	return r;
}

void pn_file_remove_dir(const char *dir, const char *const *names)
{
	char path[PATH_MAX];

	for (size_t i = 0; names[i]; i++)
		if (join(path, dir, names[i]) == 0)
			unlink(path);
	rmdir(dir);
}

int pn_file_write_at(const char *dir, const char *name, const void *data, size_t len, unsigned mode,
		     unsigned flags)
{
	char path[PATH_MAX];
	int r;

	if ((r = join(path, dir, name)))
		return r;
	return pn_file_write(path, data, len, mode, flags);
}
