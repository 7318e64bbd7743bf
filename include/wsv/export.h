/* wsv/export.h - symbol visibility for the public API, and the one spelling
 * of the printf-format attribute.  The library is built with
 * -fvisibility=hidden; only functions marked WSV_EXTERN are exported. */
#ifndef WSV_EXPORT_H
#define WSV_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define WSV_EXTERN __attribute__((visibility("default")))
#else
#define WSV_EXTERN
#endif

/* WSV_PRINTF(fmt_index, first_arg) - the function takes a printf format as
 * argument number fmt_index (counting from 1) and its arguments from
 * first_arg on (0 for a va_list), so that the compiler checks the calls
 * (-Wformat).  Put it after the declarator:
 *   void log_line(int level, const char *fmt, ...) WSV_PRINTF(2, 3);
 * Expands to nothing on compilers other than GCC and Clang. */
#if defined(__GNUC__) || defined(__clang__)
#define WSV_PRINTF(fmt_index, first_arg)                                       \
  __attribute__((format(printf, fmt_index, first_arg)))
#else
#define WSV_PRINTF(fmt_index, first_arg)
#endif

#endif /* WSV_EXPORT_H */
