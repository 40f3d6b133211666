/* Host DNS integration (resolv.conf); see dns_host.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/stat.h>
#include <unistd.h>

#include "client/dns_host.h"
#include "core/err.h"
#include "core/log.h"

/* The backup: "F\n" + exact bytes of a regular file, "L\n" + symlink
 * target, or "N\n" when there was no file at all. */

static int read_all(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	size_t cap = 4096, n = 0;
	char *b = NULL;

	*out = NULL;
	if (fd < 0)
		return -errno;
	if (!(b = malloc(cap + 1))) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t k;
		if (n == cap) {
			char *nb;
			if (cap >= PN_DNSHOST_MAX) {
				r = PN_E_TOOBIG;
				goto out;
			}
			if (!(nb = realloc(b, cap * 2 + 1))) {
				r = -ENOMEM;
				goto out;
			}
			b = nb;
			cap *= 2;
		}
		k = read(fd, b + n, cap - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	b[n] = '\0';
	*out = b;
	*len = n;
	b = NULL;
out:
	free(b);
	close(fd);
	return r;
}

static int write_fd_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Replace path's content: new file + rename; in place if path is a mount
 * point (EBUSY) or the directory is not writable for a rename (EXDEV). */
static int replace_file(const char *path, const char *p, size_t n, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, r;

	if (snprintf(tmp, sizeof(tmp), "%s.postern-new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	{
		/* A mount point (a file bind-mounted over resolv.conf, as in
		 * containers and `ip netns exec`): rename cannot replace it, and
		 * its directory is not ours to write in; rewrite in place. */
		struct statx sx;
		if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
		    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
		    (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
			goto in_place;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd >= 0) {
		if ((r = write_fd_all(fd, p, n)) == 0 && fsync(fd) != 0)
			r = -errno;
		close(fd);
		if (r == 0 && rename(tmp, path) == 0)
			return 0;
		r = -errno;
		unlink(tmp);
		if (r != -EBUSY && r != -EXDEV)
			return r;
	}
in_place:
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = write_fd_all(fd, p, n)) == 0 && fsync(fd) != 0)
		r = -errno;
	close(fd);
	return r;
}

static int backup_path(const char *state_dir, char *out, size_t outsz)
{
	if (snprintf(out, outsz, "%s/%s", state_dir, PN_DNSHOST_BACKUP) >= (int)outsz)
		return -ENAMETOOLONG;
	return 0;
}

int pn_dnshost_parse(const char *text, const struct sockaddr_storage *skip,
		     struct sockaddr_storage *out, unsigned max, unsigned *n)
{
	const char *line = text;

	*n = 0;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[128], addr[80];
		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			if (sscanf(buf, " nameserver %79s", addr) == 1 && *n < max) {
				struct sockaddr_storage ss;
				char *pct = strchr(addr, '%'); /* fe80::1%eth0: zone not kept */
				memset(&ss, 0, sizeof(ss));
				if (pct)
					*pct = '\0';
				if (inet_pton(AF_INET, addr,
					      &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
					ss.ss_family = AF_INET;
					((struct sockaddr_in *)&ss)->sin_port = htons(53);
				} else if (inet_pton(AF_INET6, addr,
						     &((struct sockaddr_in6 *)&ss)->sin6_addr) ==
					   1) {
					ss.ss_family = AF_INET6;
					((struct sockaddr_in6 *)&ss)->sin6_port = htons(53);
				}
				if (ss.ss_family &&
				    !(skip && skip->ss_family == ss.ss_family &&
				      (ss.ss_family == AF_INET
					   ? memcmp(&((struct sockaddr_in *)skip)->sin_addr,
						    &((struct sockaddr_in *)&ss)->sin_addr, 4) == 0
					   : memcmp(&((struct sockaddr_in6 *)skip)->sin6_addr,
						    &((struct sockaddr_in6 *)&ss)->sin6_addr,
						    16) == 0)))
					out[(*n)++] = ss;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int pn_dnshost_restore(const char *state_dir, const char *resolv)
{
	char bpath[PATH_MAX], *b = NULL, *cur = NULL;
	size_t blen = 0, clen = 0;
	int r;

	if ((r = backup_path(state_dir, bpath, sizeof(bpath))) != 0)
		return r;
	if ((r = read_all(bpath, &b, &blen)) != 0)
		return r == -ENOENT ? 0 : r;
	if (blen < 2 || b[1] != '\n' || (b[0] != 'F' && b[0] != 'L' && b[0] != 'N')) {
		PN_LOG_ERROR("client", "dns_backup_bad", "path=%s", bpath);
		r = PN_E_MALFORMED;
		goto out;
	}
	/* Only if the file is still ours. */
	if (read_all(resolv, &cur, &clen) != 0 ||
	    strncmp(cur, PN_DNSHOST_MARK, strlen(PN_DNSHOST_MARK)) != 0) {
		PN_LOG_WARN("client", "dns_restore_skipped",
			    "file=%s why=\"changed by someone else\"", resolv);
		r = 0;
	} else if (b[0] == 'F') {
		r = replace_file(resolv, b + 2, blen - 2, 0644);
	} else if (b[0] == 'L') {
		char tmp[PATH_MAX];
		snprintf(tmp, sizeof(tmp), "%s.postern-new", resolv);
		unlink(tmp);
		if (symlink(b + 2, tmp) != 0 || rename(tmp, resolv) != 0) {
			r = -errno;
			unlink(tmp);
		}
	} else {
		r = unlink(resolv) == 0 ? 0 : -errno;
	}
	if (r == 0) {
		unlink(bpath);
		PN_LOG_INFO("client", "dns_restored", "file=%s", resolv);
	} else {
		PN_LOG_ERROR("client", "dns_restore_failed", "file=%s err=%s backup=%s", resolv,
			     pn_errname(r), bpath);
	}
out:
	free(b);
	free(cur);
	return r;
}

int pn_dnshost_recover(const char *state_dir, const char *resolv)
{
	char bpath[PATH_MAX];
	int r;

	if ((r = backup_path(state_dir, bpath, sizeof(bpath))) != 0)
		return r;
	if (access(bpath, F_OK) != 0)
		return 0;
	PN_LOG_WARN("client", "dns_recover", "why=\"previous run did not restore\" backup=%s",
		    bpath);
	return pn_dnshost_restore(state_dir, resolv);
}

int pn_dnshost_takeover(const char *state_dir, const char *resolv,
			const struct sockaddr_storage *listen, struct sockaddr_storage *ups,
			unsigned max, unsigned *nups)
{
	char bpath[PATH_MAX], link[PATH_MAX], ip[INET6_ADDRSTRLEN], *cur = NULL, *nw = NULL;
	size_t clen = 0, o = 0, cap;
	struct stat st;
	int r, fd;
	char kind = 'F';
	const char *line;

	*nups = 0;
	if ((r = backup_path(state_dir, bpath, sizeof(bpath))) != 0)
		return r;
	if (lstat(resolv, &st) != 0)
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		ssize_t k = readlink(resolv, link, sizeof(link) - 1);
		if (k < 0)
			return -errno;
		link[k] = '\0';
		kind = 'L';
	}
	if ((r = read_all(resolv, &cur, &clen)) != 0)
		return r;
	if (strncmp(cur, PN_DNSHOST_MARK, strlen(PN_DNSHOST_MARK)) == 0) {
		/* Ours without a backup: nothing to learn the upstreams from. */
		r = PN_E_CONFIG;
		goto out;
	}
	pn_dnshost_parse(cur, listen, ups, max, nups);
	if (*nups == 0) {
		r = PN_E_CONFIG;
		goto out;
	}
	/* 1. The backup, durable before anything changes. */
	fd = open(bpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = write_fd_all(fd, kind == 'L' ? "L\n" : "F\n", 2);
	if (r == 0)
		r = kind == 'L' ? write_fd_all(fd, link, strlen(link))
				: write_fd_all(fd, cur, clen);
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	close(fd);
	if (r != 0) {
		unlink(bpath);
		goto out;
	}
	/* 2. Ours: the marker, our responder, the original's search/options. */
	cap = clen + 256;
	if (!(nw = malloc(cap))) {
		r = -ENOMEM;
		unlink(bpath);
		goto out;
	}
	if (listen->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)listen)->sin6_addr, ip,
			  sizeof(ip));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)listen)->sin_addr, ip, sizeof(ip));
	o = (size_t)snprintf(nw, cap, "%s (original saved in %s)\nnameserver %s\n", PN_DNSHOST_MARK,
			     bpath, ip);
	if (o >= cap) {
		r = PN_E_TOOBIG;
		unlink(bpath);
		goto out;
	}
	for (line = cur; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if ((!strncmp(p, "search", 6) || !strncmp(p, "domain", 6) ||
		     !strncmp(p, "options", 7)) &&
		    o + len + 1 < cap) {
			memcpy(nw + o, line, len);
			o += len;
			if (!nl)
				nw[o++] = '\n';
		}
		line = nl ? nl + 1 : NULL;
	}
	/* A symlink is replaced by the rename itself (never written through). */
	if ((r = replace_file(resolv, nw, o, 0644)) != 0) {
		PN_LOG_ERROR("client", "dns_takeover_failed", "file=%s err=%s", resolv,
			     pn_errname(r));
		unlink(bpath);
		goto out;
	}
	PN_LOG_INFO("client", "dns_takeover", "file=%s nameserver=%s upstreams=%u backup=%s",
		    resolv, ip, *nups, bpath);
out:
	free(cur);
	free(nw);
	return r;
}
