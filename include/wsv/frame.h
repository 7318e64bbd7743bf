/* wsv/frame.h - placeholder, being written. */
#ifndef WSV_FRAME_H
#define WSV_FRAME_H
#include "wsv/common.h"
#include "wsv/error.h"
#endif
