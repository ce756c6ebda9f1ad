/* resp_session.h — what each side of one Redis connection may send next, and which request
 * each reply answers. Independent of Wireshark.
 *
 * A connection is two state machines driven in capture order:
 *   server side: replies in order (with RESP3 pushes, pub/sub messages, MONITOR lines),
 *                then — on a replication link — keepalive newlines, the RDB snapshot
 *                (resp_rdb_t) and the master's stream of commands;
 *   client side: commands, answered or not as CLIENT REPLY and the server's rules say, or —
 *                from a replica after PSYNC/SYNC — REPLCONF ACKs that get no reply.
 * The caller parses messages (resp_parse.h), names commands (resp_commands.h), owns all
 * storage (requests are its own structs with a resp_req_t as their first member) and shows
 * the verdicts. Nothing here allocates.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef RESP_SESSION_H
#define RESP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "resp_parse.h"

typedef enum {
    RESP_MSG_REQUEST = 1, /* a client's command (or an empty request the server skips) */
    RESP_MSG_RESPONSE,    /* a reply, in order */
    RESP_MSG_PUSH,        /* RESP3 out-of-band data (invalidations, ...) */
    RESP_MSG_PUBSUB,      /* a published message delivered to a subscriber */
    RESP_MSG_MONITOR,     /* a line of the MONITOR stream */
    RESP_MSG_REPLICATION, /* a command the master streams to its replica */
} resp_msg_kind_t;

typedef enum {
    RESP_REQ_NORMAL,
    RESP_REQ_SUBSCRIBE,       /* one reply per channel argument */
    RESP_REQ_UNSUBSCRIBE_ALL, /* replies until one of another kind comes */
    RESP_REQ_GAP,             /* requests of unknown number were lost */
} resp_req_kind_t;

/* Effects a command has on the connection once it succeeds. */
#define RESP_EFF_MONITOR 0x01u /* its +OK starts the monitor stream */
#define RESP_EFF_RESET 0x02u   /* leaves monitor and subscribed modes, RESP2 */
#define RESP_EFF_EXEC 0x04u    /* runs the commands queued since MULTI */
#define RESP_EFF_DISCARD 0x08u
#define RESP_EFF_MULTI 0x10u
#define RESP_EFF_SYNC 0x20u    /* SYNC: answered by the RDB snapshot itself */
#define RESP_EFF_PSYNC 0x40u   /* answered +FULLRESYNC (then an RDB), +CONTINUE, or (Redis 8)
                                  +RDBCHANNELSYNC: the RDB comes on another connection */
#define RESP_EFF_GETACK 0x80u  /* REPLCONF GETACK from a master: the replica answers with an ACK */
#define RESP_EFF_HELLO 0x100u  /* HELLO: its reply names the server and its version */

typedef struct resp_req {
    struct resp_req *next;        /* queue of requests awaiting replies */
    struct resp_req *next_queued; /* mode-changing commands of the open transaction */
    uint32_t frame;               /* the caller's position of the request (frame number) */
    uint32_t replies_expected;    /* 0: the server sends nothing for it */
    uint32_t replies_seen;
    uint32_t first_reply_frame;   /* 0: none yet */
    uint32_t txn_index;           /* place in the transaction: its reply's index in EXEC's */
    uint8_t kind;                 /* resp_req_kind_t */
    uint8_t hello_version;        /* HELLO 2|3: the protocol its reply switches to */
    uint16_t effects;             /* RESP_EFF_* */
    const char *subscribe_kind;   /* "subscribe", "punsubscribe", ...: static strings */
    uint64_t psync_offset;        /* PSYNC <id> <offset>: the first byte a +CONTINUE resends */
    int have_psync_offset;
} resp_req_t;

/* A command as the caller parsed and named it. */
typedef struct {
    size_t argc;
    const uint8_t *const *argv;
    const size_t *arg_len;
    const char *cmd; /* canonical upper-case name (resp_command_name) or upper-cased unknown */
    const char *sub; /* canonical upper-case subcommand, or NULL */
} resp_cmd_t;

