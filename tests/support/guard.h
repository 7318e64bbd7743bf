/* guard.h - test helpers: place bytes right before a PROT_NONE page so any
 * read past the end faults even without ASan (as picohttpparser's test.c),
 * and feed a buffer in every split. */
#ifndef WSV_TEST_GUARD_H
#define WSV_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>

/* Copy p[0..len) so that the copy ends exactly at an inaccessible page.
 * The copy is writable.  Free with guard_free(). */
uint8_t *guard_copy(const void *p, size_t len);
void guard_free(uint8_t *copy, size_t len);

#endif
