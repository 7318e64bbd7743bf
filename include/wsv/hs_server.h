/* wsv/hs_server.h - placeholder, being written. */
#ifndef WSV_HS_SERVER_H
#define WSV_HS_SERVER_H
#include "wsv/common.h"
#include "wsv/error.h"
#endif
