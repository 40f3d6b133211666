#ifndef PN_CORE_FILE_H
#define PN_CORE_FILE_H
/* Whole small local files (keys, certificates, state, configuration): read
 * with a size cap, write atomically.  Blocking I/O. */
#include <stddef.h>

/* Read all of path, at most max bytes, into a NUL-terminated heap buffer
 * (*outlen, if not NULL, excludes the NUL).  A regular file larger than max
 * is refused from its size before anything is allocated; a pipe or device
 * is read until end of file or one byte past max.  Returns 0, -errno
 * (-EISDIR for a directory) or PN_E_TOOBIG; *out is NULL on failure.  What
 * was read and not returned is wiped.  Free with pn_wipe_free(buf, *outlen)
 * or pn_wipe_free_str (core/secret.h) when it may be secret, else free(). */
int pn_file_read(const char *path, size_t max, char **out, size_t *outlen);
/* Read fd to its end (a pipe, a socket, an open file): at most max bytes
 * (PN_E_TOOBIG past that), NUL-terminated, starting with a buffer of cap
 * bytes; wiped when freed on failure.  The caller closes fd. */
int pn_fd_read_all(int fd, size_t cap, size_t max, char **out, size_t *outlen);
/* The same for dir/name (PN_E_TOOBIG when the joined path does not fit). */
int pn_file_read_at(const char *dir, const char *name, size_t max, char **out, size_t *outlen);

/* Flags of pn_file_write. */
#define PN_FILE_NOCLOBBER 1u /* never replace: -EEXIST if path exists */

/* Write len bytes to path with permission bits mode, atomically: a
 * temporary file in the same directory (created 0600, then chmod mode),
 * fsync, rename over path (link(2) with PN_FILE_NOCLOBBER, so creation is
 * atomic and an existing file is never replaced), fsync of the directory.
 * Readers see the old file or the whole new one, never a part.  0 or -errno;
 * the temporary file never outlives a failure. */
int pn_file_write(const char *path, const void *data, size_t len, unsigned mode, unsigned flags);
/* The same for dir/name. */
int pn_file_write_at(const char *dir, const char *name, const void *data, size_t len, unsigned mode,
		     unsigned flags);

/* Remove dir/name for each name of the NULL-terminated list, then dir if
 * it is empty: undoing a half-made data directory.  Best effort. */
void pn_file_remove_dir(const char *dir, const char *const *names);
#endif
