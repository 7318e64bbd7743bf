/* wsv/hs_client.h - placeholder, being written. */
#ifndef WSV_HS_CLIENT_H
#define WSV_HS_CLIENT_H
#include "wsv/common.h"
#include "wsv/error.h"
#endif
