/* bridge.h - WebSocket <-> byte-stream bridges (websockify's job): each
 * WebSocket carried over its own TCP or Unix connection, bytes both ways,
 * back-pressure both ways, either side's end ending the other.  bridge.c
 * is the pump between one struct wsv_ws and one socket, used by
 * `wsv serve --to` (serve.c: the server connects to the target for every
 * WebSocket) and by `wsv connect --listen` (bridge_listen.c: every
 * accepted TCP connection gets a WebSocket client of its own). */
#ifndef WSV_BRIDGE_H
#define WSV_BRIDGE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct wsv_ws;
struct wsv_loop;
struct bridge;

/* Where a bridge connects (`--to`) or listens (`--listen`): a TCP address
 * or a Unix socket path, resolved once. */
struct bridge_target {
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int family;      /* AF_INET, AF_INET6 or AF_UNIX */
  char text[128];  /* as shown in logs and Close reasons: "127.0.0.1:5900",
                      "[::1]:22", "unix:/run/x.sock" (cut to fit) */
};

/* bridge_target_parse - parse "tcp://HOST:PORT", "HOST:PORT" (websockify's
 * form) or "unix:PATH" into *t; HOST is an IPv4 address, an IPv6 address
 * in brackets or a name (resolved here with getaddrinfo: the first
 * address; this may block).  Port 0 only when `listening` (a free one).
 * Returns 0, or -1 with a one-line reason in err[0..cap). */
int bridge_target_parse(const char *spec, int listening,
                        struct bridge_target *t, char *err, size_t cap);

/* What the bridges of one server (or one listener) share: read-only once
 * running, except for the registry of live bridges (under `mu`), which
 * bridge_sweep empties once no loop runs any more. */
struct bridge_set {
  const struct bridge_target *target; /* serve --to; NULL for --listen */
  const char *peer;                   /* "target" or "client": for texts */
  int quiet;                          /* no line per failed connection */
  int verbose;                        /* also a line per connect */
  int mu_ready;
  pthread_mutex_t mu;
  struct bridge *all;
};

/* bridge_set_init - set up s (zeroed by the caller).  0, or -1. */
int bridge_set_init(struct bridge_set *s, const struct bridge_target *target,
                    const char *peer, int quiet, int verbose);

/* bridge_sweep - once every loop has stopped: close and free every bridge
 * still alive (those lingering after their WebSocket closed). */
void bridge_sweep(struct bridge_set *s);

/* bridge_set_free - release what bridge_set_init set up (after sweep). */
void bridge_set_free(struct bridge_set *s);

/* ---- serve --to: a WebSocket that is open, a target to connect to ------- */

/* bridge_connect - the server's WebSocket `ws` (number `id` in the log)
 * just opened: start connecting to s->target on ws's loop, without
 * blocking.  The subprotocol agreed ("base64", else raw bytes) decides the
 * framing.  Returns 0, or -1 after closing ws with 1011 and a reason
 * (the socket could not be made); either way *out is set, NULL only when
 * memory ran out, and the connection's end must bridge_detach it. */
int bridge_connect(struct bridge_set *s, struct wsv_ws *ws, unsigned long id,
                   struct bridge **out);

/* ---- connect --listen: a connected socket, a WebSocket to come ---------- */

/* bridge_adopt - an accepted socket `fd` (non-blocking; the bridge owns
 * it from now on, also on failure) on `loop`, whose WebSocket client
 * `ws` is being made (not open yet; its callbacks call bridge_opened,
 * bridge_input, bridge_drain and bridge_detach).  The socket is not read
 * until the WebSocket opens.  Returns 0 and sets *out, or -1 (out of
 * memory: fd closed). */
int bridge_adopt(struct bridge_set *s, struct wsv_loop *loop, int fd,
                 unsigned long id, struct bridge **out);
/* bridge_set_ws - the WebSocket of an adopted bridge (before it opens). */
void bridge_set_ws(struct bridge *b, struct wsv_ws *ws);
/* bridge_opened - the WebSocket opened: start reading the socket. */
void bridge_opened(struct bridge *b);

/* ---- both: the WebSocket's events ---------------------------------------- */

/* bridge_input - a message from the WebSocket: its bytes (decoded, with
 * subprotocol base64) for the socket.  A text message in raw mode, or a
 * binary one in base64 mode, closes the WebSocket with 1003 (as
 * websockify does); bad base64 with 1007. */
void bridge_input(struct bridge *b, int opcode, const void *data, size_t len);

/* bridge_drain - the WebSocket's send buffer has room again: read the
 * socket again. */
void bridge_drain(struct bridge *b);

/* bridge_detach - the WebSocket is gone (its close callback; for
 * --listen also its fail callback): write what is still queued for the
 * socket, then shut it down (FIN) and close it once the peer closes too
 * or a few seconds passed; a socket that failed is closed at once.  b is
 * freed later by the bridge itself. */
void bridge_detach(struct bridge *b);

/* ---- bridge_listen.c ------------------------------------------------------ */

/* bridge_listen_main - `wsv connect --listen ADDR URL` (argv[0] is
 * "connect"; connect.c dispatches here when --listen is given).  Returns
 * the exit status. */
int bridge_listen_main(int argc, char **argv);

#endif
