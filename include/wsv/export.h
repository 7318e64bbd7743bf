/* wsv/export.h - symbol visibility for the public API.  The library is built
 * with -fvisibility=hidden; only functions marked WSV_EXTERN are exported. */
#ifndef WSV_EXPORT_H
#define WSV_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define WSV_EXTERN __attribute__((visibility("default")))
#else
#define WSV_EXTERN
#endif

#endif /* WSV_EXPORT_H */
