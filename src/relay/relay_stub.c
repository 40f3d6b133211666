/* placeholder so the library builds before its sources land */
#include "relay/wire.h"
int pn_relay_wire_version(void);
int pn_relay_wire_version(void) { return 1; }
