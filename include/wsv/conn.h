/* wsv/conn.h - placeholder, being written. */
#ifndef WSV_CONN_H
#define WSV_CONN_H
#include "wsv/common.h"
#include "wsv/error.h"
#endif