/* What the caller gathered of a server message. */
typedef struct {
    resp_type_t type;
    int64_t count;
    int is_null;
    const uint8_t *data; /* a simple string's or error's content */
    size_t data_len;
    const uint8_t *first_str; /* an aggregate's first element, when a string */
    size_t first_len;
    int have_third; /* an aggregate's third element is an integer (subscription count) */
    int64_t third_int;
    const uint32_t *error_children; /* indices of top-level elements that are errors, ascending */
    size_t n_error_children;
    const uint8_t *server_name; /* a HELLO reply's "server" and "version" values, if any */
    size_t server_name_len;
    const uint8_t *server_version;
    size_t server_version_len;
} resp_reply_t;

/* The RDB snapshot a master sends: "$<len>\r\n" + len bytes, or (diskless) "$EOF:<mark>\r\n"
 * + bytes + the same 40-byte mark. Fed as it arrives; nothing of it is kept but its header
 * and the last bytes that could start the mark. */
#define RESP_RDB_MARK_LEN 40
typedef struct {
    int eof_framing;
    uint64_t declared;  /* sized framing: payload bytes */
    uint64_t fed;       /* bytes fed so far (the EOF mark included) */
    uint8_t mark[RESP_RDB_MARK_LEN];
    uint8_t tail[RESP_RDB_MARK_LEN - 1]; /* EOF framing: last bytes fed */
    size_t tail_len;
    uint8_t head[9];    /* "REDIS0011", "VALKEY080" */
    size_t head_len;
    int done;
} resp_rdb_t;

typedef enum {
    RESP_SERVER_REPLIES,     /* replies, pushes, pub/sub messages, MONITOR lines */
    RESP_SERVER_RDB_WAIT,    /* keepalive newlines, then the RDB's "$" line */
    RESP_SERVER_RDB,         /* the snapshot's bytes */
    RESP_SERVER_REPL_STREAM, /* the master's command stream */
} resp_server_state_t;

typedef enum {
    RESP_CLIENT_COMMANDS, /* commands */
    RESP_CLIENT_REPLICA,  /* a replica after PSYNC/SYNC: ACKs and newlines, never answered */
    RESP_CLIENT_CLOSED,   /* after a protocol error: the server reads nothing more */
} resp_client_state_t;

typedef struct {
    resp_server_state_t server;
    resp_client_state_t client;
    resp_req_t *head, *tail;      /* awaiting replies, oldest first */
    resp_req_t *getack_head, *getack_tail; /* a master's GETACKs awaiting the replica's ACK */
    uint8_t version;              /* RESP version in force */
    int monitor, subscribed;
    /* client side, as the server will see it when it reads the next request */
    int in_multi;
    int reply_off;                /* CLIENT REPLY OFF */
    int skip_this, skip_next;     /* CLIENT REPLY SKIP: this request's reply, the next one's */
    /* transaction bookkeeping, by the replies */
    resp_req_t *queued, *queued_tail;
    uint32_t txn_queued;
    /* replication */
    resp_rdb_t rdb;
    int repl_offset_known;
    uint64_t repl_offset;         /* master offset at the end of the stream seen so far */
    int repl_id_known;
    char repl_id[41];
    /* a capture that starts inside the connection: what it is must be inferred */
    int midstream;
    int guessed_replica;          /* the link was taken for a replication link by inference */
    uint32_t requests_seen;
    /* what the server said it is (HELLO): Redis 8 no longer lets an empty request end a
     * CLIENT REPLY SKIP's reach; Redis 7 and Valkey do */
    int empty_keeps_skip;
} resp_session_t;

typedef struct {
    resp_msg_kind_t kind;
    resp_req_t *answers; /* the request a reply answers; for a replica's ACK, the GETACK */
    int unmatched;       /* a reply whose request is not in the capture */
    int have_lag;        /* a replica's ACK: bytes the master sent that it has not acknowledged */
    int64_t lag;
    int have_repl;       /* +FULLRESYNC / +CONTINUE: the replication id and offset */
    const uint8_t *repl_id;
    size_t repl_id_len;
    int have_repl_offset;
    uint64_t repl_offset;
    int have_rdb_channel;  /* +RDBCHANNELSYNC <id>: the snapshot comes on the connection whose
                              REPLCONF main-ch-client-id names this id */
    uint64_t rdb_channel_id;
} resp_verdict_t;

