#ifndef PN_CONTROLLER_OPENAPI_H
#define PN_CONTROLLER_OPENAPI_H
/* The OpenAPI document (src/controller/openapi.json), embedded at build
 * time (cmake/embed_text.cmake): NUL-terminated, pn_openapi_json_len bytes
 * before the NUL. */
#include <stddef.h>

extern const char pn_openapi_json[];
extern const size_t pn_openapi_json_len;
#endif
