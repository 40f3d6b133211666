/* Which halves of the client this build carries (see CMakeLists.txt). */
#include "client/run.h"

int pn_client_has_runtime(void)
{
	return PN_CLIENT_RUNTIME;
}