void resp_session_init(resp_session_t *s);

/* What the server side sends next. RDB_WAIT also while a SYNC or PSYNC awaits its answer
 * (keepalive newlines may come first). */
resp_server_state_t resp_session_server_state(const resp_session_t *s);

/* A capture that started inside the connection: the caller saw no handshake. */
void resp_session_set_midstream(resp_session_t *s);

/* Midstream, before the client said anything: a server message that is a command (the
 * caller checked: an array of bulk strings naming one) is a master's stream to its replica.
 * Returns 1 and enters that state when that is the likelier reading. */
int resp_session_master_stream_guess(resp_session_t *s);

/* A client's request. req is the caller's storage: filled, and queued when the server answers
 * it (req->replies_expected > 0). cmd NULL: an empty request ("*0", "*-10", an empty line),
 * which the server skips without a reply. A replica's ACK answering a GETACK gets it in
 * v->answers, its lag in v->lag. */
void resp_session_request(resp_session_t *s, resp_req_t *req, const resp_cmd_t *cmd,
                          uint32_t frame, resp_verdict_t *v);

/* Bytes the server will never read (it answers the protocol error and closes): a request
 * that is not RESP. Queued for its one error reply; the client side is closed after it. */
void resp_session_protocol_error(resp_session_t *s, resp_req_t *req, uint32_t frame);

/* A server message while resp_session_server_state() is REPLIES. */
void resp_session_reply(resp_session_t *s, const resp_reply_t *r, uint32_t frame,
                        resp_verdict_t *v);

/* Whether a command of a master's stream is REPLCONF GETACK, which the replica's next ACK
 * answers: only then does resp_session_master_command() need storage for it. */
int resp_master_command_awaits_ack(const resp_cmd_t *cmd);

/* A command of the master's stream (server state REPL_STREAM), msg_len bytes long. req
 * (may be NULL for other commands) is queued for the replica's ACK when the command is
 * REPLCONF GETACK. */
void resp_session_master_command(resp_session_t *s, resp_req_t *req, const resp_cmd_t *cmd,
                                 size_t msg_len, resp_verdict_t *v);

/* Where the master's stream on this connection starts, learnt elsewhere (Redis 8: the RDB
 * channel's +FULLRESYNC): makes the replica's ACKs' lag known. */
void resp_session_stream_base(resp_session_t *s, uint64_t offset);

/* Bytes of the stream were lost before the caller's position frame; gap is storage for a
 * marker that makes replies to lost requests unmatched (used when needed). */
void resp_session_gap(resp_session_t *s, int to_server, resp_req_t *gap, uint32_t frame);

/* RDB_WAIT: a line "$<len>" or "$EOF:<mark>" (content without "$" and CRLF) starts the
 * snapshot: returns 1. Valkey's "$ENDOFF:..." preamble (dual-channel replication) returns 2:
 * the snapshot's line is still to come. Returns 0 when the line is none of these (the caller
 * shows it as what it parses as). The request it answers (SYNC) is returned in *answers. */
int resp_session_rdb_start(resp_session_t *s, const uint8_t *line, size_t len,
                           resp_req_t **answers);

/* RDB: n bytes of the stream; returns how many belong to the snapshot (all, or up to its
 * end, after which the server state is REPL_STREAM). p NULL: n bytes the capture left out. */
size_t resp_session_rdb_feed(resp_session_t *s, const uint8_t *p, size_t n);

/* The snapshot's payload bytes (framing and EOF mark excluded): declared, or once done. */
int resp_rdb_length(const resp_rdb_t *r, uint64_t *len);
/* Its format version from the header ("REDIS0011": 11), -1 while unknown. */
int resp_rdb_version(const resp_rdb_t *r);

#endif
