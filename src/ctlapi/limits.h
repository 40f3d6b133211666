#ifndef PN_CTLAPI_LIMITS_H
#define PN_CTLAPI_LIMITS_H
/*
 * Limits of the controller's HTTPS API, in one place: the controller
 * enforces them (controller/http.c, controller/enroll.c) and components size
 * their requests to them (connector/report.c), so the two cannot drift.
 * Header only: the controller does not link ctlapi.
 */

/* Request bodies above this many bytes are refused with 413. */
#define PN_CTLAPI_BODY_MAX	(64 * 1024)
#define PN_CTLAPI_BODY_MAX_TEXT "65536" /* the same, for messages */

/* POST /v1/ctl/flows: events per request, and the longest string field
 * of one event in bytes (longer fields are refused with 400). */
#define PN_CTLAPI_FLOW_BATCH_MAX  256
#define PN_CTLAPI_FLOW_USER_MAX	  128
#define PN_CTLAPI_FLOW_DEST_MAX	  300
#define PN_CTLAPI_FLOW_REASON_MAX 128
#endif
