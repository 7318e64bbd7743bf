/*
 * fuzz/utf8.c - libFuzzer target for the incremental UTF-8 validator.
 *
 * Input layout: the first two bytes choose a split point, the rest is the
 * text.  The validator's verdict, first-bad offset and completeness are
 * compared with a reference decoder (tests/support/utf8_ref.h), both one-shot
 * and with the text fed in two chunks.  Any disagreement aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "wsv/utf8.h"
#include "wsv/error.h"
#include "support/utf8_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct wsv_utf8 v;
  struct ref_result want;
  const uint8_t *p;
  size_t len, split, bad = (size_t)-1;
  int rc1, rc2;

  if (size < 2)
    return 0;
  p = data + 2;
  len = size - 2;
  split = ((size_t)data[0] | ((size_t)data[1] << 8)) % (len + 1);
  want = ref_check(p, len);

  /* One-shot. */
  if ((wsv_utf8_valid(p, len) == WSV_OK) != (want.ok && want.complete))
    abort();
  wsv_utf8_init(&v);
  rc1 = wsv_utf8_feed(&v, p, len, &bad);
  if (want.ok) {
    if (rc1 != WSV_OK || bad != (size_t)-1 ||
        (wsv_utf8_is_complete(&v) != 0) != want.complete)
      abort();
  } else if (rc1 != WSV_ERR_UTF8 || bad != want.bad ||
             wsv_utf8_is_complete(&v)) {
    abort();
  }

  /* Two chunks: the error must come with the chunk that holds the first
   * bad byte, at the same absolute offset. */
  wsv_utf8_init(&v);
  bad = (size_t)-1;
  rc1 = wsv_utf8_feed(&v, p, split, &bad);
  if (!want.ok && want.bad < split) {
    if (rc1 != WSV_ERR_UTF8 || bad != want.bad)
      abort();
    if (wsv_utf8_feed(&v, p + split, len - split, &bad) != WSV_ERR_UTF8 ||
        bad != 0)
      abort();
    return 0;
  }
  if (rc1 != WSV_OK)
    abort();
  rc2 = wsv_utf8_feed(&v, p + split, len - split, &bad);
  if (want.ok) {
    if (rc2 != WSV_OK || (wsv_utf8_is_complete(&v) != 0) != want.complete)
      abort();
  } else if (rc2 != WSV_ERR_UTF8 || bad != want.bad - split ||
             wsv_utf8_is_complete(&v)) {
    abort();
  }
  return 0;
}
