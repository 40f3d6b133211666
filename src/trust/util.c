/* Small helpers shared by the trust sources: files, DER/PEM, hex. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "core/err.h"
#include "core/secret.h"
#include "trust/util.h"

int pn_trust_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd, r;
	struct stat st;
	char *buf = NULL;
	size_t got = 0;

	*out = NULL;
	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	/* A key or certificate file has a small, known size: refuse anything
	 * larger before allocating. */
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		r = S_ISREG(st.st_mode) ? PN_E_TOOBIG : -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
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
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	buf = NULL; /* transferred */
	r = 0;
out:
	if (buf) {
		pn_wipe(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return r;
}

int pn_trust_write_file(const char *path, const void *data, size_t len, unsigned mode,
			int noclobber)
{
	char tmp[PATH_MAX];
	int fd = -1, r;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp); /* O_EXCL, mode 0600 */
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto out;
	}
	fd = -1;
	if (noclobber) {
		/* link(2) fails with EEXIST instead of replacing: atomic
		 * create-if-absent for files that must never be overwritten. */
		r = link(tmp, path) < 0 ? -errno : 0;
		unlink(tmp);
		return r;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto out;
	}
	return 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int pn_trust_spki_fpr(gnutls_pubkey_t pub, uint8_t out[PN_FPR_LEN])
{
	gnutls_datum_t der = {NULL, 0};
	int r = PN_E_CRYPTO;

	if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der) < 0)
		return PN_E_CRYPTO;
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out) < 0)
		goto out;
	r = 0;
out:
	gnutls_free(der.data);
	return r;
}

int pn_trust_datum_to_str(gnutls_datum_t *d, char **out, size_t *outlen)
{
	char *s = malloc((size_t)d->size + 1);

	if (s) {
		memcpy(s, d->data, d->size);
		s[d->size] = '\0';
		*out = s;
		if (outlen)
			*outlen = d->size;
	}
	pn_wipe(d->data, d->size);
	gnutls_free(d->data);
	d->data = NULL;
	d->size = 0;
	return s ? 0 : -ENOMEM;
}

int pn_trust_random_serial(uint8_t out[16])
{
	int r = pn_random(out, 16);

	if (r < 0)
		return r;
	out[0] &= 0x7f; /* positive INTEGER */
	if (out[0] == 0)
		out[0] = 0x01; /* keep 16 significant bytes: no leading-zero DER trim */
	return 0;
}

int pn_trust_is_pem(const void *p, size_t len)
{
	const unsigned char *c = p;

	/* DER certificates start with a SEQUENCE tag (0x30); PEM with text.
	 * Decide on the first non-space byte only: a DER certificate may
	 * legitimately contain "-----BEGIN" inside a display name. */
	while (len > 0 && (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')) {
		c++;
		len--;
	}
	return len >= 10 && memcmp(c, "-----BEGIN", 10) == 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pn_trust_hex_parse(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (!hex[2 * i] || !hex[2 * i + 1])
			return PN_E_MALFORMED;
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return PN_E_MALFORMED;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * n] == '\0' ? 0 : PN_E_MALFORMED;
}
